import FaceModel
import Foundation
import Media
import Metrics

/// What a talking-face video shows, read back frame by frame by Face Mesh (with the iris model's eye contours) and the
/// landmark fit, not taken from the coefficients it was made from (issue #22 item 4, in part): how the mouth follows
/// the audio, how often the eyes blink, how much the head moves.
public struct TalkReadout: Codable, Equatable, Sendable {
    public var frames: Int
    public var fps: Double
    /// Frames in which a face was found.
    public var measured: Int
    /// Pearson correlation of the audio's RMS per frame with the inner-lip gap (over the mouth's width), best lag within
    /// ±2 frames (`LipSyncProxy`); nil without an audio track.
    public var lipSync: Double?
    public var lipSyncLag: Int?
    /// The inner-lip gap's spread: its 95th less its 5th percentile, over the mouth's width.
    public var mouthRange: Double
    public var blinks: Int
    public var blinksPerMinute: Double
    /// Standard deviation of the head's pitch, yaw and roll over the video, degrees.
    public var headSpread: [Double]

    /// The issue's reference ranges: the mouth follows the audio energy (r ≥ 0.7); people blink 8–25 times a minute.
    public static let lipSyncGate = 0.7
    public static let blinkRange = 8.0...25.0
    /// A blink: a run of frames whose eye aspect ratio (both eyes' mean) is below this fraction of the video's median.
    public static let blinkThreshold = 0.6

    /// Blinks in a series of eye aspect ratios: runs of frames below `blinkThreshold` of the median, each counted once.
    public static func blinks(eyeAspectRatios ear: [Double]) -> Int {
        guard !ear.isEmpty else { return 0 }
        let median = ear.sorted()[ear.count / 2], threshold = blinkThreshold * median
        var count = 0, closed = false
        for e in ear {
            if e < threshold, !closed { count += 1 }
            closed = e < threshold
        }
        return count
    }

    /// The 95th less the 5th percentile.
    static func range(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return 0 }
        let s = x.sorted()
        return s[min(s.count - 1, Int(0.95 * Double(s.count)))] - s[Int(0.05 * Double(s.count))]
    }

    static func spread(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return 0 }
        let m = x.reduce(0, +) / Double(x.count)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)).squareRoot()
    }

    /// Reads `video` (any file ffmpeg reads; its own audio track for the lip-sync correlation). `measurer` needs the
    /// landmark fit (`coefficients`); identity and emotion are not used. `progress(done, total)` may return false to stop.
    public static func read(video: URL, measurer: FaceMeasurer, progress: ((Int, Int) -> Bool)? = nil) throws -> TalkReadout {
        guard measurer.options.coefficients else { throw EvaluationError.invalidInput("the talk readout needs the landmark fit (coefficients)") }
        let reader = try VideoReader(url: video)
        defer { reader.close() }
        let fps = reader.info.fps > 0 ? reader.info.fps : 25, total = reader.info.frameCount
        let track = measurer.sequence()
        var ear: [Double] = [], gap: [Float] = [], angles: [[Double]] = [[], [], []], frames = 0, measured = 0
        while let frame = try reader.nextFrame() {
            frames += 1
            if let m = try track.next(frame) {
                measured += 1
                ear.append(0.5 * (FaceGeometry.eyeAspectRatio(faceMesh: m.imageLandmarks, leftEye: true)
                                  + FaceGeometry.eyeAspectRatio(faceMesh: m.imageLandmarks, leftEye: false)))
                gap.append(Float(m.mouthOpening))
                if let c = m.coefficients {
                    let p = CoefficientPart.pose.range.lowerBound
                    for k in 0..<3 { angles[k].append(Double(c[p + k]) * 180 / .pi) }
                }
            } else {
                gap.append(0)
            }
            if let progress, !progress(frames, total) { throw EvaluationError.invalidInput("cancelled") }
        }
        guard measured > 0 else { throw EvaluationError.invalidInput("\(video.lastPathComponent): no face in any frame") }
        var sync: LipSyncProxy.Result? = nil
        if reader.info.hasAudio, gap.count >= 5 { sync = try LipSyncProxy.score(audio: video, mouthOpening: gap, fps: fps, maxLag: 2) }
        let blinks = Self.blinks(eyeAspectRatios: ear), seconds = Double(frames) / fps
        return TalkReadout(frames: frames, fps: fps, measured: measured, lipSync: sync?.correlation, lipSyncLag: sync?.lag,
                           mouthRange: range(gap.map(Double.init)), blinks: blinks, blinksPerMinute: Double(blinks) / seconds * 60,
                           headSpread: angles.map(spread))
    }

    /// A Markdown table with the reference ranges.
    public func markdown() -> String {
        func f(_ x: Double?, _ format: String = "%.3f") -> String { x.map { String(format: format, $0) } ?? "n/a" }
        return """
        | readout (Face Mesh on the output) | value | reference |
        |---|---|---|
        | frames (with a face) | \(frames) (\(measured)) at \(f(fps, "%.2f")) fps | |
        | corr(inner-lip gap, audio RMS), lag \(lipSyncLag.map(String.init) ?? "n/a") | \(f(lipSync)) | ≥ \(Self.lipSyncGate) |
        | inner-lip gap range (p95 − p5, over mouth width) | \(f(mouthRange)) | |
        | blinks | \(blinks), \(f(blinksPerMinute, "%.1f")) a minute | \(Int(Self.blinkRange.lowerBound))–\(Int(Self.blinkRange.upperBound)) a minute |
        | head spread pitch / yaw / roll (°) | \(headSpread.map { f($0, "%.2f") }.joined(separator: " / ")) | |
        """
    }
}
