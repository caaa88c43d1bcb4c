import Foundation
import Torch

/// A dense backward correspondence from target pixels to source pixels, derived from two sets of 3DMM
/// coefficients (issue #10, in the spirit of PIRenderer's 3DMM-guided flow): for each target frame ρ̂ and the
/// source ρ_s, where in the source crop every pixel of the target crop comes from, and whether that source
/// point can be trusted.
public struct FaceWarpField {
    /// Side of the (square) crops the field is expressed in.
    public let size: Int
    /// N×S×S×2: the source point (x, y) of every target pixel, in source crop pixels (pixel edges at integers).
    public let sourcePoints: Tensor
    /// N×1×S×S: 1 where the warped source is trustworthy; 0 where the target shows something the source does
    /// not (a surface hidden in the source: mouth interior behind closed lips, the far cheek; background the head
    /// covered in the source; points outside the source crop).
    public let valid: Tensor
    /// N×1×S×S: 1 where the target face (the rendered ρ̂) covers the pixel.
    public let face: Tensor
    /// N×1×S×S: the target's mouth interior (teeth, tongue, cavity).
    public let mouth: Tensor
    /// N×1×S×S: the inner face — the face below the brows (the forehead often hides under hair or a hat, so a
    /// face swap takes only this part from the identity).
    public let inner: Tensor
    /// The closing eyelids (`EyelidMap.lidSource`), nil when no lid closes.
    public var lids: ClosingLids? = nil

    /// What `warp` does over closing lids besides moving pixels: their light and their fine texture.
    public struct ClosingLids {
        /// N×S×S×2 like `sourcePoints`: where each lid pixel's stretched skin comes from.
        public var points: Tensor
        /// N×S×S×2: where each lid pixel's fine texture (detail layer) comes from.
        public var detailPoints: Tensor
        /// N×2×S×S: the lid's weight (0 outside every closing lid) and the part of it that is stretched skin rather than
        /// the lash line.
        public var weights: Tensor
        var lid: Tensor { get throws { try weights.narrow(1, 0, 1) } }
        var skin: Tensor { get throws { try weights.narrow(1, 1, 1) } }
    }

    public var batch: Int { sourcePoints.size(0) }

    /// The `grid` of `F.gridSample` (normalised to [-1, 1], align_corners = false): resolution independent,
    /// so a source image of any size can be sampled with it.
    public func samplingGrid() throws -> Tensor { try sourcePoints * (2.0 / Double(size)) - 1.0 }

    /// Warps `source` (1×C×h×w or N×C×h×w, the source crop at any resolution) to N×C×S×S. With `detail` (the source's
    /// fine texture at the same resolution: the pipeline's `Compositing.detailLayer`), closing lids get the grain of
    /// the skin that `lids.detailPoints` points at on top of their stretched skin.
    public func warp(_ source: Tensor, detail: Tensor? = nil) throws -> Tensor {
        func batched(_ x: Tensor) throws -> Tensor { x.size(0) == batch ? x : try x.expand([batch] + x.shape.dropFirst()) }
        let warped = try F.gridSample(batched(source), grid: samplingGrid(), padding: .border)
        guard let lids else { return warped }
        // Blended with the 3DMM correspondence in colour, not in position: between two maps that point at different
        // places, a blend of positions sweeps over what lies between them and shows it squeezed (a dark line around
        // the top of the lid).
        func sampled(_ x: Tensor, _ points: Tensor) throws -> Tensor {
            try F.gridSample(batched(x), grid: points * (2.0 / Double(size)) - 1.0, padding: .border)
        }
        let lid = try lids.lid
        let blended = try warped * (1.0 - lid) + sampled(source, lids.points) * lid
        var out = try Self.harmonisedLids(blended, lid: lid, skin: lids.skin, scale: max(2, size / 48))
        if let detail {
            // Bilinear: nearest sampling keeps more of the finest grain (lid texture fails 24 → 22 of 32 on the
            // expression set) but makes the iris model read more closed lids as open (EAR fails 6 → 11).
            out = try out + sampled(detail, lids.detailPoints) * lid
        }
        return out
    }

