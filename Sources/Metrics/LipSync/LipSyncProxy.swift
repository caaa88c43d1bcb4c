import Foundation
import Media

/// A lip-sync proxy for when no SyncNet weights can be installed: the Pearson correlation between the
/// audio's loudness per video frame and how far the mouth is open in that frame. Speech opens the mouth
/// on loud (voiced, open-vowel) segments and closes it in pauses, so a synchronised video correlates
/// positively; a static or unrelated mouth gives ≈ 0. It is a coarse check, not SyncNet's confidence: it
/// ignores visemes and reacts to any loudness change.
public enum LipSyncProxy {
    public struct Result: Sendable, Equatable {
        /// Pearson correlation at the best lag, in [-1, 1]; 0 when either series is constant.
        public var correlation: Double
        /// The lag (frames) that maximised the correlation: positive when the mouth follows the audio.
        public var lag: Int
        /// Frames compared at that lag.
        public var frames: Int
    }

    /// Root-mean-square amplitude of the samples under each of `frameCount` video frames at `fps`
    /// (frame k covers [k/fps, (k+1)/fps)); frames past the end of the audio get 0.
    public static func audioEnergy(samples: [Float], sampleRate: Int, fps: Double, frameCount: Int) throws -> [Double] {
        guard (1...1_000_000).contains(sampleRate), fps >= 1, fps <= 1000, (1...10_000_000).contains(frameCount) else {
            throw MetricsError.invalidInput("audio energy needs a sample rate of 1...1e6 Hz, 1...1000 fps and 1...1e7 frames (got \(sampleRate), \(fps), \(frameCount))")
        }
        guard samples.allSatisfy(\.isFinite) else { throw MetricsError.invalidInput("audio contains NaN or infinite samples") }
        return (0..<frameCount).map { k in
            let start = Int((Double(k) * Double(sampleRate) / fps).rounded())
            let end = Swift.min(samples.count, Int((Double(k + 1) * Double(sampleRate) / fps).rounded()))
            guard end > start else { return 0 }
            var sum = 0.0
            for i in start..<end { sum += Double(samples[i]) * Double(samples[i]) }
            return (sum / Double(end - start)).squareRoot()
        }
    }

    /// The correlation between per-frame audio energy and mouth opening, maximised over lags in
    /// −`maxLag`...`maxLag` frames (at least 3 overlapping frames are needed at every lag).
    public static func score(audioEnergy: [Double], mouthOpening: [Float], maxLag: Int = 0) throws -> Result {
        guard maxLag >= 0 else { throw MetricsError.invalidInput("maxLag must be ≥ 0, got \(maxLag)") }
        let mouth = mouthOpening.map(Double.init)
        guard mouth.allSatisfy(\.isFinite), audioEnergy.allSatisfy(\.isFinite) else {
            throw MetricsError.invalidInput("audio energy or mouth opening contains NaN or infinite values")
        }
        let n = Swift.min(audioEnergy.count, mouth.count)
        guard n - maxLag >= 3 else {
            throw MetricsError.invalidInput("lip-sync proxy needs at least \(maxLag + 3) frames of both series, got \(audioEnergy.count) and \(mouth.count)")
        }
        var best = Result(correlation: -.infinity, lag: 0, frames: 0)
        for lag in -maxLag...maxLag {
            // mouth[t + lag] against audio[t].
            let t0 = Swift.max(0, -lag), t1 = Swift.min(n, n - lag)
            let r = pearson(Array(audioEnergy[t0..<t1]), Array(mouth[(t0 + lag)..<(t1 + lag)]))
            if r > best.correlation || (r == best.correlation && abs(lag) < abs(best.lag)) {
                best = Result(correlation: r, lag: lag, frames: t1 - t0)
            }
        }
        return best
    }

    /// The proxy for a video's audio track (any file ffmpeg reads: WAV, the MP4 itself) and its mouth-opening
    /// series at `fps`.
    public static func score(audio url: URL, mouthOpening: [Float], fps: Double, maxLag: Int = 0) throws -> Result {
        let sampleRate = 16000
        let samples = try AudioDecoder.decode(url, sampleRate: sampleRate)
        let energy = try audioEnergy(samples: samples, sampleRate: sampleRate, fps: fps, frameCount: mouthOpening.count)
        return try score(audioEnergy: energy, mouthOpening: mouthOpening, maxLag: maxLag)
    }

    /// Pearson correlation; 0 when either series has no variance.
    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count)
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) {
            sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb)
        }
        let scale = (saa * sbb).squareRoot()
        return scale > 1e-12 * Swift.max(1, saa + sbb) ? Swift.max(-1, Swift.min(1, sab / scale)) : 0
    }
}
