import Foundation
import Media

/// What a tracker saw in one frame. Boxes are in the pixels of the frame it was given.
public enum FaceObservation: Equatable, Sendable {
    /// A face; `landmarks` are 68 (x, y) points in the same pixels when the tracker provides them (they let
    /// the coefficient fit use a landmark term).
    case face(FaceBox, landmarks: [Double]?)
    /// The frame was examined and has no face.
    case noFace
    /// The frame was not examined (the track is interpolated across it).
    case skipped
}

/// The seam for face tracking in corpus preparation: frames of one video arrive in order after `reset()`.
/// `HaarFaceTracker` is the current implementation; a tracker from the FaceAnalysis target (MediaPipe
/// detection + Face Mesh) plugs in here by conforming and being passed to `CorpusPreparer`.
public protocol VideoFaceTracker: AnyObject {
    /// Frames are scaled down to at most this many pixels on their longer side before `observe` (nil: full size).
    var preferredMaxSide: Int? { get }
    /// Starts a new video.
    func reset()
    func observe(_ frame: RGBImage, index: Int) throws -> FaceObservation
}

/// Viola-Jones (the bundled Haar cascade) on every `every`-th frame. With several faces it keeps the one
/// overlapping the previous detection most, else the largest.
public final class HaarFaceTracker: VideoFaceTracker {
    public let every: Int
    public let preferredMaxSide: Int?
    private let detector: FaceDetector
    private var previous: FaceBox?

    public init(every: Int, maxSide: Int) throws {
        guard every >= 1 else { throw DatasetError("detect every must be ≥ 1") }
        self.every = every
        preferredMaxSide = maxSide
        detector = try FaceDetector()
    }

    public func reset() { previous = nil }

    public func observe(_ frame: RGBImage, index: Int) throws -> FaceObservation {
        guard index % every == 0 else { return .skipped }
        let faces = try detector.detect(frame).map(\.box)
        guard !faces.isEmpty else { return .noFace }
        let best: FaceBox
        if let p = previous, let match = faces.max(by: { $0.iou(p) < $1.iou(p) }), match.iou(p) > 0.1 {
            best = match
        } else {
            best = faces.max { $0.area < $1.area }!
        }
        previous = best
        return .face(best, landmarks: nil)
    }
}

/// Turns per-frame observations into stable face boxes: detections are linearly interpolated across
/// skipped frames and gaps of at most `maxGap` frames, longer gaps end a track, and each track's box centre
/// and size are smoothed by a centred moving average (a crop that does not jitter with the detector).
public enum FaceTrackSmoother {
    /// Runs of consecutive frames with a face: (first frame, boxes).
    public static func tracks(_ observations: [FaceObservation], maxGap: Int, smoothing: Int) -> [(start: Int, boxes: [FaceBox])] {
        var anchors: [(Int, FaceBox)] = []
        for (i, o) in observations.enumerated() { if case .face(let b, _) = o { anchors.append((i, b)) } }
        guard !anchors.isEmpty else { return [] }
        var runs: [[(Int, FaceBox)]] = [[anchors[0]]]
        for a in anchors.dropFirst() {
            let last = runs[runs.count - 1].last!
            // Frames strictly between two detections that were examined and had no face break the track
            // once they exceed the gap; skipped frames only count against the gap.
            let gap = a.0 - last.0 - 1
            let misses = observations[(last.0 + 1)..<a.0].filter { $0 == .noFace }.count
            if gap > maxGap || misses > maxGap { runs.append([a]) } else { runs[runs.count - 1].append(a) }
        }
        return runs.map { run in
            // Frames just outside the detections that were not examined belong to the track (held box).
            var start = run.first!.0, end = run.last!.0
            while start > 0, run.first!.0 - start < maxGap, observations[start - 1] == .skipped { start -= 1 }
            while end + 1 < observations.count, end - run.last!.0 < maxGap, observations[end + 1] == .skipped { end += 1 }
            var boxes: [FaceBox] = []
            var k = 0
            for f in start...end {
                while k + 1 < run.count && run[k + 1].0 <= f { k += 1 }
                let (f0, b0) = run[k]
                if f0 >= f || k + 1 >= run.count { boxes.append(b0); continue }
                let (f1, b1) = run[k + 1]
                let t = Double(f - f0) / Double(f1 - f0)
                boxes.append(FaceBox(x: b0.x + t * (b1.x - b0.x), y: b0.y + t * (b1.y - b0.y),
                                     width: b0.width + t * (b1.width - b0.width), height: b0.height + t * (b1.height - b0.height)))
            }
            return (start, smooth(boxes, window: smoothing))
        }
    }

    /// Centred moving average of centre x, y and side (the window shrinks at the ends).
    public static func smooth(_ boxes: [FaceBox], window: Int) -> [FaceBox] {
        guard window > 1, boxes.count > 1 else { return boxes }
        let h = window / 2
        return boxes.indices.map { i in
            let lo = max(0, i - h), hi = min(boxes.count - 1, i + h)
            let n = Double(hi - lo + 1)
            var cx = 0.0, cy = 0.0, w = 0.0, ht = 0.0
            for b in boxes[lo...hi] { cx += b.centerX; cy += b.centerY; w += b.width; ht += b.height }
            cx /= n; cy /= n; w /= n; ht /= n
            return FaceBox(x: cx - w / 2, y: cy - ht / 2, width: w, height: ht)
        }
    }
}