    /// `warped` with the light of each closing lid (`lid` > 0, N×1×S×S) taken from the skin around it: the low
    /// frequencies of its stretched skin (blocks of `scale` pixels, weighted by `skin`) are replaced by those of a smooth
    /// fill of the lid from the pixels around it (push-pull). The stretched skin comes from the narrow band just above
    /// the lashes, which is lit differently from the rest of the socket (on the astronaut, lighter and pinker):
    /// stretched over the whole eye it showed as a light oval with an outline, a lid stuck on. What stays of it is its
    /// detail and lash line.
    static func harmonisedLids(_ warped: Tensor, lid: Tensor, skin weight: Tensor, scale: Int) throws -> Tensor {
        let h = warped.size(2), w = warped.size(3), blocks = (max(1, h / scale), max(1, w / scale))
        func low(_ x: Tensor) throws -> Tensor {
            let num = try F.interpolate(F.adaptiveAvgPool2d(x * weight, blocks), size: (h, w), mode: .bilinear(alignCorners: false))
            let den = try F.interpolate(F.adaptiveAvgPool2d(weight, blocks), size: (h, w), mode: .bilinear(alignCorners: false))
            return try num / (den + 1e-4)
        }
        // The fill reads skin only: pixels around the lid darker than 0.6 of the lid skin's mean luminance are lashes,
        // the eye's corner or a glasses rim (on Grace Hopper a rim just above the lid made the whole lid grey).
        let luminance = try warped.mean([1], keepDim: true) + 1.0
        let lidLuminance = try (luminance * weight).sum([1, 2, 3], keepDim: true) / (weight.sum([1, 2, 3], keepDim: true) + 1e-4)
        let skinAround = try (1.0 - lid.gt(0).to(.float32)) * luminance.gt(lidLuminance * 0.6).to(.float32)
        let around = try PushPull.fill(warped, known: skinAround)
        return try warped + (low(around) - low(warped)) * weight
    }

    /// What a warp-input generator reads (`TGDMConfig.sourceWarp`): `source` warped, with the validity mask as a
    /// fourth channel, N×4×S×S.
    public func generatorInput(_ source: Tensor) throws -> Tensor { try Tensor.cat([warp(source), valid], dim: 1) }

    /// The field at another resolution (points rescaled, masks resampled).
    public func resized(to newSize: Int) throws -> FaceWarpField {
        guard newSize != size else { return self }
        func moved(_ p: Tensor) throws -> Tensor {
            try F.interpolate(p.permute(0, 3, 1, 2), size: (newSize, newSize), mode: .bilinear(alignCorners: false))
                .permute(0, 2, 3, 1).contiguous() * (Double(newSize) / Double(size))
        }
        let points = try moved(sourcePoints)
        func mask(_ m: Tensor) throws -> Tensor {
            try F.interpolate(m, size: (newSize, newSize), mode: .bilinear(alignCorners: false)).gt(0.5).to(.float32)
        }
        var lid: ClosingLids? = nil
        if let d = lids {
            lid = ClosingLids(points: try moved(d.points), detailPoints: try moved(d.detailPoints),
                              weights: try F.interpolate(d.weights, size: (newSize, newSize), mode: .bilinear(alignCorners: false)))
        }
        return FaceWarpField(size: newSize, sourcePoints: points, valid: try mask(valid), face: try mask(face), mouth: try mask(mouth),
                             inner: try mask(inner), lids: lid)
    }

