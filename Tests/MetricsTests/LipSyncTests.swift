import Foundation
import Media
import XCTest
@testable import Metrics

/// The audio-energy / mouth-opening correlation on synthetic speech-like signals with a known envelope.
final class LipSyncTests: XCTestCase {
    private let fps = 25.0, sampleRate = 16000

    /// A 150 Hz buzz whose loudness follows `envelope` (one value per video frame).
    private func speech(_ envelope: [Double]) -> [Float] {
        let perFrame = Int(Double(sampleRate) / fps)
        return (0..<(envelope.count * perFrame)).map { i in
            Float(envelope[i / perFrame] * sin(2 * Double.pi * 150 * Double(i) / Double(sampleRate)))
        }
    }

    /// Syllable-like envelope: bursts of different loudness with pauses.
    private func envelope(_ frames: Int, seed: UInt64) -> [Double] {
        var state = seed
        func next() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        var e: [Double] = []
        while e.count < frames {
            let length = 3 + Int(next() * 6), loud = next() < 0.3 ? 0 : 0.2 + 0.6 * next()
            e += [Double](repeating: loud, count: length)
        }
        return Array(e.prefix(frames))
    }

    func testSynchronisedMouthCorrelates() throws {
        let env = envelope(100, seed: 1)
        let energy = try LipSyncProxy.audioEnergy(samples: speech(env), sampleRate: sampleRate, fps: fps, frameCount: 100)
        // RMS of a sine is amplitude / √2, frame by frame.
        for (e, a) in zip(energy, env) { XCTAssertEqual(e, a / 2.0.squareRoot(), accuracy: 1e-3) }
        let mouth = env.map { Float(0.1 + 0.5 * $0) }
        let r = try LipSyncProxy.score(audioEnergy: energy, mouthOpening: mouth)
        XCTAssertGreaterThan(r.correlation, 0.99)
        XCTAssertEqual(r.lag, 0)
        XCTAssertEqual(r.frames, 100)
    }

    func testUnrelatedOrStaticMouthDoesNot() throws {
        let energy = try LipSyncProxy.audioEnergy(samples: speech(envelope(100, seed: 1)), sampleRate: sampleRate, fps: fps, frameCount: 100)
        let other = envelope(100, seed: 99).map(Float.init)
        XCTAssertLessThan(abs(try LipSyncProxy.score(audioEnergy: energy, mouthOpening: other).correlation), 0.3)
        XCTAssertEqual(try LipSyncProxy.score(audioEnergy: energy, mouthOpening: [Float](repeating: 0.2, count: 100)).correlation, 0)
    }

    func testLagSearchFindsADelayedMouth() throws {
        let env = envelope(120, seed: 3)
        let energy = try LipSyncProxy.audioEnergy(samples: speech(env), sampleRate: sampleRate, fps: fps, frameCount: 120)
        // The mouth follows the audio two frames late.
        let mouth = ([0.0, 0.0] + Array(env.prefix(env.count - 2))).map(Float.init)
        let atZero = try LipSyncProxy.score(audioEnergy: energy, mouthOpening: mouth)
        let searched = try LipSyncProxy.score(audioEnergy: energy, mouthOpening: mouth, maxLag: 3)
        XCTAssertEqual(searched.lag, 2)
        XCTAssertGreaterThan(searched.correlation, 0.99)
        XCTAssertLessThan(atZero.correlation, searched.correlation - 0.2)
    }

    func testFromAWAVFile() throws {
        let env = envelope(50, seed: 5)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-lipsync-\(UUID().uuidString).wav")
        defer { try? FileManager.default.removeItem(at: url) }
        try WAVWriter.write(speech(env), sampleRate: sampleRate, to: url)
        let r = try LipSyncProxy.score(audio: url, mouthOpening: env.map(Float.init), fps: fps)
        XCTAssertGreaterThan(r.correlation, 0.99)
    }

    func testRejectsBadInput() {
        XCTAssertThrowsError(try LipSyncProxy.score(audioEnergy: [1, 2], mouthOpening: [1, 2]))
        XCTAssertThrowsError(try LipSyncProxy.score(audioEnergy: [1, 2, 3, 4], mouthOpening: [1, .nan, 3, 4]))
        XCTAssertThrowsError(try LipSyncProxy.score(audioEnergy: [1, 2, 3, 4], mouthOpening: [1, 2, 3, 4], maxLag: 2))
        XCTAssertThrowsError(try LipSyncProxy.audioEnergy(samples: [0, 1], sampleRate: 16000, fps: 0, frameCount: 3))
        XCTAssertThrowsError(try LipSyncProxy.score(audio: URL(fileURLWithPath: "/nonexistent.wav"), mouthOpening: [1, 2, 3], fps: 25))
    }
}
