import Foundation
import Media
import Torch

/// dlib's shape predictor (Kazemi & Sullivan's ensemble of regression trees), here for the 5-point
/// model shape_predictor_5_face_landmarks: 15 cascade levels × 500 trees of depth 4 over 800
/// feature pixels per level. Each level samples the grey values of pixels placed relative to the
/// current shape, walks every tree by thresholding pixel differences, and adds the leaves' shape
/// updates. Follows dlib/image_processing/shape_predictor.h step by step, float where dlib uses float,
/// so the points match dlib's (which rounds them to whole pixels).
public final class DlibShapePredictor: @unchecked Sendable {
    /// Mean shape in box-normalised coordinates ((0,0) = box top-left, (1,1) = bottom-right), x/y pairs.
    public let initialShape: [Float]
    let levels: Int, trees: Int, splits: Int, leaves: Int, parts: Int, pixels: Int
    let splitIndex1: [Int32], splitIndex2: [Int32], splitThreshold: [Float]
    let leafValues: [Float]
    let anchorIndex: [Int32], anchorDelta: [Float]

    /// The converted 5-point model from `Models/analysis/` (or `url`).
    public static func pretrained(url: URL? = nil) throws -> DlibShapePredictor {
        let state = try url.map { try DlibModels.load($0) } ?? DlibModels.load(ModelFile.dlibShapePredictor)
        return try DlibShapePredictor(state: state)
    }

    /// A predictor from the arrays scripts/analysis/convert_dlib.py writes.
    public init(state: [String: Tensor]) throws {
        func get(_ key: String, rank: Int) throws -> Tensor {
            guard let t = state[key], t.rank == rank else {
                throw FaceIdentityError.modelInvalid("shape predictor: \(key) missing or not \(rank)-D; rerun \(DlibModels.installScript)")
            }
            return t
        }
        let leafT = try get("leafValues", rank: 5), anchorT = try get("anchorIndex", rank: 2)
        (levels, trees, leaves, parts) = (leafT.shape[0], leafT.shape[1], leafT.shape[2], leafT.shape[3])
        pixels = anchorT.shape[1]
        let s1 = try get("splitIndex1", rank: 3), s2 = try get("splitIndex2", rank: 3), th = try get("splitThreshold", rank: 3)
        splits = s1.shape[2]
        let initial = try get("initialShape", rank: 2), deltas = try get("anchorDelta", rank: 3)
        guard leafT.shape[4] == 2, leaves == splits + 1, [s2.shape, th.shape].allSatisfy({ $0 == s1.shape }),
              s1.shape == [levels, trees, splits], initial.shape == [parts, 2], anchorT.shape[0] == levels,
              deltas.shape == [levels, pixels, 2] else {
            throw FaceIdentityError.modelInvalid("shape predictor arrays have inconsistent shapes; rerun \(DlibModels.installScript)")
        }
        initialShape = try initial.floats()
        splitIndex1 = try s1.toArray(Int32.self)
        splitIndex2 = try s2.toArray(Int32.self)
        splitThreshold = try th.floats()
        leafValues = try leafT.floats()
        anchorIndex = try anchorT.toArray(Int32.self)
        anchorDelta = try deltas.floats()
        guard splitIndex1.allSatisfy({ $0 >= 0 && Int($0) < pixels }), splitIndex2.allSatisfy({ $0 >= 0 && Int($0) < pixels }),
              anchorIndex.allSatisfy({ $0 >= 0 && Int($0) < parts }) else {
            throw FaceIdentityError.modelInvalid("shape predictor indices out of range; rerun \(DlibModels.installScript)")
        }
    }

    /// The five points for a face in `box`, rounded to whole pixels like dlib's. The box is read as
    /// dlib's rectangle with inclusive corners (x, y) and (x + width − 1, y + height − 1); dlib's
    /// model was trained on its HOG frontal-face detector's boxes (see `DlibFaceBox` for others).
    public func landmarks(in image: RGBImage, box: FaceBox) throws -> FaceLandmarks5 {
        try unroundedLandmarks(in: image, box: box).rounded
    }

    /// The same points before dlib's rounding to whole pixels.
    public func unroundedLandmarks(in image: RGBImage, box: FaceBox) throws -> FaceLandmarks5 {
        guard parts == 5 else { throw FaceIdentityError.modelInvalid("this predictor has \(parts) points, not 5") }
        let rect = try Self.rect(box)
        var shape = initialShape
        var features = [Float](repeating: 0, count: pixels)
        let grey = Self.intensities(image)
        for level in 0..<levels {
            sampleFeatures(level: level, shape: shape, rect: rect, grey: grey, width: image.width, height: image.height, into: &features)
            addTreeOutputs(level: level, features: features, to: &shape)
        }
        return try FaceLandmarks5((0..<parts).map { toImage(rect, shape[2 * $0], shape[2 * $0 + 1]) })
    }