    /// The field seen from other squares of the same pictures, `newSize` pixels a side (issue #21: the field is
    /// rasterized at a working size in ρ's crop and evaluated at the photo's own pixels). `target` takes a pixel
    /// coordinate of the new target square to this field's target pixels; `source` takes this field's source points
    /// to the new source square's pixels. The map is smooth inside the face, so bilinear sampling of it loses
    /// nothing that the rasterization knew; masks are resampled and thresholded.
    public func reframed(size newSize: Int, target: SquareMapping, source: SquareMapping) throws -> FaceWarpField {
        guard newSize > 0 else { throw FaceModelError.invalidArgument("field size must be positive, got \(newSize)") }
        if target == .scaling(Double(size) / Double(newSize)), source == .scaling(Double(newSize) / Double(size)) {
            return try resized(to: newSize)
        }
        return try Torch.noGrad {
            let grid = try target.samplingGrid(size: newSize, from: size, batch: batch)
            func sample(_ x: Tensor) throws -> Tensor { try F.gridSample(x, grid: grid, padding: .border) }
            func mask(_ m: Tensor) throws -> Tensor { try sample(m).gt(0.5).to(.float32) }
            let offset = try Tensor([Float(source.offsetX), Float(source.offsetY)], shape: [1, 1, 1, 2])
            func moved(_ points: Tensor) throws -> Tensor {
                try (sample(points.permute(0, 3, 1, 2)).permute(0, 2, 3, 1) * source.scale + offset).contiguous()
            }
            let lid = try lids.map { ClosingLids(points: try moved($0.points), detailPoints: try moved($0.detailPoints), weights: try sample($0.weights)) }
            return FaceWarpField(size: newSize, sourcePoints: try moved(sourcePoints), valid: try mask(valid), face: try mask(face),
                                 mouth: try mask(mouth), inner: try mask(inner), lids: lid)
        }
    }
}

/// Where the pixels of one square of a picture lie in another square of the same picture: pixel coordinate x
/// (pixel edges at integers) becomes `scale`·x + offset.
public struct SquareMapping: Sendable, Equatable {
    public var scale: Double
    public var offsetX: Double
    public var offsetY: Double

    public init(scale: Double, offsetX: Double, offsetY: Double) {
        self.scale = scale
        self.offsetX = offsetX
        self.offsetY = offsetY
    }

    /// A change of resolution only.
    public static func scaling(_ scale: Double) -> SquareMapping { SquareMapping(scale: scale, offsetX: 0, offsetY: 0) }

    public func apply(x: Double, y: Double) -> (x: Double, y: Double) { (scale * x + offsetX, scale * y + offsetY) }

    /// The `F.gridSample` grid (align_corners = false), batch×size×size×2, that resamples a `from`×`from` square into a
    /// `size`×`size` one whose pixel coordinates this mapping takes into the first's.
    public func samplingGrid(size: Int, from: Int, batch: Int = 1) throws -> Tensor {
        try Torch.noGrad {
            let centres = try Tensor.arange(0.5, Double(size) + 0.5)
            let norm = 2.0 / Double(from)
            let gx = try (centres * scale + offsetX) * norm - 1.0, gy = try (centres * scale + offsetY) * norm - 1.0
            return try Tensor.stack([gx.reshape([1, size]).expand([size, size]), gy.reshape([size, 1]).expand([size, size])], dim: -1)
                .unsqueeze(0).expand([batch, size, size, 2]).contiguous()
        }
    }
}

/// Computes `FaceWarpField`s from coefficients with the morphable model.
///
/// Inside the target face, every pixel's surface point is found by rasterizing ρ̂ (triangle + perspective-correct
/// barycentrics); the same triangle and barycentrics on the source mesh (ρ_s, posed) give the 3-D source point,
/// projected into the source crop. The source z-buffer decides visibility. Outside the face (hair, ears, neck,
/// background), the motion is extrapolated: the head's rigid motion on a plane through the head, plus the face's
/// non-rigid residual spread smoothly outwards, both fading to zero with the distance from the face so the
/// background stays still. The camera is the renderer's (Deep3DFaceRecon, scaled to the crop).
public final class FaceWarper: @unchecked Sendable {
    public let model: MorphableModel
    let renderer: FaceRenderer
    /// Triangles of the mouth interior (teeth, tongue, cavity: neither skin nor eyeball).
    let mouthTriangles: [Bool]
    /// Vertex indices of the 68 iBUG landmarks (eyelids are remapped from their projections).
    let landmarkVertices: [Int]
    /// Triangles of the forehead: above the brows (iBUG landmarks 17–26) on the mean face, by more than 5% of the
    /// brow-to-chin height.
    let foreheadTriangles: [Bool]

