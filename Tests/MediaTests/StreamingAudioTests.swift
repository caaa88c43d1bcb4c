import Foundation
import Torch
import XCTest
@testable import Media

/// Audio streams from ffmpeg into MFCC rows (bounded memory on long files) with exactly the results of the
/// whole-signal path.
final class StreamingAudioTests: XCTestCase {
    func signal(_ n: Int, seed: UInt64 = 3) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var x = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let noise = Double(rng.next() % 2001) / 1000 - 1
            x[i] = Float(0.5 * sin(Double(i) * 0.031) + 0.2 * noise)
        }
        return x
    }

    func testStreamedMFCCEqualsTheWholeSignalForAnyPieces() throws {
        let mfcc = try MFCC()
        // Lengths: shorter than a window, exactly a window, window + whole hops, window + partial hop, long.
        for n in [100, 400, 400 + 160 * 7, 400 + 160 * 7 + 33, 16_000 * 3 + 17] {
            let x = signal(n)
            let whole = try mfcc.compute(x)
            for piece in [1, 7, 160, 401, 65_537] {
                var stream = try MFCCStream(mfcc)
                var i = 0
                while i < n { try stream.append(Array(x[i..<min(n, i + piece)])); i += piece }
                let streamed = try stream.finish()
                XCTAssertEqual(streamed.rowCount, whole.rowCount, "n \(n), pieces of \(piece)")
                XCTAssertEqual(streamed.values, whole.values, "n \(n), pieces of \(piece): rows differ")
            }
        }
        var empty = try MFCCStream(mfcc)
        XCTAssertThrowsError(try empty.finish())
        var nan = try MFCCStream(mfcc)
        XCTAssertThrowsError(try nan.append([0, .nan]))
    }

    func testStreamedDecodeAndClipsEqualTheWholeFile() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("a.wav")
        try ffmpeg(["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=22050:duration=2.3", wav.path])
        let whole = try AudioDecoder.decode(wav)
        var pieces: [[Float]] = []
        let count = try AudioDecoder.decode(wav, chunk: 999) { pieces.append($0) }
        XCTAssertEqual(count, whole.count)
        XCTAssertTrue(pieces.allSatisfy { $0.count <= 999 })
        XCTAssertEqual(Array(pieces.joined()), whole)
        // Clips from the streamed rows equal clips from the whole signal's rows.
        let clipper = try MFCCClips()
        let expected = try clipper.clips(from: MFCC().compute(whole), config: MFCCConfig(),
                                         frameCount: clipper.frameCount(sampleCount: whole.count, sampleRate: 16000))
        XCTAssertEqual(try clipper.clips(audio: wav).floats(), try expected.floats())   // exact: each row is the same double code on the same 400 samples, whatever the chunking
        // An error from the consumer stops the decoder and comes back.
        struct Stop: Error {}
        XCTAssertThrowsError(try AudioDecoder.decode(wav, chunk: 100) { _ in throw Stop() }) { XCTAssertTrue($0 is Stop) }
    }
}
