import Torch
import Foundation
import XCTest
@testable import Media

final class AudioTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil), "missing fixture \(name)")
    }

    func testDecodeResamplesAndDownmixes() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 0.5 s of a 440 Hz sine as 44.1 kHz stereo with equal channels: the downmix gives the sine back.
        let src = dir.appendingPathComponent("stereo.wav")
        try ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=0.5", "-ac", "2",
                    "-c:a", "pcm_s16le", src.path])
        let mono = try AudioDecoder.decode(src, sampleRate: 16000)
        XCTAssertEqual(mono.count, 8000, accuracy: 2)
        let peak = mono.map(abs).max() ?? 0
        XCTAssertEqual(Double(peak), 0.125, accuracy: 0.005) // lavfi's sine has amplitude 1/8
        // Dominant frequency by zero crossings: 440 Hz -> 880 crossings per second.
        let crossings = zip(mono.dropLast(), mono.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        XCTAssertEqual(Double(crossings) / 0.5, 880, accuracy: 12)
        XCTAssertEqual(try AudioDecoder.duration(of: src), 0.5, accuracy: 0.01)

        // Our WAV writer round-trips through ffmpeg to 16-bit precision.
        let ramp = (0..<1600).map { Float($0) / 1600 - 0.5 }
        let wav = dir.appendingPathComponent("ramp.wav")
        try WAVWriter.write(ramp, sampleRate: 16000, to: wav)
        let back = try AudioDecoder.decode(wav, sampleRate: 16000)
        XCTAssertEqual(back.count, ramp.count)
        XCTAssertLessThan(zip(back, ramp).map { abs($0 - $1) }.max() ?? 1, 1.0 / 16000)
    }

    func testDecodeErrors() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        assertThrowsMediaError(try AudioDecoder.decode(dir.appendingPathComponent("no.wav"))) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        let junk = dir.appendingPathComponent("junk.wav")
        try Data(repeating: 7, count: 100).write(to: junk)
        assertThrowsMediaError(try AudioDecoder.decode(junk)) {
            switch $0 { case .unsupportedFormat, .corruptData: return true; default: return false }
        }
        // A WAV with a valid header and zero samples.
        let empty = dir.appendingPathComponent("empty.wav")
        var header = Data("RIFF".utf8) + le32(36) + Data("WAVEfmt ".utf8) + le32(16)
        header += le16(1) + le16(1) + le32(16000) + le32(32000) + le16(2) + le16(16) + Data("data".utf8) + le32(0)
        try header.write(to: empty)
        assertThrowsMediaError(try AudioDecoder.decode(empty)) { if case .emptyAudio = $0 { return true } else { return false } }
        // A video without audio.
        let silentVideo = dir.appendingPathComponent("v.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=32x32:rate=25", "-t", "0.2", "-c:v", "libx264", "-pix_fmt", "yuv420p", silentVideo.path])
        assertThrowsMediaError(try AudioDecoder.decode(silentVideo)) { if case .emptyAudio = $0 { return true } else { return false } }
        assertThrowsMediaError(try WAVWriter.write([], sampleRate: 16000, to: empty)) { if case .emptyAudio = $0 { return true } else { return false } }
        assertThrowsMediaError(try WAVWriter.write([.nan], sampleRate: 16000, to: empty)) { if case .invalidArgument = $0 { return true } else { return false } }
    }

    /// Parity with python_speech_features.mfcc (fixture from scripts/fixtures/media_mfcc.py).
    func testMFCCMatchesPythonSpeechFeatures() throws {
        let file = try Safetensors.load(try fixture("mfcc_psf.safetensors"))
        let signal = try XCTUnwrap(file.tensors["signal"]).floats()
        func compare(_ ours: MFCCFeatures, _ key: String) throws {
            let ref = try XCTUnwrap(file.tensors[key])
            XCTAssertEqual([ours.rowCount, ours.coefficientCount], ref.shape, key)
            let expected = try ref.floats()
            var worst = 0.0
            for (a, b) in zip(ours.values, expected) {
                worst = max(worst, Double(abs(a - b)) / (1 + Double(abs(b))))
            }
            // Both sides compute in double and store float32: the difference is the two roundings to float32 (≤ u
            // relative each) plus double-precision noise; 8u relative to (1 + |b|) is RoundingBound of one rounding.
            print("MFCC \(key) vs python_speech_features: worst relative error \(worst)")
            XCTAssertLessThan(worst, RoundingBound.float32(accumulating: 1, magnitude: 1), "\(key): worst relative error \(worst)")
        }
        let mfcc = try MFCC()
        XCTAssertEqual(mfcc.config.windowLength, 400)
        XCTAssertEqual(mfcc.config.hopLength, 160)
        try compare(try mfcc.compute(signal), "mfcc")
        try compare(try mfcc.compute(Array(signal.prefix(300))), "mfcc_short")
        var hamming = MFCCConfig()
        hamming.window = .hamming
        try compare(try MFCC(config: hamming).compute(signal), "mfcc_hamming")
    }

    func testFFTAgainstDirectDFT() throws {
        var spectrum = try RealPowerSpectrum(n: 64)
        let x = (0..<50).map { Foundation.sin(Double($0) * 0.7) + 0.3 * Foundation.cos(Double($0 * $0) * 0.01) }
        var power = [Double](repeating: 0, count: 33)
        x.withUnsafeBufferPointer { f in power.withUnsafeMutableBufferPointer { spectrum.compute(f, into: $0) } }
        for k in 0...32 {
            var re = 0.0, im = 0.0
            for (n, v) in x.enumerated() {
                re += v * Foundation.cos(-2 * Double.pi * Double(k * n) / 64)
                im += v * Foundation.sin(-2 * Double.pi * Double(k * n) / 64)
            }
            XCTAssertEqual(power[k], re * re + im * im, accuracy: 1e-9 * (1 + re * re + im * im))   // double: 64-term sums ≈ 8√64·2⁻⁵³ ≈ 7e-15, with room for the twiddles
        }
    }

    func testMFCCErrors() throws {
        let mfcc = try MFCC()
        assertThrowsMediaError(try mfcc.compute([])) { if case .emptyAudio = $0 { return true } else { return false } }
        assertThrowsMediaError(try mfcc.compute([0, .nan, 0])) { if case .invalidArgument = $0 { return true } else { return false } }
        var bad = MFCCConfig()
        bad.fftSize = 300
        assertThrowsMediaError(try MFCC(config: bad)) { if case .invalidArgument = $0 { return true } else { return false } }
        bad = MFCCConfig()
        bad.fftSize = 256 // shorter than the 400-sample window
        assertThrowsMediaError(try MFCC(config: bad)) { if case .invalidArgument = $0 { return true } else { return false } }
        bad = MFCCConfig()
        bad.cepstrumCount = 40
        assertThrowsMediaError(try MFCC(config: bad)) { if case .invalidArgument = $0 { return true } else { return false } }
    }

    func testClipsAlignToVideoFrames() throws {
        // Rows whose values encode their own index make the alignment visible.
        let rows = 100, c = 13
        let values = (0..<(rows * c)).map { Float($0 / c) }
        let features = MFCCFeatures(rowCount: rows, coefficientCount: c, values: values)
        let clipper = try MFCCClips(rowsPerClip: 20, fps: 25)
        let config = MFCCConfig()
        XCTAssertEqual(clipper.firstRow(frame: 0, config: config), -9)
        XCTAssertEqual(clipper.firstRow(frame: 10, config: config), 31)
        let clips = try clipper.clips(from: features, config: config, frameCount: 25)
        XCTAssertEqual(clips.shape, [25, 20, 13])
        let v = try clips.floats()
        func rowIndex(frame: Int, k: Int) -> Int { Int(v[(frame * 20 + k) * c]) }
        XCTAssertEqual((0..<20).map { rowIndex(frame: 0, k: $0) }, [Int](repeating: 0, count: 10) + Array(1...10))
        XCTAssertEqual((0..<20).map { rowIndex(frame: 10, k: $0) }, Array(31...50))
        XCTAssertEqual(rowIndex(frame: 24, k: 19), 99, "edge padding at the end")
        XCTAssertEqual(rowIndex(frame: 24, k: 0), 87)
        // 4 rows per frame at 25 fps.
        for i in 1..<25 { XCTAssertEqual(rowIndex(frame: i, k: 19) - rowIndex(frame: i - 1, k: 19), i < 23 ? 4 : (i == 23 ? 1 : 0)) }

        XCTAssertEqual(clipper.frameCount(sampleCount: 16000, sampleRate: 16000), 25)
        XCTAssertEqual(clipper.frameCount(sampleCount: 16001, sampleRate: 16000), 26)
        assertThrowsMediaError(try MFCCClips(rowsPerClip: 0)) { if case .invalidArgument = $0 { return true } else { return false } }
        assertThrowsMediaError(try clipper.clips(from: features, config: config, frameCount: 0)) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }

    func testClipsFromAudioFile() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("a.wav")
        try ffmpeg(["-f", "lavfi", "-i", "sine=frequency=200:sample_rate=16000:duration=1.2", wav.path])
        let clips = try MFCCClips().clips(audio: wav)
        XCTAssertEqual(clips.shape, [30, 20, 13])
        let energy = try clips.select(2, 0).floats() // log energy column
        XCTAssertTrue(energy.allSatisfy { $0.isFinite && $0 > -10 })
    }
}

private func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
private func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