    public struct Options: Sendable {
        /// Depth tolerance of the visibility test, in model units (decimetres for the default model).
        public var depthTolerance: Float = 0.06
        /// Outside the face the motion fades from full to zero between these distances (fractions of the side).
        public var fadeStart = 0.06
        public var fadeEnd = 0.22
        /// The face's non-rigid residual decays with this length (fraction of the side; longer where the residual is
        /// large) outside the face.
        public var residualDecay = 0.06
        /// Just outside the face the residual is the edge's own, handing over to a wider mean with this length.
        public var edgeContinuity = 0.03
        /// A target triangle whose source image is smaller than this fraction of its own area is not valid: the
        /// source shows that surface folded away (an eyelid of an open eye, which a blink unfolds over the eye;
        /// lips pressed together), and stretching the few source pixels — eyelashes, the lip line — over it
        /// paints a dark smear. The generator fills it instead.
        public var minAreaRatio: Float = 0.12
        /// A closing eyelid takes the source's own lid skin, stretched (`EyelidMap`); off, it follows the 3DMM and
        /// is not valid where that points into the real eye (the generator fills it).
        public var stretchEyelids = true
        public init() {}
    }
    public var options = Options()

    public init(model: MorphableModel) throws {
        self.model = model
        // Gaze on: the eyeballs turn with ω in both meshes, so the source's own iris and sclera follow the gaze.
        renderer = try FaceRenderer(model: model, options: RenderOptions(background: -1, renderGaze: true))
        var interior = [Bool](repeating: false, count: model.vertexCount)
        if let skin = model.skinMask {
            let s = try skin.floats()
            var eyes = Set<Int>()
            for e in [model.leftEyeVertices, model.rightEyeVertices].compactMap({ $0 }) { eyes.formUnion(try e.toArray(Int64.self).map { Int($0) }) }
            for v in 0..<model.vertexCount where s[v] < 0.5 && !eyes.contains(v) { interior[v] = true }
        }
        let tri = model.triangleIndices
        mouthTriangles = (0..<(tri.count / 3)).map { t in (0..<3).contains { interior[Int(tri[3 * t + $0])] } }
        let mean = try model.meanShape.floats(), landmarks = try model.landmarkIndices.toArray(Int64.self).map { Int($0) }
        landmarkVertices = landmarks
        let browY = (17...26).map { mean[3 * landmarks[$0] + 1] }.reduce(0, +) / 10, chinY = mean[3 * landmarks[8] + 1]
        let limit = browY + 0.05 * (browY - chinY)
        foreheadTriangles = (0..<(tri.count / 3)).map { t in (0..<3).contains { mean[3 * Int(tri[3 * t + $0]) + 1] > limit } }
    }

    /// The source side of a warp, prepared once per job: its posed mesh and its z-buffer at one size.
    public struct Source: @unchecked Sendable {
        public let size: Int
        let vertices: [Float]
        let raster: Rasterization
        let pose: [Float]
        /// Its eyes (frames and lid curves) for the eyelids (`EyelidMap`).
        let eyes: [EyelidMap.Eye?]
        /// Projected area of every triangle in the source crop (pixels²).
        let triangleAreas: [Float]
    }

    /// Luminance in [0, 1] of a 1×3×h×w image in [-1, 1], resampled to size², row-major.
    func luminance(_ image: Tensor, size: Int) throws -> [Float] {
        try Torch.noGrad {
            let resized = image.size(2) == size && image.size(3) == size ? image
                : try F.interpolate(image, size: (size, size), mode: .bilinear(alignCorners: false))
            return try ((resized.select(0, 0).mean([0]) + 1.0) * 0.5).contiguous().floats()
        }
    }

    /// The landmarks among N = 1 projected vertices (x, y interleaved).
    func landmarkPoints(_ q: [Float]) -> [Float] { landmarkVertices.flatMap { [q[2 * $0], q[2 * $0 + 1]] } }

