import Torch
import Foundation
import Media

/// 468 Face Mesh landmarks in pixels of the analysed image.
public struct FaceMeshResult: Sendable, Codable, Equatable {
    /// x, y in image pixels; z in pixels too (relative depth, smaller = closer to the camera; MediaPipe
    /// scales it like x).
    public var landmarks: [SIMD3<Double>]
    /// Sigmoid of the face-flag logit: the probability that the ROI holds a face.
    public var faceFlag: Double
    /// The ROI the network saw.
    public var roi: RotatedRect
}

/// MediaPipe's Face Mesh (`face_landmark.tflite`) with the graph's ROI handling
/// (`face_detection_front_detection_to_roi.pbtxt`, `face_landmark_cpu.pbtxt`,
/// `face_landmark_landmarks_to_roi.pbtxt`):
/// - ROI from a detection: its box, rotated so that keypoint 0 → keypoint 1 (the eyes) is horizontal,
///   made square on the long side and scaled 1.5;
/// - ROI from landmarks (tracking): the landmarks' bounding box, rotation from point 33 → 263 (the
///   outer eye corners), square, scale 1.5;
/// - 192×192 crop with a replicated border, values in [0, 1]; outputs 468×(x, y, z) in crop pixels and
///   the face-flag logit; landmarks are mapped back through the ROI.
public final class FaceMeshLandmarker {
    public let network: MediaPipeGraph
    public static let inputSize = 192
    public static let landmarkCount = 468

    public init(network: MediaPipeGraph) throws {
        guard network.inputShape == [1, 192, 192, 3], network.outputShapes == [[1, 1, 1, 1404], [1, 1, 1, 1]] else {
            throw FaceAnalysisError.modelInvalid("not the Face Mesh network (input \(network.inputShape), outputs \(network.outputShapes))")
        }
        self.network = network
    }

    /// Loads `Models/analysis/mediapipe_face_landmark.safetensors`.
    public convenience init() throws { try self.init(network: try MediaPipeModels.load(.mediaPipeFaceMesh)) }

    public static func roi(for detection: DetectedFace) -> RotatedRect {
        let k = detection.keypoints
        let rotation = ROITransform.rotation(from: (k[0].x, k[0].y), to: (k[1].x, k[1].y))
        return ROITransform.roi(box: detection.box, rotation: rotation, scale: 1.5)
    }

    public static func roi(forLandmarks lm: [SIMD3<Double>]) -> RotatedRect {
        let box = ROITransform.boundingBox(lm.map { ($0.x, $0.y) })
        let rotation = ROITransform.rotation(from: (lm[33].x, lm[33].y), to: (lm[263].x, lm[263].y))
        return ROITransform.roi(box: box, rotation: rotation, scale: 1.5)
    }

    /// The network input for `roi`: 1×3×192×192 in [0, 1].
    public func inputTensor(_ image: RGBImage, roi: RotatedRect) throws -> Tensor {
        let crop = try ImageWarp.crop(image, roi: roi, width: 192, height: 192, border: .replicate)
        return try ImageWarp.tensor(crop, range: 0...1)
    }

    public func landmarks(in image: RGBImage, roi: RotatedRect) throws -> FaceMeshResult {
        let outs = try network(try inputTensor(image, roi: roi))
        return try FaceMeshLandmarker.decode(raw: outs[0].floats(), flagLogit: Double(outs[1].floats()[0]), roi: roi)
    }

    /// Maps raw outputs (1404 values in 192-pixel crop units, and the flag logit) to image pixels.
    public static func decode(raw: [Float], flagLogit: Double, roi: RotatedRect) throws -> FaceMeshResult {
        guard raw.count == 1404 else { throw FaceAnalysisError.invalidInput("Face Mesh output has \(raw.count) values, expected 1404") }
        guard raw.allSatisfy({ $0.isFinite }), flagLogit.isFinite else {
            throw FaceAnalysisError.invalidInput("Face Mesh produced non-finite values (is the input image valid?)")
        }
        var out: [SIMD3<Double>] = []
        out.reserveCapacity(468)
        for i in 0..<468 {
            let p = roi.project(u: Double(raw[3 * i]) / 192, v: Double(raw[3 * i + 1]) / 192)
            out.append(SIMD3(p.x, p.y, Double(raw[3 * i + 2]) / 192 * roi.width))
        }
        return FaceMeshResult(landmarks: out, faceFlag: 1 / (1 + exp(-flagLogit)), roi: roi)
    }
}

/// One eye from the iris network, in image pixels.
public struct IrisResult: Sendable, Codable, Equatable {
    /// Iris centre (x, y, z).
    public var center: SIMD3<Double>
    /// Mean distance from the centre to the 4 iris boundary points, in pixels.
    public var radius: Double
    /// The 5 iris points (centre first).
    public var iris: [SIMD3<Double>]
    /// The 71 eye-contour and brow points.
    public var contour: [SIMD3<Double>]
    public var roi: RotatedRect
}

