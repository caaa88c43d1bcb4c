import Torch
import Foundation

/// Options of the renderer R(S, T, γ, p) (paper Eq. 8).
public struct RenderOptions: Sendable {
    /// Value of background pixels in the [-1, 1] image (−1: black, the Deep3DFaceRecon look).
    public var background: Double = -1
    /// Rotate the eyeballs by the gaze ω. Off by default: the paper's rendered face carries no gaze
    /// (Sec. 4.3: "the gaze direction not included in the rendered face"); ω reaches TGDM through AdaIN.
    public var renderGaze: Bool = false

    public init(background: Double = -1, renderGaze: Bool = false) {
        self.background = background
        self.renderGaze = renderGaze
    }
}

/// Everything one render produces.
public struct RenderOutput {
    /// N×3×H×W colours in [-1, 1] (pixels outside the face hold `RenderOptions.background`).
    public let image: Tensor
    /// N×1×H×W, 1 where the face covers the pixel.
    public let mask: Tensor
    /// N×68×2 projected landmarks in pixel coordinates (x right, y down; see `Camera`).
    public let landmarks: Tensor
    /// Camera-space vertices N×V×3 after pose (before projection).
    public let vertices: Tensor
    /// Projected vertices N×V×2 in pixels.
    public let projected: Tensor
    /// Lit vertex colours N×V×3 (shading ⊙ albedo, before clamping).
    public let colors: Tensor
    /// Visibility per batch element (reusable: see `FaceRenderer.render(_:width:height:camera:rasterizations:)`).
    public let rasterizations: [Rasterization]
}

/// The differentiable face renderer: coefficients → shape and albedo (Eq. 7) → pose, perspective
/// camera, SH lighting → image (Eq. 8).
///
/// Visibility comes from the CPU `Rasterizer` (no gradient). For every covered pixel the renderer then
/// gathers the three vertices of its triangle and recomputes perspective-correct barycentric weights
/// in Torch from the projected vertex positions, so the image is differentiable with respect to
/// identity, expression, texture, illumination and pose (and gaze when rendered). Like rasterizers
/// without anti-aliasing, it has no gradient for pixels that change coverage at silhouettes.
public final class FaceRenderer: @unchecked Sendable {
    public let model: MorphableModel
    public var options: RenderOptions
    private let corners: [Tensor]   // the three vertex columns of the triangle list

    public init(model: MorphableModel, options: RenderOptions = RenderOptions()) throws {
        self.model = model
        self.options = options
        corners = try (0..<3).map { try model.triangles.select(1, $0).contiguous() }
    }

    /// A renderer for the default morphable model.
    public static func makeDefault(options: RenderOptions = RenderOptions()) throws -> FaceRenderer {
        try FaceRenderer(model: MorphableModel.loadDefault(), options: options)
    }

    public static let sizeRange = 8...4096

    /// Renders N faces at `size`×`size`: image N×3×H×W in [-1, 1] and mask N×1×H×W.
    public func render(coefficients: Coefficients, size: Int) throws -> (image: Tensor, mask: Tensor) {
        let out = try render(coefficients, width: size, height: size)
        return (out.image, out.mask)
    }

    /// Projected 68 landmarks N×68×2 (pixels) for a `size`×`size` Deep3DFaceRecon camera.
    public func landmarks(coefficients: Coefficients, size: Int) throws -> Tensor {
        let geo = try geometry(coefficients, camera: .deep3DFaceRecon(size: size))
        return try geo.projected.indexSelect(1, model.landmarkIndices)
    }