    /// Projected areas of the model's triangles, from N = 1 projected vertices (x, y interleaved).
    func triangleAreas(_ q: [Float]) -> [Float] {
        let tri = model.triangleIndices
        return (0..<(tri.count / 3)).map { t in
            let i0 = Int(tri[3 * t]), i1 = Int(tri[3 * t + 1]), i2 = Int(tri[3 * t + 2])
            return abs((q[2 * i1] - q[2 * i0]) * (q[2 * i2 + 1] - q[2 * i0 + 1]) - (q[2 * i2] - q[2 * i0]) * (q[2 * i1 + 1] - q[2 * i0 + 1])) / 2
        }
    }

    /// `image`: the source crop (1×3×h×w in [-1, 1], any size), so that closing lids start at the photo's own lash line
    /// rather than the fitted model's.
    public func prepare(source: Coefficients, size: Int, image: Tensor? = nil) throws -> Source {
        guard FaceRenderer.sizeRange.contains(size) else { throw FaceModelError.invalidArgument("warp size \(size) outside \(FaceRenderer.sizeRange)") }
        let src = try Torch.noGrad { try renderer.geometry(source.frame(0), camera: .deep3DFaceRecon(size: size)) }
        let projected = try src.projected.contiguous().floats()
        let raster = try Rasterizer.rasterize(pixels: projected, depth: src.depth.contiguous().floats(),
                                              triangles: model.triangleIndices, width: size, height: size)
        return Source(size: size, vertices: try src.vertices.contiguous().floats(), raster: raster, pose: try source.frame(0).pose.floats(),
                      eyes: EyelidMap.sourceEyes(landmarks: landmarkPoints(projected), luminance: try image.map { try luminance($0, size: size) },
                                                 size: size),
                      triangleAreas: triangleAreas(projected))
    }

    public func field(source: Coefficients, target: Coefficients, size: Int) throws -> FaceWarpField {
        try field(source: prepare(source: source, size: size), target: target)
    }

