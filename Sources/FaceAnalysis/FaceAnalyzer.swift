import Foundation
import Media

/// Everything known about one face of an image, in pixels of that image (MediaPipe's convention: the
/// centre of pixel (i, j) is at x = j, y = i).
public struct AnalyzedFace: Sendable, Codable, Equatable {
    public var box: FaceBox
    /// BlazeFace's 6 keypoints (see `DetectedFace.keypoints`); from the landmarks when tracking.
    public var keypoints: [SIMD2<Double>]
    /// Detection score (BlazeFace) or, when tracked without re-detection, the Face Mesh face flag.
    public var score: Double
    public var faceFlag: Double
    /// 468 Face Mesh points (x, y, z) in pixels.
    public var landmarks: [SIMD3<Double>]
    /// Image-left eye then image-right eye, when the iris model ran.
    public var irises: [IrisResult]?
    public var roi: RotatedRect
    public var imageWidth: Int
    public var imageHeight: Int

    /// `landmarks` with the eye contours from the iris model where it ran (`IrisLandmarker.refined`).
    public var refinedLandmarks: [SIMD3<Double>] { IrisLandmarker.refined(landmarks, irises: irises) }
}

/// Detection, Face Mesh and iris behind one call. Faces are ordered largest first; `faceIndex` picks
/// one in that order.
public final class FaceAnalyzer {
    public let detector: BlazeFaceDetector
    public let mesh: FaceMeshLandmarker
    public let iris: IrisLandmarker?
    /// A face whose Face Mesh flag is below this is rejected (MediaPipe's `ThresholdingCalculator`: 0.5).
    public var minFaceFlag = 0.5

    public init(detector: BlazeFaceDetector, mesh: FaceMeshLandmarker, iris: IrisLandmarker?) {
        self.detector = detector
        self.mesh = mesh
        self.iris = iris
    }

    /// Loads the three converted networks from `Models/analysis/` (iris optional with `withIris: false`).
    public convenience init(withIris: Bool = true) throws {
        try self.init(detector: BlazeFaceDetector(), mesh: FaceMeshLandmarker(), iris: withIris ? IrisLandmarker() : nil)
    }

    /// Detected faces, largest box first.
    public func detect(_ image: RGBImage) throws -> [DetectedFace] {
        try validate(image)
        return try detector.detect(image).sorted { $0.box.area > $1.box.area }
    }

    /// Analyses face `faceIndex` (0 = largest). `source` names the image in errors ("no face found in …").
    public func analyze(image: RGBImage, faceIndex: Int = 0, source: String? = nil) throws -> AnalyzedFace {
        let name = source ?? "the image"
        let faces = try detect(image)
        guard !faces.isEmpty else { throw FaceAnalysisError.noFace("no face found in \(name)") }
        guard faceIndex >= 0, faceIndex < faces.count else {
            throw FaceAnalysisError.noFace("face index \(faceIndex) requested but \(faces.count) face(s) found in \(name)")
        }
        let face = faces[faceIndex]
        let result = try landmarks(image: image, roi: FaceMeshLandmarker.roi(for: face))
        guard result.faceFlag >= minFaceFlag else {
            throw FaceAnalysisError.noFace(String(format: "the face found in %@ was rejected by Face Mesh (face flag %.2f < %.2f; profile view or occlusion?)",
                                                  name, result.faceFlag, minFaceFlag))
        }
        return try assemble(image: image, mesh: result, box: face.box, keypoints: face.keypoints, score: face.score)
    }

    /// Face Mesh (and iris) on a given ROI.
    public func landmarks(image: RGBImage, roi: RotatedRect) throws -> FaceMeshResult {
        try validate(image)
        return try mesh.landmarks(in: image, roi: roi)
    }

    func assemble(image: RGBImage, mesh r: FaceMeshResult, box: FaceBox?, keypoints: [SIMD2<Double>]?, score: Double?) throws -> AnalyzedFace {
        let irises = try iris?.irises(in: image, landmarks: r.landmarks)
        let lm = r.landmarks
        let b = box ?? ROITransform.boundingBox(lm.map { ($0.x, $0.y) })
        // Keypoints from the mesh when tracking: eyes (mean of the corners), nose tip, mouth centre, tragions.
        let kps = keypoints ?? [FaceAnalyzer.mean(lm, [33, 133]), FaceAnalyzer.mean(lm, [362, 263]), FaceAnalyzer.mean(lm, [1]),
                                FaceAnalyzer.mean(lm, [13, 14]), FaceAnalyzer.mean(lm, [234]), FaceAnalyzer.mean(lm, [454])]
        return AnalyzedFace(box: b, keypoints: kps, score: score ?? r.faceFlag, faceFlag: r.faceFlag, landmarks: lm,
                            irises: irises, roi: r.roi, imageWidth: image.width, imageHeight: image.height)
    }

    static func mean(_ lm: [SIMD3<Double>], _ idx: [Int]) -> SIMD2<Double> {
        let s = idx.reduce(SIMD2<Double>(0, 0)) { $0 + SIMD2(lm[$1].x, lm[$1].y) }
        return s / Double(idx.count)
    }

    func validate(_ image: RGBImage) throws {
        guard image.width >= 8, image.height >= 8 else {
            throw FaceAnalysisError.invalidInput("image of \(image.width)x\(image.height) pixels is too small to analyse")
        }
    }
}
