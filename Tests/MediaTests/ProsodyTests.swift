import Foundation
import XCTest
@testable import Media

/// Loudness and voice pitch per video frame (issue #22 item 2), on signals whose answers are known.
final class ProsodyTests: XCTestCase {
    let rate = 16000

    func tone(_ hz: Double, seconds: Double, amplitude: Double) -> [Float] {
        (0..<Int(seconds * Double(rate))).map { Float(amplitude * sin(2 * .pi * hz * Double($0) / Double(rate))) }
    }

    /// A sine's level is its RMS (amplitude/√2) in dBFS; its pitch is its frequency. 40 ms windows hold 4–8 periods
    /// of 100–200 Hz, and parabolic interpolation of the autocorrelation peak lands within a fraction of a sample of
    /// the period (at 200 Hz, 80 samples: a tenth of a sample is 0.25 Hz; we allow 1 %).
    func testASineHasItsLevelAndItsFrequency() throws {
        for hz in [100.0, 147.0, 200.0] {
            let p = try Prosody(samples: tone(hz, seconds: 1, amplitude: 0.5), sampleRate: rate, fps: 25, frameCount: 25)
            for i in 2..<23 {
                XCTAssertEqual(p.energy[i], 20 * log10(0.5 / 2.0.squareRoot()), accuracy: 0.1, "frame \(i) at \(hz) Hz")
                XCTAssertEqual(p.pitch[i], hz, accuracy: 0.01 * hz, "frame \(i) at \(hz) Hz")
            }
        }
    }

    /// A voice-like signal with strong harmonics (a 120 Hz pulse train, lowpassed) reads its fundamental, not an octave.
    func testHarmonicsDoNotFoolThePitch() throws {
        let f0 = 120.0
        var samples = [Float](repeating: 0, count: rate)
        for t in 0..<rate {
            var v = 0.0
            for h in 1...6 { v += sin(2 * Double.pi * f0 * Double(h) * Double(t) / Double(rate)) / Double(h) }
            samples[t] = Float(0.2 * v)
        }
        let p = try Prosody(samples: samples, sampleRate: rate, fps: 25, frameCount: 25)
        for i in 2..<23 { XCTAssertEqual(p.pitch[i], f0, accuracy: 0.01 * f0) }
    }

    /// Noise is loud but unvoiced; silence is quiet and unvoiced; frames past the end are silence.
    func testNoiseAndSilenceAreUnvoiced() throws {
        var rng = SystemRandomNumberGenerator()
        let noise: [Float] = (0..<(rate / 2)).map { _ in Float.random(in: -0.3...0.3, using: &rng) }
        let samples = noise + [Float](repeating: 0, count: rate / 2)
        let p = try Prosody(samples: samples, sampleRate: rate, fps: 25, frameCount: 30)
        for i in 1..<11 {
            XCTAssertEqual(p.pitch[i], 0, "noise frame \(i) is unvoiced")
            XCTAssertGreaterThan(p.energy[i], -20)
        }
        for i in 14..<30 {
            XCTAssertEqual(p.pitch[i], 0)
            XCTAssertLessThan(p.energy[i], -100, "silence (and past the end) is quiet")
        }
        XCTAssertThrowsError(try Prosody(samples: samples, sampleRate: 10, fps: 25, frameCount: 3))
    }
}