    public func field(source: Source, target: Coefficients) throws -> FaceWarpField {
        let size = source.size
        let camera = Camera.deep3DFaceRecon(size: size)
        let tgt = try Torch.noGrad { try renderer.geometry(target, camera: camera) }
        let v = model.vertexCount, n = target.batch, plane = size * size
        let sVert = source.vertices, sourceRaster = source.raster, sourcePose = source.pose
        let tPix = try tgt.projected.contiguous().floats(), tDepth = try tgt.depth.contiguous().floats()
        let targetPose = try target.pose.floats()

        var points = [Float](repeating: 0, count: n * plane * 2)
        var valid = [Float](repeating: 0, count: n * plane)
        var lidPoints = [Float](repeating: 0, count: n * plane * 2), detailPoints = [Float](repeating: 0, count: n * plane * 2)
        var lidWeights = [Float](repeating: 0, count: n * plane * 2)
        var anyLid = false
        var face = [Float](repeating: 0, count: n * plane)
        var mouth = [Float](repeating: 0, count: n * plane)
        var inner = [Float](repeating: 0, count: n * plane)
        let tri = model.triangleIndices
        let f = Float(camera.focal), cx = Float(camera.centerX), cy = Float(camera.centerY), dist = Float(camera.distance)
        for b in 0..<n {
            let px = Array(tPix[(b * v * 2)..<((b + 1) * v * 2)]), dz = Array(tDepth[(b * v)..<((b + 1) * v)])
            let raster = try Rasterizer.rasterize(pixels: px, depth: dz, triangles: tri, width: size, height: size)
            let targetAreas = triangleAreas(px)
            let folded = targetAreas.indices.map { source.triangleAreas[$0] < options.minAreaRatio * targetAreas[$0] }
            let lids = EyelidMap(sourceEyes: source.eyes, targetLandmarks: landmarkPoints(px))
            // Face pixels: the same surface point on the source mesh.
            var faceDisp = [Float](repeating: 0, count: plane * 2)
            var faceMask = [Bool](repeating: false, count: plane)
            for p in 0..<plane {
                let t = Int(raster.triangleIds[p])
                guard t >= 0 else { continue }
                let i0 = Int(tri[3 * t]), i1 = Int(tri[3 * t + 1]), i2 = Int(tri[3 * t + 2])
                let qx = Float(p % size) + 0.5, qy = Float(p / size) + 0.5
                let ax = px[2 * i0], ay = px[2 * i0 + 1], bx = px[2 * i1] - ax, by = px[2 * i1 + 1] - ay
                let ccx = px[2 * i2] - ax, ccy = px[2 * i2 + 1] - ay, rx = qx - ax, ry = qy - ay
                let det = bx * ccy - ccx * by
                guard abs(det) > 1e-12 else { continue }
                let l1 = (rx * ccy - ccx * ry) / det, l2 = (bx * ry - rx * by) / det, l0 = 1 - l1 - l2
                var w0 = l0 / dz[i0], w1 = l1 / dz[i1], w2 = l2 / dz[i2]
                let sum = w0 + w1 + w2
                w0 /= sum; w1 /= sum; w2 /= sum
                var X = [Float](repeating: 0, count: 3)
                for c in 0..<3 { X[c] = w0 * sVert[3 * i0 + c] + w1 * sVert[3 * i1 + c] + w2 * sVert[3 * i2 + c] }
                let d = dist - X[2]
                let point = SIMD2<Float>(cx + f * X[0] / d, cy - f * X[1] / d)
                let o = b * plane + p
                face[o] = 1
                if mouthTriangles[t] { mouth[o] = 1 }
                if !foreheadTriangles[t] { inner[o] = 1 }
                // Visible in the source: nothing nearer in the source z-buffer at that point.
                let sx = Int(point.x.rounded(.down)), sy = Int(point.y.rounded(.down))
                var ok = !folded[t] && sx >= 0 && sy >= 0 && sx < size && sy < size && d <= sourceRaster.depth[sy * size + sx] + options.depthTolerance
                let pixel = SIMD2<Float>(qx, qy)
                if options.stretchEyelids, let lid = lids.lidSource(pixel) {
                    // A closing lid: the source's lid skin, blended into the 3DMM correspondence at the crease
                    // (in colour, by `warp`).
                    ok = ok || lid.weight > 0
                    lidPoints[2 * o] = lid.point.x
                    lidPoints[2 * o + 1] = lid.point.y
                    detailPoints[2 * o] = lid.detail.x
                    detailPoints[2 * o + 1] = lid.detail.y
                    lidWeights[2 * b * plane + p] = lid.weight
                    lidWeights[(2 * b + 1) * plane + p] = lid.skin
                    anyLid = anyLid || lid.weight > 0
                } else if lids.inSourceOpening(point) && !lids.inTargetOpening(pixel) {
                    // Skin in the target that the 3DMM takes from the real eye: the lashes and iris would show on it.
                    ok = false
                }
                if ok { valid[o] = 1 }
                faceDisp[2 * p] = point.x - qx
                faceDisp[2 * p + 1] = point.y - qy
                faceMask[p] = true
            }
            // Outside the face: rigid head motion + the spread residual, fading with the distance from the face.
            let outside = try extrapolate(faceDisp: faceDisp, faceMask: faceMask, size: size, camera: camera,
                                          targetPose: Array(targetPose[(6 * b)..<(6 * b + 6)]), sourcePose: sourcePose)
            for p in 0..<plane {
                let qx = Float(p % size) + 0.5, qy = Float(p / size) + 0.5
                let dx = faceMask[p] ? faceDisp[2 * p] : outside[2 * p], dy = faceMask[p] ? faceDisp[2 * p + 1] : outside[2 * p + 1]
                let o = b * plane + p
                points[2 * o] = qx + dx
                points[2 * o + 1] = qy + dy
                if !faceMask[p] {
                    let sx = Int((qx + dx).rounded(.down)), sy = Int((qy + dy).rounded(.down))
                    let inside = sx >= 0 && sy >= 0 && sx < size && sy < size
                    // Background revealed behind the head: its source point lies on the source face.
                    valid[o] = inside && sourceRaster.triangleIds[sy * size + sx] < 0 ? 1 : 0
                }
            }
        }
        let lids = anyLid ? FaceWarpField.ClosingLids(points: try Tensor(lidPoints, shape: [n, size, size, 2]), detailPoints: try Tensor(detailPoints, shape: [n, size, size, 2]),
                                        weights: try Tensor(lidWeights, shape: [n, 2, size, size])) : nil
        return FaceWarpField(size: size, sourcePoints: try Tensor(points, shape: [n, size, size, 2]),
                             valid: try Tensor(valid, shape: [n, 1, size, size]), face: try Tensor(face, shape: [n, 1, size, size]),
                             mouth: try Tensor(mouth, shape: [n, 1, size, size]), inner: try Tensor(inner, shape: [n, 1, size, size]),
                             lids: lids)
    }

