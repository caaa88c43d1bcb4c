import FaceAnalysis
import Foundation
import Media

/// Face Mesh tracking from the FaceAnalysis target (MediaPipe's graph: BlazeFace on the first frame and after
/// a loss, otherwise the ROI from the previous frame's landmarks) on every frame. The box is the bounding box
/// of the 468 landmarks on every frame (the detector's box, used on detection frames by FaceAnalysis, is a
/// different shape, and switching between the two would make the crop jump).
public final class MediaPipeFaceTracker: VideoFaceTracker {
    public let preferredMaxSide: Int?
    private let tracker: FaceAnalysis.FaceTracker

    public init(maxSide: Int) throws {
        preferredMaxSide = maxSide
        tracker = FaceAnalysis.FaceTracker(analyzer: try FaceAnalyzer(withIris: false))
    }

    public func reset() { tracker.reset() }

    public func observe(_ frame: RGBImage, index: Int) throws -> FaceObservation {
        guard let face = try tracker.track(frame), !face.landmarks.isEmpty else { return .noFace }
        let xs = face.landmarks.map(\.x), ys = face.landmarks.map(\.y)
        let x0 = xs.min()!, y0 = ys.min()!
        return .face(FaceBox(x: x0, y: y0, width: max(1, xs.max()! - x0), height: max(1, ys.max()! - y0)), landmarks: nil)
    }
}
