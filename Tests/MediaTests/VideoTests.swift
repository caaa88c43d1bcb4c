import Torch
import Foundation
import XCTest
@testable import Media

final class VideoTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    func testProbeAndStreamFrames() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("in.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=96x64:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
                    "-t", "0.8", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", url.path])
        let info = try VideoProbe.probe(url)
        XCTAssertEqual(info.width, 96)
        XCTAssertEqual(info.height, 64)
        XCTAssertEqual(info.fps, 25, accuracy: 1e-6)
        XCTAssertEqual(info.frameCount, 20)
        XCTAssertTrue(info.hasAudio)

        let reader = try VideoReader(url: url)
        var frames = [RGBImage]()
        try reader.forEachFrame { _, f in frames.append(f); return true }
        XCTAssertEqual(frames.count, 20)
        XCTAssertNil(try reader.nextFrame(), "the end stays the end")
        XCTAssertEqual(frames[0].width, 96)
        // testsrc moves over time: consecutive frames differ, and decoded pixels are not blank.
        XCTAssertGreaterThan(meanAbsDiff(frames[0].pixels, frames[10].pixels), 1)
        XCTAssertGreaterThan(Set(frames[0].pixels).count, 20)

        // The same frame decoded to PNG by ffmpeg matches our stream (same decoder, same conversion).
        let png = dir.appendingPathComponent("f5.png")
        try ffmpeg(["-i", url.path, "-vf", "select=eq(n\\,5)", "-frames:v", "1", "-update", "1", "-pix_fmt", "rgb24", png.path])
        XCTAssertLessThan(meanAbsDiff(try RGBImage(contentsOf: png).pixels, frames[5].pixels), 0.5)

        // Resizing and fps conversion inside ffmpeg; stopping early closes the pipe cleanly.
        let small = try VideoReader(url: url, size: (48, 32), fps: 10)
        var n = 0
        while let f = try small.nextFrame() {
            XCTAssertEqual(f.width, 48); XCTAssertEqual(f.height, 32)
            n += 1
        }
        XCTAssertEqual(n, 8)
        let early = try VideoReader(url: url)
        var seen = 0
        try early.forEachFrame { i, _ in seen = i + 1; return i < 2 }
        XCTAssertEqual(seen, 3)
        early.close()
        let t = try XCTUnwrap(try VideoReader(url: url).nextTensor())
        XCTAssertEqual(t.shape, [1, 3, 64, 96])
    }

    func testWriterRoundTripWithAudio() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("tone.wav")
        let tone = (0..<16000).map { Float(0.3 * sin(2 * Double.pi * 300 * Double($0) / 16000)) }
        try WAVWriter.write(tone, sampleRate: 16000, to: wav) // 1.0 s of audio, 0.6 s of video below
        let out = dir.appendingPathComponent("out.mp4")
        let writer = try VideoWriter(url: out, width: 64, height: 48, fps: 25, audio: wav, crf: 10, preset: "ultrafast")
        var written = [RGBImage]()
        for i in 0..<15 {
            var img = try RGBImage(width: 64, height: 48, fill: (UInt8(i * 15), 80, UInt8(255 - i * 15)))
            for y in 10..<30 { for x in (i * 2)..<(i * 2 + 16) { img.setPixel(x: x, y: y, (255, 255, 255)) } }
            written.append(img)
            try writer.write(img)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "the final name appears only after finish()")
        try writer.finish()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["out.mp4", "tone.wav"])
        let info = try VideoProbe.probe(out)
        XCTAssertEqual(info.width, 64)
        XCTAssertEqual(info.height, 48)
        XCTAssertEqual(info.frameCount, 15)
        XCTAssertTrue(info.hasAudio)
        let audio = try AudioDecoder.decode(out)
        XCTAssertEqual(Double(audio.count) / 16000, 0.6, accuracy: 0.1, "-shortest cuts the audio to the video")
        let reader = try VideoReader(url: out)
        var k = 0
        while let f = try reader.nextFrame() {
            XCTAssertLessThan(meanAbsDiff(f.pixels, written[k].pixels), 6, "frame \(k)")
            k += 1
        }
        XCTAssertEqual(k, 15)

        // Odd sizes are padded to even; tensors are accepted.
        let odd = dir.appendingPathComponent("odd.mp4")
        let w2 = try VideoWriter(url: odd, width: 33, height: 21, fps: 25, preset: "ultrafast")
        try w2.write(tensor: try Tensor.zeros([1, 3, 21, 33]))
        try w2.finish()
        let oddInfo = try VideoProbe.probe(odd)
        XCTAssertEqual([oddInfo.width, oddInfo.height], [34, 22])
        XCTAssertFalse(oddInfo.hasAudio)
    }

    func testWriterErrorsAndCancel() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("x.mp4")
        let w = try VideoWriter(url: out, width: 32, height: 32, fps: 25, preset: "ultrafast")
        assertThrowsMediaError(try w.write(try RGBImage(width: 16, height: 32))) { if case .invalidDimensions = $0 { return true } else { return false } }
        try w.write(try RGBImage(width: 32, height: 32))
        w.cancel()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "cancel leaves nothing behind")
        let empty = try VideoWriter(url: out, width: 32, height: 32, fps: 25)
        assertThrowsMediaError(try empty.finish()) { if case .noFrames = $0 { return true } else { return false } }
        assertThrowsMediaError(try VideoWriter(url: dir.appendingPathComponent("x.avi"), width: 32, height: 32, fps: 25)) {
            if case .unsupportedFormat = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try VideoWriter(url: out, width: 32, height: 32, fps: 25, audio: dir.appendingPathComponent("none.wav"))) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try VideoWriter(url: out, width: 100_000, height: 32, fps: 25)) {
            if case .invalidDimensions = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try VideoWriter(url: out, width: 32, height: 32, fps: 0)) { if case .invalidArgument = $0 { return true } else { return false } }
    }

    func testReaderErrors() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        assertThrowsMediaError(try VideoReader(url: dir.appendingPathComponent("missing.mp4"))) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        let junk = dir.appendingPathComponent("junk.mp4")
        try Data("definitely not a video".utf8).write(to: junk)
        assertThrowsMediaError(try VideoReader(url: junk)) { if case .unsupportedFormat = $0 { return true } else { return false } }
        let wav = dir.appendingPathComponent("a.wav")
        try WAVWriter.write([0.1, 0.2, 0.3], sampleRate: 16000, to: wav)
        assertThrowsMediaError(try VideoReader(url: wav)) { if case .noFrames = $0 { return true } else { return false } }
        // A container with a video stream header but the frame data cut away.
        let full = dir.appendingPathComponent("full.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", full.path])
        let bytes = try Data(contentsOf: full)
        let cut = dir.appendingPathComponent("cut.mp4")
        try bytes.prefix(bytes.count / 3).write(to: cut)
        do {
            let r = try VideoReader(url: cut)
            while try r.nextFrame() != nil {}
            XCTAssertLessThan(r.framesRead, 25, "a third of the file cannot hold every frame")
        } catch let e as MediaError {
            switch e {
            case .corruptData, .noFrames, .unsupportedFormat: break
            default: XCTFail("unexpected \(e)")
            }
        }
        assertThrowsMediaError(try VideoReader(url: full, size: (0, 10))) { if case .invalidDimensions = $0 { return true } else { return false } }
    }
}
