import FaceModel
import Foundation
import Media
import XCTest
@testable import Pipelines

/// Spontaneous blinks (issue #22): seeded, at the asked rate, each one a full closure of a plausible length.
final class BlinkModelTests: XCTestCase {
    func testBlinksComeAtTheAskedRateAndCloseFully() throws {
        let fps = 25.0, minutes = 10.0
        for rate in [10.0, BlinkModel.restingRate, 26] {
            let model = BlinkModel(ratePerMinute: rate)
            let blinks = try model.blinks(seconds: minutes * 60, fps: fps, seed: 7)
            // Gamma(2) intervals: over 10 minutes the count's spread is about √N·0.6 (≈ 8 at 17 a minute); ±20 % is
            // more than four of those at every rate here.
            let perMinute = Double(blinks.count) / minutes
            print(String(format: "rate %.0f: %d blinks in %.0f min (%.1f a minute)", rate, blinks.count, minutes, perMinute))
            XCTAssertEqual(perMinute, rate, accuracy: 0.2 * rate)
            for (a, b) in zip(blinks, blinks.dropFirst()) { XCTAssertGreaterThanOrEqual(b.start - a.start, min(model.refractory, 60 / rate) - 1e-9) }
            for b in blinks {
                XCTAssertGreaterThan(b.end, b.start)
                XCTAssertLessThan(b.start, minutes * 60)
                XCTAssertTrue((0.1...0.4).contains(b.end - b.start), "a blink lasts 100–400 ms, got \(b.end - b.start)")
                XCTAssertLessThan(b.closing, b.opening, "the lid closes faster than it reopens")
            }
            // Sampled at the frame rate, every blink reaches full closure at some frame and the lids are open between.
            let closure = try model.closures(frames: Int(minutes * 60 * fps), fps: fps, seed: 7)
            for b in blinks where b.end < minutes * 60 {
                let frames = Int((b.start * fps).rounded(.down))...Int((b.end * fps).rounded(.up))
                XCTAssertEqual(frames.map { closure[$0] }.max()!, 1, accuracy: 1e-12)
            }
            XCTAssertGreaterThan(closure.filter { $0 == 0 }.count, closure.count * 8 / 10)
        }
    }

    func testTheSameSeedGivesTheSameBlinksAndZeroGivesNone() throws {
        let model = BlinkModel()
        XCTAssertEqual(try model.blinks(seconds: 60, fps: 25, seed: 1), try model.blinks(seconds: 60, fps: 25, seed: 1))
        XCTAssertNotEqual(try model.blinks(seconds: 60, fps: 25, seed: 1), try model.blinks(seconds: 60, fps: 25, seed: 2))
        XCTAssertEqual(try BlinkModel(ratePerMinute: 0).closures(frames: 500, fps: 25, seed: 1), [Double](repeating: 0, count: 500))
        for bad in [-1, 61, .nan, .infinity] {
            XCTAssertThrowsError(try BlinkModel(ratePerMinute: bad).blinks(seconds: 10, fps: 25, seed: 0), "rate \(bad)")
        }
    }

    /// A talk's coefficients: the two blink units close fully during blinks (β = 1) at the seed's times, and with a rate
    /// of 0 they are EmoA2E's own.
    func testTalkingCoefficientsBlink() throws {
        let p = try tinyPipeline()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("speech.wav")
        let speech = try SpeechSynthesizer.synthesize("One blink, then another, and one more while I keep on talking.", to: wav)
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let names = p.renderer.model.expressionNames
        let units = ["eyeBlinkLeft", "eyeBlinkRight"].map { names.firstIndex(of: $0)! }
        func blinkUnits(rate: Double) throws -> [[Float]] {
            var config = PipelineConfiguration()
            config.seed = 3
            let motion = try p.motion(for: .speech(SpeechDriver(audio: wav, blinkRate: rate)), source: source, configuration: config)
            let beta = try motion.coefficients.expression.contiguous().floats(), k = CoefficientPart.expression.count
            return units.map { u in (0..<motion.coefficients.batch).map { beta[$0 * k + u] } }
        }
        let blinking = try blinkUnits(rate: 40), still = try blinkUnits(rate: 0)
        let frames = Int((speech.duration * 25).rounded(.up))
        let expected = try BlinkModel(ratePerMinute: 40).closures(frames: frames, fps: 25, seed: 3)
        XCTAssertGreaterThan(expected.filter { $0 == 1 }.count, 0, "the clip (\(speech.duration) s) should hold a blink")
        for (b, s) in zip(blinking, still) {
            XCTAssertEqual(b.count, frames)
            for i in 0..<frames {
                // During a blink its closure, or EmoA2E's own where it asks for more; between blinks EmoA2E's.
                XCTAssertEqual(Double(b[i]), expected[i] > 0 ? max(Double(s[i]), expected[i]) : Double(s[i]), accuracy: 1e-6)
            }
            XCTAssertLessThan(s.max()!, 0.9, "EmoA2E alone does not close the lids")
        }
    }
}