    /// The box dlib's detector would most plausibly have given for these points: the square whose
    /// normalised frame maps the model's mean shape onto the points in the least-squares sense
    /// (translation and one scale), with corners rounded to pixels like dlib's rectangles.
    public func dlibBox(fitting landmarks: FaceLandmarks5) -> FaceBox {
        let n = Double(parts)
        let u = (0..<parts).map { Double(initialShape[2 * $0]) }, v = (0..<parts).map { Double(initialShape[2 * $0 + 1]) }
        let x = landmarks.points.map(\.x), y = landmarks.points.map(\.y)
        let (mu, mv) = (u.reduce(0, +) / n, v.reduce(0, +) / n)
        let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
        var num = 0.0, den = 0.0
        for i in 0..<parts {
            num += (u[i] - mu) * (x[i] - mx) + (v[i] - mv) * (y[i] - my)
            den += (u[i] - mu) * (u[i] - mu) + (v[i] - mv) * (v[i] - mv)
        }
        let side = num / den
        let left = DlibGeometry.round(mx - mu * side), top = DlibGeometry.round(my - mv * side)
        let right = DlibGeometry.round(mx - mu * side + side), bottom = DlibGeometry.round(my - mv * side + side)
        return FaceBox(x: left, y: top, width: right - left + 1, height: bottom - top + 1)
    }

    // MARK: - dlib's steps

    /// dlib's rectangle for a FaceBox: inclusive corners.
    static func rect(_ box: FaceBox) throws -> DRect {
        guard [box.x, box.y, box.width, box.height].allSatisfy({ $0.isFinite }), box.width >= 1, box.height >= 1 else {
            throw FaceIdentityError.invalidInput("face box \(box) must be finite and at least 1×1 pixel")
        }
        return DRect(left: box.x, top: box.y, right: box.x + box.width - 1, bottom: box.y + box.height - 1)
    }

    /// unnormalizing_tform(rect): (0,0) → top-left corner, (1,1) → bottom-right corner.
    func toImage(_ rect: DRect, _ u: Float, _ v: Float) -> SIMD2<Double> {
        SIMD2(rect.left + Double(u) * (rect.right - rect.left), rect.top + Double(v) * (rect.bottom - rect.top))
    }

    /// get_pixel_intensity of an rgb_pixel: (r + g + b) / 3 in integers.
    static func intensities(_ image: RGBImage) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<out.count { out[i] = UInt8((Int(px[3 * i]) + Int(px[3 * i + 1]) + Int(px[3 * i + 2])) / 3) }
        }
        return out
    }

    /// extract_feature_pixel_values: each feature pixel is an anchor point of the shape plus an offset
    /// that follows the similarity between the mean shape and the current one; pixels outside the
    /// image read 0.
    func sampleFeatures(level: Int, shape: [Float], rect: DRect, grey: [UInt8], width: Int, height: Int, into out: inout [Float]) {
        let from = (0..<parts).map { SIMD2(Double(initialShape[2 * $0]), Double(initialShape[2 * $0 + 1])) }
        let to = (0..<parts).map { SIMD2(Double(shape[2 * $0]), Double(shape[2 * $0 + 1])) }
        let sim = DlibGeometry.similarity(from: from, to: to)
        // find_tform_between_shapes(...).get_m() cast to a float matrix [m00 m01; m10 m11].
        let (m00, m01, m10, m11) = (Float(sim.a), Float(-sim.b), Float(sim.b), Float(sim.a))
        for i in 0..<pixels {
            let k = level * pixels + i
            let anchor = Int(anchorIndex[k])
            let (dx, dy) = (anchorDelta[2 * k], anchorDelta[2 * k + 1])
            let px = (m00 * dx + m01 * dy) + shape[2 * anchor]
            let py = (m10 * dx + m11 * dy) + shape[2 * anchor + 1]
            let p = toImage(rect, px, py)
            let (x, y) = (DlibGeometry.round(p.x), DlibGeometry.round(p.y))
            if x >= 0, y >= 0, x < Double(width), y < Double(height) {
                out[i] = Float(grey[Int(y) * width + Int(x)])
            } else {
                out[i] = 0
            }
        }
    }

    /// Walks every tree of the level (left when f[idx1] − f[idx2] > threshold) and adds its leaf.
    func addTreeOutputs(level: Int, features: [Float], to shape: inout [Float]) {
        let dims = 2 * parts
        for tree in 0..<trees {
            let base = (level * trees + tree) * splits
            var node = 0
            while node < splits {
                let f1 = features[Int(splitIndex1[base + node])], f2 = features[Int(splitIndex2[base + node])]
                node = f1 - f2 > splitThreshold[base + node] ? 2 * node + 1 : 2 * node + 2
            }
            let leaf = ((level * trees + tree) * leaves + node - splits) * dims
            for d in 0..<dims { shape[d] += leafValues[leaf + d] }
        }
    }
}