/// MediaPipe's iris model (`iris_landmark.tflite`) driven like `iris_landmark_left_and_right_cpu.pbtxt`:
/// each eye's ROI is the box of its two corner landmarks (33/133 and 362/263), rotated to make them
/// horizontal, square, scaled 2.3; the crop is 64×64 in [0, 1] with a replicated border, the eye on the
/// image's right (362/263) mirrored so the network always sees the same eye side, and its x outputs
/// mirrored back. MediaPipe crops then resizes in two steps; here one bilinear warp does both.
public final class IrisLandmarker {
    public let network: MediaPipeGraph
    public static let eyeCorners: [(Int, Int, flip: Bool)] = [(33, 133, false), (362, 263, true)]
    /// The Face Mesh points that the first 16 of each eye's 71 contour points stand for (lower lid corner to corner,
    /// then the upper lid), image-left eye first: the order of MediaPipe's `update_face_landmarks_calculator.cc`, which
    /// `refine_landmarks` uses to put the iris model's eye contours into the mesh.
    public static let faceMeshEyeContours: [[Int]] = [[33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173],
                                                      [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398]]

    /// Face Mesh's 468 points with each eye's contour (x, y) from the iris model, as MediaPipe's refined landmarks:
    /// the mesh alone keeps an eye looking open when its lids close (on a real portrait with its eye openings
    /// painted over with skin it still reads an eye aspect ratio of 0.19–0.24, two thirds of the open eye's), the
    /// iris model's contour follows the lids (0.12–0.15 there; docs/EVALUATION.md).
    public static func refined(_ landmarks: [SIMD3<Double>], irises: [IrisResult]?) -> [SIMD3<Double>] {
        guard let irises, irises.count == 2, landmarks.count >= 468 else { return landmarks }
        var out = landmarks
        for (iris, indices) in zip(irises, faceMeshEyeContours) where iris.contour.count >= indices.count {
            for (k, i) in indices.enumerated() { out[i] = SIMD3(iris.contour[k].x, iris.contour[k].y, out[i].z) }
        }
        return out
    }

    public init(network: MediaPipeGraph) throws {
        guard network.inputShape == [1, 64, 64, 3], network.outputShapes == [[1, 213], [1, 15]] else {
            throw FaceAnalysisError.modelInvalid("not the iris network (input \(network.inputShape), outputs \(network.outputShapes))")
        }
        self.network = network
    }

    /// Loads `Models/analysis/mediapipe_iris_landmark.safetensors`.
    public convenience init() throws { try self.init(network: try MediaPipeModels.load(.mediaPipeIris)) }

    public static func roi(corner a: SIMD3<Double>, _ b: SIMD3<Double>) -> RotatedRect {
        let box = ROITransform.boundingBox([(a.x, a.y), (b.x, b.y)])
        return ROITransform.roi(box: box, rotation: ROITransform.rotation(from: (a.x, a.y), to: (b.x, b.y)), scale: 2.3)
    }

    public func inputTensor(_ image: RGBImage, roi: RotatedRect, flip: Bool) throws -> Tensor {
        let crop = try ImageWarp.crop(image, roi: roi, width: 64, height: 64, border: .replicate, flipHorizontally: flip)
        return try ImageWarp.tensor(crop, range: 0...1)
    }

    /// Both eyes from Face Mesh landmarks: the image-left eye (33/133) first.
    public func irises(in image: RGBImage, landmarks lm: [SIMD3<Double>]) throws -> [IrisResult] {
        guard lm.count >= 468 else { throw FaceAnalysisError.invalidInput("iris needs 468 Face Mesh landmarks, got \(lm.count)") }
        return try IrisLandmarker.eyeCorners.map { (a, b, flip) in
            let roi = IrisLandmarker.roi(corner: lm[a], lm[b])
            let outs = try network(try inputTensor(image, roi: roi, flip: flip))
            return try IrisLandmarker.decode(contour: outs[0].floats(), iris: outs[1].floats(), roi: roi, flip: flip)
        }
    }

    public static func decode(contour: [Float], iris: [Float], roi: RotatedRect, flip: Bool) throws -> IrisResult {
        guard contour.count == 213, iris.count == 15 else { throw FaceAnalysisError.invalidInput("iris outputs \(contour.count), \(iris.count)") }
        func points(_ raw: [Float]) -> [SIMD3<Double>] {
            stride(from: 0, to: raw.count, by: 3).map { i in
                let x = flip ? 64 - Double(raw[i]) : Double(raw[i])
                let p = roi.project(u: x / 64, v: Double(raw[i + 1]) / 64)
                return SIMD3(p.x, p.y, Double(raw[i + 2]) / 64 * roi.width)
            }
        }
        let irisPts = points(iris)
        let c = irisPts[0]
        let radius = irisPts.dropFirst().map { ((($0.x - c.x) * ($0.x - c.x) + ($0.y - c.y) * ($0.y - c.y))).squareRoot() }.reduce(0, +) / 4
        return IrisResult(center: c, radius: radius, iris: irisPts, contour: points(contour), roi: roi)
    }
}
