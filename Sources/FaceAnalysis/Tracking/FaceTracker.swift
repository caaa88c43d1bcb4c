import Foundation
import Media

/// Face Mesh tracking through a video, as MediaPipe's `face_landmark_front_cpu.pbtxt` does it: the ROI of
/// each frame comes from the previous frame's landmarks (no detector run); the detector runs again on
/// the first frame, whenever the face flag drops below the threshold, or when the face is lost.
public final class FaceTracker {
    public let analyzer: FaceAnalyzer
    /// Which face to pick when (re-)detecting: 0 = largest.
    public var faceIndex: Int
    private var previousROI: RotatedRect?
    /// How many frames needed the detector (for benchmarks and logs).
    public private(set) var detections = 0
    public private(set) var frames = 0

    public init(analyzer: FaceAnalyzer, faceIndex: Int = 0) {
        self.analyzer = analyzer
        self.faceIndex = faceIndex
    }

    /// Forgets the previous frame (e.g. at a cut).
    public func reset() { previousROI = nil }

    /// The face in `frame`, or nil when no face is found (the next frame re-detects).
    public func track(_ frame: RGBImage) throws -> AnalyzedFace? {
        frames += 1
        if let roi = previousROI {
            let r = try analyzer.landmarks(image: frame, roi: roi)
            if r.faceFlag >= analyzer.minFaceFlag {
                previousROI = FaceMeshLandmarker.roi(forLandmarks: r.landmarks)
                return try analyzer.assemble(image: frame, mesh: r, box: nil, keypoints: nil, score: nil)
            }
            previousROI = nil
        }
        detections += 1
        let faces = try analyzer.detect(frame)
        guard faceIndex < faces.count else { return nil }
        let face = faces[faceIndex]
        let r = try analyzer.landmarks(image: frame, roi: FaceMeshLandmarker.roi(for: face))
        guard r.faceFlag >= analyzer.minFaceFlag else { return nil }
        previousROI = FaceMeshLandmarker.roi(forLandmarks: r.landmarks)
        return try analyzer.assemble(image: frame, mesh: r, box: face.box, keypoints: face.keypoints, score: face.score)
    }
}
