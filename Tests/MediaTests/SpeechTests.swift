import Foundation
import XCTest
@testable import Media

final class SpeechTests: XCTestCase {
    private func requireESpeak() throws {
        try requireOrSkip(ExternalTool.locate("espeak-ng") != nil, "espeak-ng is not installed (scripts/setup.sh)")
    }

    func testSynthesizeWithPhonemeTimings() throws {
        try requireESpeak()
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("hello.wav")
        let r = try SpeechSynthesizer.synthesize("Hello world, this is a test.", to: url)
        let samples = try AudioDecoder.decode(url, sampleRate: 16000)
        let audioSeconds = Double(samples.count) / 16000
        XCTAssertEqual(audioSeconds, r.duration, accuracy: 0.01)
        XCTAssertGreaterThan(audioSeconds, 1.0)

        // Segments are contiguous, start at 0 and their durations sum to the audio length.
        let p = r.phonemes
        XCTAssertGreaterThan(p.count, 15)
        XCTAssertEqual(p.first?.start, 0)
        for (a, b) in zip(p, p.dropFirst()) { XCTAssertEqual(a.end, b.start, accuracy: 1e-9) }
        XCTAssertEqual(p.map(\.duration).reduce(0, +), audioSeconds, accuracy: 0.02)
        let spoken = p.map(\.phoneme).filter { !$0.hasPrefix("_") }
        XCTAssertEqual(Array(spoken.prefix(4)), ["h", "@", "l", "oU"], "espeak's phonemes for 'hello'")

        // The timings match the audio: the comma pause is much quieter than the vowels.
        func rms(_ s: PhonemeSegment) -> Double {
            let a = Int(s.start * 16000), b = min(samples.count, Int(s.end * 16000))
            guard b > a else { return 0 }
            return (samples[a..<b].map { Double($0 * $0) }.reduce(0, +) / Double(b - a)).squareRoot()
        }
        let pause = try XCTUnwrap(p.first { $0.phoneme == "_:" && $0.duration > 0.05 })
        let vowels = p.filter { ["oU", "3:", "E"].contains($0.phoneme) }
        XCTAssertFalse(vowels.isEmpty)
        for v in vowels { XCTAssertGreaterThan(rms(v), 10 * rms(pause), "\(v.phoneme) at \(v.start)") }
    }

    func testOptionsChangeTheSpeech() throws {
        try requireESpeak()
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var slow = SpeechSynthesizer.Options()
        slow.rate = 100
        var fast = SpeechSynthesizer.Options()
        fast.rate = 300
        fast.amplitude = 50
        let text = "The quick brown fox jumps over the lazy dog."
        let a = try SpeechSynthesizer.synthesize(text, options: slow, to: dir.appendingPathComponent("slow.wav"))
        let b = try SpeechSynthesizer.synthesize(text, options: fast, to: dir.appendingPathComponent("fast.wav"))
        XCTAssertGreaterThan(a.duration, 1.8 * b.duration)
        let loud = try AudioDecoder.decode(dir.appendingPathComponent("slow.wav")).map(abs).max() ?? 0
        let quiet = try AudioDecoder.decode(dir.appendingPathComponent("fast.wav")).map(abs).max() ?? 0
        XCTAssertLessThan(quiet, loud * 0.8)
        var german = SpeechSynthesizer.Options()
        german.voice = "de"
        german.pitch = 80
        XCTAssertFalse(try SpeechSynthesizer.synthesize("Guten Tag", options: german, to: dir.appendingPathComponent("de.wav")).phonemes.isEmpty)
    }

    func testBadInput() throws {
        try requireESpeak()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID().uuidString).wav")
        assertThrowsMediaError(try SpeechSynthesizer.synthesize("   ", to: url)) { if case .invalidArgument = $0 { return true } else { return false } }
        var o = SpeechSynthesizer.Options()
        o.voice = "no-such-voice"
        assertThrowsMediaError(try SpeechSynthesizer.synthesize("hi", options: o, to: url)) { if case .invalidArgument = $0 { return true } else { return false } }
        o = SpeechSynthesizer.Options()
        o.rate = 5
        assertThrowsMediaError(try SpeechSynthesizer.synthesize("hi", options: o, to: url)) { if case .invalidArgument = $0 { return true } else { return false } }
        o = SpeechSynthesizer.Options()
        o.pitch = 120
        assertThrowsMediaError(try SpeechSynthesizer.synthesize("hi", options: o, to: url)) { if case .invalidArgument = $0 { return true } else { return false } }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        // Segment construction from raw events.
        let segs = SpeechSynthesizer.segments(from: [.init(phoneme: "a", milliseconds: 10), .init(phoneme: "'", milliseconds: 10),
                                                     .init(phoneme: "b", milliseconds: 50)], duration: 0.08)
        XCTAssertEqual(segs, [PhonemeSegment(phoneme: "_", start: 0, end: 0.01), PhonemeSegment(phoneme: "'", start: 0.01, end: 0.05),
                              PhonemeSegment(phoneme: "b", start: 0.05, end: 0.08)])
    }
}
