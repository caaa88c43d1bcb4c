import Foundation

/// The prosody of speech, one value per video frame: loudness and voice pitch (issue #22 item 2: head motion that
/// follows stress and intonation rather than a clock).
public struct Prosody: Sendable, Equatable {
    /// RMS level in dB relative to full scale (a full-scale sine is −3 dB), over a window centred on each frame.
    public var energy: [Double]
    /// Fundamental frequency in Hz where the frame is voiced, 0 where it is not.
    public var pitch: [Double]
    public var fps: Double

    public var count: Int { energy.count }

    /// The lowest and highest voice pitch looked for (Hz): below most men's speaking F0, above most children's.
    public static let pitchRange = 60.0...500.0
    /// A frame is voiced when the normalised autocorrelation at its best lag reaches this.
    public static let voicing = 0.55

    public init(energy: [Double], pitch: [Double], fps: Double) {
        self.energy = energy
        self.pitch = pitch
        self.fps = fps
    }

    /// The prosody of mono `samples` at `sampleRate` for `frameCount` frames at `fps`: per frame, a 40 ms window centred
    /// on the frame's middle; the pitch is the lag of the normalised autocorrelation's highest peak within
    /// `pitchRange` (with the usual guard against octave errors: the shortest lag whose peak is within 10 % of the best).
    public init(samples: [Float], sampleRate: Int, fps: Double, frameCount: Int) throws {
        guard sampleRate >= 1000, fps > 0, frameCount >= 0 else {
            throw MediaError.invalidArgument("prosody needs a sample rate ≥ 1000 Hz and fps > 0, got \(sampleRate), \(fps)")
        }
        let window = Int(0.04 * Double(sampleRate))
        let minLag = Int(Double(sampleRate) / Self.pitchRange.upperBound), maxLag = Int(Double(sampleRate) / Self.pitchRange.lowerBound)
        var energy = [Double](repeating: -120, count: frameCount), pitch = [Double](repeating: 0, count: frameCount)
        var frame = [Double](repeating: 0, count: window)
        for i in 0..<frameCount {
            let centre = Int((Double(i) + 0.5) / fps * Double(sampleRate))
            let start = centre - window / 2
            var sum = 0.0, mean = 0.0
            for k in 0..<window {
                let j = start + k
                frame[k] = j >= 0 && j < samples.count ? Double(samples[j]) : 0
                mean += frame[k]
            }
            mean /= Double(window)
            for k in 0..<window { frame[k] -= mean; sum += frame[k] * frame[k] }
            let rms = (sum / Double(window)).squareRoot()
            energy[i] = 20 * log10(max(rms, 1e-6))
            guard rms > 1e-4, maxLag < window / 2 else { continue }
            // Normalised autocorrelation r(τ) = Σ x_t x_{t+τ} / √(Σ x_t² Σ x_{t+τ}²) over the overlap.
            var r = [Double](repeating: 0, count: maxLag + 2)
            for lag in minLag...(maxLag + 1) {
                var xy = 0.0, xx = 0.0, yy = 0.0
                for t in 0..<(window - lag) {
                    let a = frame[t], b = frame[t + lag]
                    xy += a * b; xx += a * a; yy += b * b
                }
                r[lag] = xx > 0 && yy > 0 ? xy / (xx * yy).squareRoot() : 0
            }
            var best = minLag
            for lag in minLag...maxLag where r[lag] > r[best] { best = lag }
            guard r[best] >= Self.voicing else { continue }
            // The shortest lag that is a local peak nearly as high: a period, not a multiple of it.
            var lag = best
            for l in (minLag + 1)...maxLag where r[l] >= r[l - 1] && r[l] >= r[l + 1] && r[l] >= 0.9 * r[best] {
                lag = l
                break
            }
            // Parabolic interpolation around the peak for sub-sample precision.
            let a = r[lag - 1], b = r[lag], c = r[lag + 1], d = a - 2 * b + c
            let offset = d < 0 ? 0.5 * (a - c) / d : 0
            pitch[i] = Double(sampleRate) / (Double(lag) + max(-0.5, min(0.5, offset)))
        }
        self.init(energy: energy, pitch: pitch, fps: fps)
    }

    /// The prosody of any audio file ffmpeg reads (16 kHz mono), for `frameCount` frames at `fps`.
    public init(audio url: URL, fps: Double, frameCount: Int) throws {
        let rate = 16000
        try self.init(samples: try AudioDecoder.decode(url, sampleRate: rate), sampleRate: rate, fps: fps, frameCount: frameCount)
    }
}
