import Torch
import Foundation

/// Cuts MFCC rows into one fixed-length clip per video frame — the audio input of EmoA2E
/// (paper Sec. 4.2: "MFCC clips A = {A_1, ..., A_N}", one per frame).
///
/// Alignment (with the defaults: 100 MFCC rows/s, 25 fps, so 4 rows per frame):
/// - video frame i covers [i/fps, (i+1)/fps) and its centre time is t_i = (i + 0.5)/fps;
/// - MFCC row r is centred at r·hop + window/2 seconds, so the row nearest t_i is
///   c_i = (t_i − window/2)/hop = 4i + 0.75;
/// - the clip is the `rowsPerClip` consecutive rows centred on c_i:
///   first = round(c_i − (rowsPerClip − 1)/2) (rounding half up), i.e. rows 4i−9 ... 4i+10 for the
///   default 20 rows = 0.2 s (the window length of SadTalker/PC-AVS-style audio encoders);
/// - rows before 0 or after the last row repeat the edge row (edge padding), so every frame gets a
///   full clip, including the first and last.
public struct MFCCClips: Sendable {
    public var rowsPerClip: Int
    public var fps: Double

    public init(rowsPerClip: Int = 20, fps: Double = 25) throws {
        guard rowsPerClip >= 1, rowsPerClip <= 10_000 else { throw MediaError.invalidArgument("rowsPerClip must be 1...10000, got \(rowsPerClip)") }
        guard fps > 0, fps <= 1000 else { throw MediaError.invalidArgument("fps must be in (0, 1000], got \(fps)") }
        self.rowsPerClip = rowsPerClip
        self.fps = fps
    }

    /// The number of video frames `sampleCount` samples of audio span (ceil(duration · fps)).
    public func frameCount(sampleCount: Int, sampleRate: Int) -> Int {
        Int((Double(sampleCount) / Double(sampleRate) * fps - 1e-9).rounded(.up))
    }

    /// The first MFCC row (possibly negative) of frame `i`'s clip.
    public func firstRow(frame i: Int, config: MFCCConfig) -> Int {
        let centreTime = (Double(i) + 0.5) / fps
        let centreRow = (centreTime - config.windowSeconds / 2) / config.hopSeconds
        return Int((centreRow - Double(rowsPerClip - 1) / 2 + 0.5).rounded(.down))
    }

    /// Clips for `frameCount` frames as a float32 tensor [frameCount, rowsPerClip, C].
    /// Use `.reshape([N, 1, rowsPerClip, C])` for a conv-style audio encoder.
    public func clips(from features: MFCCFeatures, config: MFCCConfig, frameCount: Int) throws -> Tensor {
        guard frameCount >= 1 else { throw MediaError.invalidArgument("frameCount must be >= 1, got \(frameCount)") }
        guard features.rowCount >= 1 else { throw MediaError.emptyAudio("no MFCC rows to cut clips from") }
        let c = features.coefficientCount, l = rowsPerClip
        guard frameCount.multipliedReportingOverflow(by: l * c).partialValue < 1 << 31 else {
            throw MediaError.invalidArgument("\(frameCount) clips of \(l)×\(c) are too many")
        }
        var out = [Float](repeating: 0, count: frameCount * l * c)
        features.values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<frameCount {
                    let first = firstRow(frame: i, config: config)
                    for k in 0..<l {
                        let r = Swift.min(features.rowCount - 1, Swift.max(0, first + k))
                        for j in 0..<c { dst[(i * l + k) * c + j] = src[r * c + j] }
                    }
                }
            }
        }
        return try Tensor(out, shape: [frameCount, l, c])
    }

    /// Decodes `url`, computes MFCCs with `config` and cuts one clip per frame. Without `frameCount`,
    /// the audio's own duration decides (ceil(duration · fps) frames).
    /// The audio is decoded and turned into MFCC rows as it streams from ffmpeg, so memory holds the rows and the
    /// clips, not the samples (a 10-minute file is 38 MB of samples, 0.3 MB of rows).
    public func clips(audio url: URL, config: MFCCConfig = MFCCConfig(), frameCount: Int? = nil) throws -> Tensor {
        var stream = try MFCCStream(MFCC(config: config))
        let sampleCount = try AudioDecoder.decode(url, sampleRate: config.sampleRate) { try stream.append($0) }
        let features = try stream.finish()
        let n = frameCount ?? self.frameCount(sampleCount: sampleCount, sampleRate: config.sampleRate)
        return try clips(from: features, config: config, frameCount: Swift.max(1, n))
    }
}