    /// Displacements of the pixels outside the face (S×S×2, row-major): rigid motion of a plane through the head, plus
    /// the face's non-rigid residual (face displacement minus the rigid one) continued outwards from the face's edge,
    /// both fading out with the distance from the face (issue #21). The residual is continued from a band along the
    /// edge (push-pull), so the field is continuous across the edge of the model's mesh: what lies just beyond the
    /// target's jaw or cheek comes from just beyond the source's (neck, ear, hair), not from the source's face, and a
    /// jaw drop takes the chin's outline and the neck below it along. Its decay length grows with the residual, so the
    /// map never folds (a fold shows a second, ghost edge).
    func extrapolate(faceDisp: [Float], faceMask: [Bool], size: Int, camera: Camera, targetPose: [Float], sourcePose: [Float]) throws -> [Float] {
        let rigid = rigidMotion(size: size, camera: camera, targetPose: targetPose, sourcePose: sourcePose)
        let plane = size * size
        // The edge band: face pixels within `band` pixels of a pixel outside the face.
        let band = max(1, size / 128)
        let inside = Self.distanceTransform(faceMask.map { !$0 }, size)
        var residual = [Float](repeating: 0, count: 2 * plane), known = [Float](repeating: 0, count: plane)
        var largest: Float = 0
        for p in 0..<plane where faceMask[p] && inside[p] <= Float(band) {
            residual[p] = faceDisp[2 * p] - rigid[2 * p]
            residual[plane + p] = faceDisp[2 * p + 1] - rigid[2 * p + 1]
            known[p] = 1
            largest = max(largest, (residual[p] * residual[p] + residual[plane + p] * residual[plane + p]).squareRoot())
        }
        // At the edge the nearest edge values (continuity); a few pixels out the smoother, wider mean, which carries the
        // turn of the whole cheek to the ear and hair beyond it rather than only the edge's own motion.
        let values = try Tensor(residual, shape: [1, 2, size, size]), weights = try Tensor(known, shape: [1, 1, size, size])
        let nearest = try PushPull.fill(values, known: weights, confidence: .any).floats()
        let wide = try PushPull.fill(values, known: weights, confidence: .mean).floats()
        let handover = Float(options.edgeContinuity) * Float(size)
        // d ↦ d + r·exp(−d/L) is monotonic while r/L ≤ 1: the decay is at least 1.5× the largest residual.
        let decayLength = max(Float(options.residualDecay) * Float(size), 1.5 * largest)
        let distance = Self.distanceTransform(faceMask, size)
        var out = [Float](repeating: 0, count: plane * 2)
        for p in 0..<plane where !faceMask[p] {
            // The first pixel outside the face is at distance 1: it carries the edge's residual in full.
            let d = max(0, distance[p] - 1)
            let fade = 1 - smoothstep(Float(options.fadeStart), Float(options.fadeEnd), d / Float(size))
            let decay = exp(-d / decayLength) * fade, near = exp(-d / handover)
            out[2 * p] = rigid[2 * p] * fade + (nearest[p] * near + wide[p] * (1 - near)) * decay
            out[2 * p + 1] = rigid[2 * p + 1] * fade + (nearest[plane + p] * near + wide[plane + p] * (1 - near)) * decay
        }
        return out
    }

