import FaceModel
import Foundation
import Media
import XCTest
@testable import Pipelines

/// Spontaneous blinks and gaze shifts (issue #22): seeded, at the asked rate, each blink a full closure of a plausible
/// length, each glance within the asked amplitude.
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
            let motion = try p.motion(for: .speech(SpeechDriver(audio: wav, blinkRate: rate, gazeShift: 0)), source: source, configuration: config)
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

    func testGazeShiftsStayWithinTheirAmplitudeAndMostlyRestOnTheCamera() throws {
        let fps = 25.0, frames = Int(10 * 60 * fps)
        let model = GazeShifts(maxDegrees: 5)
        let offsets = try model.offsets(frames: frames, fps: fps, seed: 11)
        XCTAssertEqual(offsets.count, frames)
        let limit = 5 * Double.pi / 180
        let away = offsets.filter { $0.yaw != 0 || $0.pitch != 0 }
        // A quarter of the time away on average (0.8 s of every 3.2 s); over 10 minutes about 190 glances, so the share's
        // spread is a few hundredths.
        let share = Double(away.count) / Double(frames)
        print(String(format: "gaze: away %.1f %% of the frames", 100 * share))
        XCTAssertEqual(share, model.meanAway / (model.meanAway + model.meanAtCamera), accuracy: 0.07)
        for o in away {
            let size = (o.yaw * o.yaw + o.pitch * o.pitch).squareRoot()
            XCTAssertLessThanOrEqual(size, limit * (1 + 1e-9))
            XCTAssertGreaterThanOrEqual(size, limit / 6 * (1 - 1e-9))
        }
        // No dwell shorter than the shortest one (in whole frames, the first and last runs aside).
        var runs: [Int] = [], run = 1
        for i in 1..<frames {
            if offsets[i] == offsets[i - 1] { run += 1 } else { runs.append(run); run = 1 }
        }
        XCTAssertGreaterThan(runs.count, 100)
        XCTAssertGreaterThanOrEqual(runs.dropFirst().min()!, Int(model.shortestDwell * fps) - 1)
        // Seeded; 0 degrees is no shift; out of range is an error.
        let again = try model.offsets(frames: frames, fps: fps, seed: 11), other = try model.offsets(frames: frames, fps: fps, seed: 12)
        XCTAssertTrue(zip(offsets, again).allSatisfy { $0 == $1 })
        XCTAssertFalse(zip(offsets, other).allSatisfy { $0 == $1 })
        XCTAssertTrue(try GazeShifts(maxDegrees: 0).offsets(frames: 500, fps: 25, seed: 1).allSatisfy { $0 == (0, 0) })
        for bad in [-1, 16, .nan] { XCTAssertThrowsError(try GazeShifts(maxDegrees: bad).offsets(frames: 10, fps: 25, seed: 0)) }
    }

    /// The shifts reach a talk's ω: both eyes' (x, y) move by the sine of the glance's yaw and pitch.
    func testTalkingGazeShifts() throws {
        let p = try tinyPipeline()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("speech.wav")
        _ = try SpeechSynthesizer.synthesize("A few words, then a few more, so that the eyes have time to wander a little.", to: wav)
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        var config = PipelineConfiguration()
        config.seed = 5
        func omega(_ degrees: Double) throws -> [Float] {
            try p.motion(for: .speech(SpeechDriver(audio: wav, blinkRate: 0, gazeShift: degrees)), source: source, configuration: config)
                .coefficients.gaze.contiguous().floats()
        }
        let still = try omega(0), moving = try omega(8)
        let rest = try source.coefficients.gaze.floats()
        for i in 0..<(still.count / 4) { XCTAssertEqual(Array(still[(4 * i)..<(4 * i + 4)]), rest) }
        let offsets = try GazeShifts(maxDegrees: 8).offsets(frames: still.count / 4, fps: 25, seed: 5)
        XCTAssertTrue(offsets.contains { $0.yaw != 0 }, "the clip should hold a glance")
        for (i, o) in offsets.enumerated() {
            for eye in 0..<2 {
                // float32 ω of magnitude < 1: a few ulps.
                XCTAssertEqual(Double(moving[4 * i + 2 * eye]), Double(rest[2 * eye]) + sin(o.yaw), accuracy: 1e-5)
                XCTAssertEqual(Double(moving[4 * i + 2 * eye + 1]), Double(rest[2 * eye + 1]) + sin(o.pitch), accuracy: 1e-5)
            }
        }
    }
}
