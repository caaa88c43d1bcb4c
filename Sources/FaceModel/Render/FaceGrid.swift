import Torch
import Foundation

/// Grids of rendered faces for looking at the model: expression modes × amplitudes, or random faces.
public enum FaceGrid {
    /// Renders one face per (component, amplitude): row r is expression component `components[r]`,
    /// column c sets it to `amplitudes[c]` on top of `base` (default: the mean face, frontal light).
    /// Returns (rows·columns)×3×size×size in row-major order.
    public static func expressionGrid(renderer: FaceRenderer, components: [Int], amplitudes: [Double],
                                      base: Coefficients? = nil, size: Int = 128) throws -> Tensor {
        guard !components.isEmpty, !amplitudes.isEmpty else { throw FaceModelError.invalidArgument("empty grid") }
        guard components.allSatisfy({ (0..<Coefficients.expressionCount).contains($0) }) else {
            throw FaceModelError.invalidArgument("expression components must be in 0..<\(Coefficients.expressionCount), got \(components)")
        }
        let start = try base ?? defaultBase()
        guard start.batch == 1 else { throw FaceModelError.invalidArgument("the base must be one face") }
        var rows = [Float]()
        let template = try start.tensor.floats()
        for comp in components {
            for amp in amplitudes {
                var r = template
                r[CoefficientPart.expression.range.lowerBound + comp] += Float(amp)
                rows += r
            }
        }
        let all = try Coefficients(Tensor(rows, shape: [components.count * amplitudes.count, Coefficients.count]))
        return try renderer.render(coefficients: all, size: size).image
    }

    /// Random faces: α, δ ~ N(0, σ²), a few random expression units in [0, 0.8], small random head
    /// pose and the frontal preview light. Returns the coefficients and the N×3×size×size images.
    public static func randomFaces(renderer: FaceRenderer, count: Int, seed: UInt64, size: Int = 128,
                                   identityScale: Double = 0.8, textureScale: Double = 0.8) throws
        -> (coefficients: Coefficients, images: Tensor) {
        guard count > 0, count <= 4096 else { throw FaceModelError.invalidArgument("count must be in 1...4096, got \(count)") }
        let g = Generator(seed: seed)
        let alpha = try Tensor.randn([count, 80], generator: g) * identityScale
        let delta = try Tensor.randn([count, 80], generator: g) * textureScale
        // Sparse expressions: each unit is on with probability 0.08.
        let on = try Tensor.rand([count, 64], generator: g).lt(0.08).to(.float32)
        let beta = try Tensor.rand([count, 64], generator: g) * 0.8 * on
        let angles = try (Tensor.rand([count, 3], generator: g) - 0.5) * Tensor([0.3, 0.6, 0.2] as [Float])
        let pose = try Tensor.cat([angles, Tensor.zeros([count, 3])], dim: 1)
        let light = try Tensor(SphericalHarmonics.frontalLight()).unsqueeze(0).expand([count, 27])
        let c = try Coefficients(identity: alpha, expression: beta, texture: delta, illumination: light, pose: pose)
        return (c, try renderer.render(coefficients: c, size: size).image)
    }

    /// Tiles K×3×H×W images into one 3×H'×W' image with `columns` per row and `padding` pixels of
    /// `padValue` between and around them.
    public static func tile(_ images: Tensor, columns: Int, padding: Int = 2, padValue: Double = -1) throws -> Tensor {
        guard images.rank == 4, images.size(1) == 3 else { throw FaceModelError.invalidArgument("tile needs K×3×H×W, got \(images.shape)") }
        guard columns > 0, padding >= 0 else { throw FaceModelError.invalidArgument("bad columns/padding") }
        let k = images.size(0), h = images.size(2), w = images.size(3)
        let rows = (k + columns - 1) / columns
        var rowImages: [Tensor] = []
        for r in 0..<rows {
            var cells: [Tensor] = []
            for c in 0..<columns {
                let i = r * columns + c
                let cell = i < k ? try images.select(0, i) : try Tensor.full([3, h, w], padValue)
                cells.append(try F.pad(cell, [padding, c == columns - 1 ? padding : 0, padding, r == rows - 1 ? padding : 0],
                                       value: padValue))
            }
            rowImages.append(try Tensor.cat(cells, dim: 2))
        }
        return try Tensor.cat(rowImages, dim: 1)
    }

    static func defaultBase() throws -> Coefficients {
        try Coefficients(illumination: Tensor(SphericalHarmonics.frontalLight()))
    }
}