    /// The displacement of every pixel if the scene were a plane through the head (model z = 0) moving rigidly
    /// from the target pose to the source pose.
    func rigidMotion(size: Int, camera: Camera, targetPose: [Float], sourcePose: [Float]) -> [Float] {
        let rt = Self.rotation(targetPose), rs = Self.rotation(sourcePose)
        let tt = Array(targetPose[3..<6]), ts = Array(sourcePose[3..<6])
        let f = Float(camera.focal), cx = Float(camera.centerX), cy = Float(camera.centerY), D = Float(camera.distance)
        let normal = [rt[2], rt[5], rt[8]]   // R_t · (0, 0, 1)
        var out = [Float](repeating: 0, count: size * size * 2)
        for p in 0..<(size * size) {
            let qx = Float(p % size) + 0.5, qy = Float(p / size) + 0.5
            // Camera point at depth d along the pixel's ray: (a·d, b·d, D − d).
            let a = (qx - cx) / f, b = -(qy - cy) / f
            let denom = normal[0] * a + normal[1] * b - normal[2]
            var d = D - tt[2]
            if abs(denom) > 0.2 { d = (normal[0] * tt[0] + normal[1] * tt[1] + normal[2] * (tt[2] - D)) / denom }
            if !(d > 0.5 * (D - tt[2]) && d < 2 * (D - tt[2])) { d = D - tt[2] }
            let X = [a * d - tt[0], b * d - tt[1], D - d - tt[2]]
            // Model point m = R_tᵀ X, then the source camera point R_s m + t_s.
            let m = [rt[0] * X[0] + rt[3] * X[1] + rt[6] * X[2], rt[1] * X[0] + rt[4] * X[1] + rt[7] * X[2],
                     rt[2] * X[0] + rt[5] * X[1] + rt[8] * X[2]]
            let s = [rs[0] * m[0] + rs[1] * m[1] + rs[2] * m[2] + ts[0], rs[3] * m[0] + rs[4] * m[1] + rs[5] * m[2] + ts[1],
                     rs[6] * m[0] + rs[7] * m[1] + rs[8] * m[2] + ts[2]]
            let ds = D - s[2]
            out[2 * p] = cx + f * s[0] / ds - qx
            out[2 * p + 1] = cy - f * s[1] / ds - qy
        }
        return out
    }

    /// R = Rz(c) · Ry(b) · Rx(a), row-major (the convention of `Pose.rotationMatrix`).
    static func rotation(_ pose: [Float]) -> [Float] {
        let ca = cos(pose[0]), sa = sin(pose[0]), cb = cos(pose[1]), sb = sin(pose[1]), cc = cos(pose[2]), sc = sin(pose[2])
        return [cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa,
                sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa,
                -sb, cb * sa, cb * ca]
    }

    /// Distance (in cells) from every cell of a g×g grid to the nearest marked cell (two-pass chamfer 3-4).
    static func distanceTransform(_ marked: [Bool], _ g: Int) -> [Float] {
        let inf: Float = 1e9
        var d = marked.map { $0 ? 0 : inf }
        for y in 0..<g { for x in 0..<g {
            let i = y * g + x
            var m = d[i]
            if x > 0 { m = min(m, d[i - 1] + 1) }
            if y > 0 { m = min(m, d[i - g] + 1); if x > 0 { m = min(m, d[i - g - 1] + 1.4142) }; if x < g - 1 { m = min(m, d[i - g + 1] + 1.4142) } }
            d[i] = m
        } }
        for y in stride(from: g - 1, through: 0, by: -1) { for x in stride(from: g - 1, through: 0, by: -1) {
            let i = y * g + x
            var m = d[i]
            if x < g - 1 { m = min(m, d[i + 1] + 1) }
            if y < g - 1 { m = min(m, d[i + g] + 1); if x < g - 1 { m = min(m, d[i + g + 1] + 1.4142) }; if x > 0 { m = min(m, d[i + g - 1] + 1.4142) } }
            d[i] = m
        } }
        return d
    }
}

@inline(__always) func smoothstep(_ a: Float, _ b: Float, _ x: Float) -> Float {
    let t = min(max((x - a) / (b - a), 0), 1)
    return t * t * (3 - 2 * t)
}
