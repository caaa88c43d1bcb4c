@testable import FaceModel
import Foundation
@testable import Pipelines
import Torch
import XCTest

/// The composite's building blocks at the photo's own resolution (issue #21).
final class CompositingTests: XCTestCase {
    /// The separable window filters are the square ones: max of maxes, mean of means.
    /// The detail layer: zero on a flat picture, the picture less its local mean elsewhere, clamped to ± the limit.
    func testTheDetailLayerIsTheClampedFineTexture() throws {
        let n = 16
        let flat = try Compositing.detailLayer(Tensor.ones([1, 3, n, n]) * 0.3, radius: 2).floats()
        XCTAssertLessThan(flat.map(abs).max() ?? 1, 1e-6)
        // A single bright pixel on black: 1.92 above its window's mean (−23/25) before clamping, clamped to the limit.
        var dot = [Float](repeating: -1, count: n * n)
        dot[8 * n + 8] = 1
        let layer = try Compositing.detailLayer(Tensor(dot, shape: [1, 1, n, n]), radius: 2, limit: 0.06).floats()
        XCTAssertEqual(layer[8 * n + 8], 0.06, accuracy: 1e-6)
        XCTAssertEqual(layer[0], 0, accuracy: 1e-6, "far from the dot the layer is zero")
        XCTAssertEqual(layer[8 * n + 9], -0.06, accuracy: 1e-6, "beside it the mean is above the pixel: −2/25, clamped")
    }

    func testSeparableFiltersEqualTheSquareWindows() throws {
        Torch.manualSeed(3)
        let x = try Tensor.rand([2, 3, 37, 29]) * 2.0 - 1.0
        for radius in [1, 3, 6] {
            let padded = try F.pad(x, [radius, radius, radius, radius], mode: .replicate)
            let max2d = try F.maxPool2d(padded, kernel: 2 * radius + 1, stride: 1)
            let mean2d = try F.avgPool2d(padded, kernel: 2 * radius + 1, stride: 1)
            XCTAssertEqual(try Compositing.dilated(x, radius: radius).shape, x.shape)
            // A max picks one of the inputs whichever the order; a mean of at most 169 values in [-1, 1] in float32
            // differs by summation order, well under 1e-5.
            XCTAssertLessThan(try (Compositing.dilated(x, radius: radius) - max2d).abs().max().item(), 1e-7)
            XCTAssertLessThan(try (Compositing.boxFiltered(x, radius: radius) - mean2d).abs().max().item(), 1e-5)
        }
    }

    /// A hole in a side-lit face takes the light around it, not one average colour: the warped face is a ramp from dark
    /// (left) to bright (right) and the generator's fill a flat bright grey; inside the hole the composite follows the
    /// ramp. (The global colour match before issue #21 made the hole one flat patch: its left and right the same.)
    func testAHoleInASideLitFaceTakesTheLightAroundIt() throws {
        let renderer = try FaceRenderer.makeDefault()
        let rho = try Coefficients(Tensor.zeros([1, Coefficients.count]))
        let size = 128
        let identity = try FaceWarper(model: renderer.model).field(source: rho, target: rho, size: size)
        // A 24×16 hole in the middle of the face (the 3DMM face covers the crop's centre).
        var hole = [Float](repeating: 1, count: size * size)
        for y in 60..<76 { for x in 52..<76 { hole[y * size + x] = 0 } }
        let field = FaceWarpField(size: size, sourcePoints: identity.sourcePoints, valid: try Tensor(hole, shape: [1, 1, size, size]) * identity.face,
                                  face: identity.face, mouth: try Tensor.zeros([1, 1, size, size]), inner: identity.inner)
        XCTAssertEqual(try (field.face * (1.0 - field.valid)).sum().item(), 24 * 16, "the hole lies in the face")
        let ramp = try Tensor.linspace(-0.8, 0.6, steps: size).reshape([1, 1, 1, size]).expand([1, 3, size, size]).contiguous()
        let generated = try Tensor.full([1, 3, size, size], 0.5)
        let out = try WarpCompositor.reenactment(generated: generated, warped: ramp, field: field)
        let row = try out.select(0, 0).select(0, 0).select(0, 68).floats(), truth = try ramp.select(0, 0).select(0, 0).select(0, 68).floats()
        let left = (54..<58).map { row[$0] }.reduce(0, +) / 4, right = (70..<74).map { row[$0] }.reduce(0, +) / 4
        let step = truth[1] - truth[0]
        // The ramp rises 16 steps (0.18) from the hole's left quarter to its right one; the fill keeps most of that.
        XCTAssertGreaterThan(right - left, 0.6 * 16 * step, "the fill is brighter on the lit side")
        for x in 54..<74 { XCTAssertEqual(row[x], truth[x], accuracy: 0.08, "the fill at x \(x) follows the light around the hole") }
    }
}