    /// Posed geometry and colours without rasterizing.
    public func geometry(_ coefficients: Coefficients, camera: Camera) throws
        -> (vertices: Tensor, projected: Tensor, depth: Tensor, colors: Tensor) {
        let c = coefficients
        var shape = try model.shape(identity: c.identity, expression: c.expression)
        if options.renderGaze, let left = model.leftEyeVertices, let right = model.rightEyeVertices {
            let g = try c.gaze
            shape = try rotateEye(shape, vertices: left, gaze: g.narrow(1, 0, 2))
            shape = try rotateEye(shape, vertices: right, gaze: g.narrow(1, 2, 2))
        }
        let normals = try vertexNormals(shape)
        let rotation = try Pose.rotationMatrix(c.angles)
        let posed = try Pose.apply(shape, rotation: rotation, translation: c.translation)
        let rotatedNormals = try normals.matmul(rotation.transpose(1, 2))
        let albedo = try model.texture(c.texture)
        let colors = try SphericalHarmonics.shading(normals: rotatedNormals, gamma: c.illumination) * albedo
        let (projected, depth) = try camera.project(posed)
        return (posed, projected, depth, colors)
    }

    /// Full render. Pass `rasterizations` from an earlier output to keep visibility fixed (used by
    /// gradient checks and by fitting); by default visibility is computed from the current geometry.
    public func render(_ coefficients: Coefficients, width: Int, height: Int, camera: Camera? = nil,
                       rasterizations: [Rasterization]? = nil) throws -> RenderOutput {
        guard FaceRenderer.sizeRange.contains(width), FaceRenderer.sizeRange.contains(height) else {
            throw FaceModelError.invalidArgument("render size \(width)×\(height) outside \(FaceRenderer.sizeRange)")
        }
        let cam = camera ?? .deep3DFaceRecon(width: width, height: height)
        let n = coefficients.batch
        let v = model.vertexCount
        let geo = try geometry(coefficients, camera: cam)

        let rasters: [Rasterization]
        if let given = rasterizations {
            guard given.count == n, given.allSatisfy({ $0.width == width && $0.height == height }) else {
                throw FaceModelError.invalidArgument("need \(n) rasterizations of \(width)×\(height)")
            }
            rasters = given
        } else {
            let px = try geo.projected.detach().contiguous().floats()
            let dz = try geo.depth.detach().contiguous().floats()
            rasters = try (0..<n).map { b in
                try Rasterizer.rasterize(pixels: Array(px[(b * v * 2)..<((b + 1) * v * 2)]),
                                         depth: Array(dz[(b * v)..<((b + 1) * v)]),
                                         triangles: model.triangleIndices, width: width, height: height)
            }
        }

        // Covered pixels, their triangle corners (offset into the flattened batch) and pixel centres.
        let plane = width * height
        let covered = rasters.reduce(0) { $0 + $1.coveredPixelCount }
        var pixelIndex = [Int64](repeating: 0, count: covered)
        var cornerIndex = [Int64](repeating: 0, count: 3 * covered)
        var centres = [Float](repeating: 0, count: 2 * covered)
        var maskValues = [Float](repeating: 0, count: n * plane)
        model.triangleIndices.withUnsafeBufferPointer { tri in
            pixelIndex.withUnsafeMutableBufferPointer { pix in
                cornerIndex.withUnsafeMutableBufferPointer { cor in
                    centres.withUnsafeMutableBufferPointer { cen in
                        maskValues.withUnsafeMutableBufferPointer { msk in
                            var m = 0
                            for (b, r) in rasters.enumerated() {
                                r.triangleIds.withUnsafeBufferPointer { ids in
                                    for p in 0..<plane {
                                        let t = Int(ids[p])
                                        if t < 0 { continue }
                                        let flat = b * plane + p
                                        pix[m] = Int64(flat)
                                        msk[flat] = 1
                                        for k in 0..<3 { cor[3 * m + k] = Int64(b * v) + Int64(tri[3 * t + k]) }
                                        cen[2 * m] = Float(p % width) + 0.5
                                        cen[2 * m + 1] = Float(p / width) + 0.5
                                        m += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let total = n * width * height
        let mask = try Tensor(maskValues, shape: [total, 1])
        var flatImage = try Tensor.zeros([total, 3])
        if !pixelIndex.isEmpty {
            let m = pixelIndex.count
            let cornerT = try Tensor(cornerIndex)
            let pts = try geo.projected.reshape([n * v, 2]).indexSelect(0, cornerT).reshape([m, 3, 2])
            let dep = try geo.depth.reshape([n * v]).indexSelect(0, cornerT).reshape([m, 3])
            let col = try geo.colors.reshape([n * v, 3]).indexSelect(0, cornerT).reshape([m, 3, 3])
            let q = try Tensor(centres, shape: [m, 2])
            let weights = try perspectiveBarycentrics(points: pts, depth: dep, at: q)   // m×3
            let shaded = try (weights.unsqueeze(2) * col).sum(dim: 1)                    // m×3
            flatImage = try flatImage.indexAdd(0, Tensor(pixelIndex), shaded)
        }
        let unit = try flatImage.clamp(min: 0, max: 1) * 2.0 - 1.0
        let composed = try unit * mask + (1.0 - mask) * options.background
        let image = try composed.reshape([n, height, width, 3]).permute(0, 3, 1, 2).contiguous()
        let maskImage = try mask.reshape([n, 1, height, width])
        let landmarks = try geo.projected.indexSelect(1, model.landmarkIndices)
        return RenderOutput(image: image, mask: maskImage, landmarks: landmarks, vertices: geo.vertices,
                            projected: geo.projected, colors: geo.colors, rasterizations: rasters)
    }

    /// Screen-space barycentrics of points q (m×2) in triangles (m×3×2), corrected for perspective with
    /// the corner depths (m×3): w_i ∝ λ_i / d_i, normalised to sum to 1.
    func perspectiveBarycentrics(points: Tensor, depth: Tensor, at q: Tensor) throws -> Tensor {
        let a = try points.select(1, 0), b = try points.select(1, 1), c = try points.select(1, 2)
        let ax = try a.select(1, 0), ay = try a.select(1, 1)
        let bx = try b.select(1, 0) - ax, by = try b.select(1, 1) - ay
        let cx = try c.select(1, 0) - ax, cy = try c.select(1, 1) - ay
        let qx = try q.select(1, 0) - ax, qy = try q.select(1, 1) - ay
        let det = try bx * cy - cx * by
        let l1 = try (qx * cy - cx * qy) / det
        let l2 = try (bx * qy - qx * by) / det
        let l0 = try 1.0 - l1 - l2
        let lam = try Tensor.stack([l0, l1, l2], dim: 1) / depth
        return try lam / lam.sum(dim: 1, keepDim: true)
    }

    /// Area-independent vertex normals (the mean of the unit normals of the adjacent triangles, as in
    /// Deep3DFaceRecon), N×V×3, for counter-clockwise triangles.
    public func vertexNormals(_ shape: Tensor) throws -> Tensor {
        let v0 = try shape.indexSelect(1, corners[0]), v1 = try shape.indexSelect(1, corners[1])
        let v2 = try shape.indexSelect(1, corners[2])
        let face = try (v1 - v0).cross(v2 - v0, dim: -1)
        let unit = try face / face.norm(p: 2, [-1], keepDim: true).clamp(min: 1e-12)
        var acc = try Tensor.zeros(shape.shape)
        for k in 0..<3 { acc = try acc.indexAdd(1, corners[k], unit) }
        return try acc / acc.norm(p: 2, [-1], keepDim: true).clamp(min: 1e-12)
    }

    /// Rotates one eyeball about its centre so that its forward axis (+z) points along the unit vector
    /// (x, y, √(1 − x² − y²)) given by the gaze pair (N×2).
    func rotateEye(_ shape: Tensor, vertices: Tensor, gaze: Tensor) throws -> Tensor {
        let eye = try shape.indexSelect(1, vertices)                     // N×k×3
        let centre = try eye.mean(dim: 1, keepDim: true)
        let x = try gaze.select(1, 0).clamp(min: -0.95, max: 0.95)
        let y = try gaze.select(1, 1).clamp(min: -0.95, max: 0.95)
        let z = try (1.0 - x.square() - y.square()).clamp(min: 0.05).sqrt()
        let pitch = try -(y.asin())
        let yaw = try x.atan2(z)
        let rotation = try Pose.rotationMatrix(Tensor.stack([pitch, yaw, pitch * 0.0], dim: 1))
        let moved = try (eye - centre).matmul(rotation.transpose(1, 2)) + centre
        return try shape.indexAdd(1, vertices, moved - eye)
    }
}
