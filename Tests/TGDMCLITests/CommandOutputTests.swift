import FaceModel
import Foundation
import Media
import Torch
import XCTest

/// The generating and analysing commands checked by what they wrote, the way a user would look at it: sizes, frame
/// counts and durations from ffprobe, pixels compared with the inputs, JSON read without the library's loaders.
/// The generator is the tiny random model (its faces do not matter here); analysis runs on the real photo.
final class CommandOutputTests: XCTestCase {
    /// Pixels farther than `radius` (Chebyshev) from every pixel of `masks` (each N×1×S×S, 1 on the face): S×S flags.
    func farFrom(_ masks: [Tensor], radius: Int) throws -> [Bool] {
        var union = masks[0]
        for m in masks.dropFirst() { union = try (union + m).clamp(min: 0, max: 1) }
        let near = try F.maxPool2d(union.reshape([1, 1, union.size(-2), union.size(-1)]), kernel: 2 * radius + 1, stride: 1, padding: radius)
        return try near.contiguous().floats().map { $0 < 0.5 }
    }

    /// The largest channel difference between `a` and `b` over the pixels where `select` holds, and how many there are.
    func maxDifference(_ a: RGBImage, _ b: RGBImage, where select: [Bool]) -> (max: Int, pixels: Int) {
        var worst = 0, n = 0
        for p in 0..<(a.width * a.height) where select[p] {
            n += 1
            for c in 0..<3 { worst = max(worst, abs(Int(a.pixels[3 * p + c]) - Int(b.pixels[3 * p + c]))) }
        }
        return (worst, n)
    }

    /// Mean absolute channel difference over the pixels where `select` holds, in uint8 levels.
    func meanDifference(_ a: RGBImage, _ b: RGBImage, where select: [Bool]) -> Double {
        var sum = 0, n = 0
        for p in 0..<(a.width * a.height) where select[p] {
            n += 3
            for c in 0..<3 { sum += abs(Int(a.pixels[3 * p + c]) - Int(b.pixels[3 * p + c])) }
        }
        return Double(sum) / Double(max(n, 1))
    }

    /// The face masks of coefficient files rendered by the library at `size`.
    func faceMasks(_ files: [URL], size: Int) throws -> [Tensor] {
        let renderer = try FaceRenderer.makeDefault()
        return try files.map { url in try Torch.noGrad { try renderer.render(Coefficients.load(from: url), width: size, height: size).mask } }
    }

    /// Reenactment at --size 256 of the synthetic source widened to 512×256 by 128 columns of pattern on each side
    /// (its sidecar ρ holds for the centre square, which is the face crop): the output is the whole 512×256 frame;
    /// away from the face the pixels are the source's; the face moved; the grid shows source | driver | I_3d | TGDM |
    /// warped source | output at 160 px high.
    func testReenactKeepsTheFrameAndTheBackgroundAndLaysOutTheGrid() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir)
        let face = try RGBImage(contentsOf: samples.appendingPathComponent("source.png"))
        var source = try RGBImage(width: 512, height: 256)
        for y in 0..<256 { for x in 0..<512 { source.setPixel(x: x, y: y, (UInt8(x % 256), UInt8(y), UInt8((x + 3 * y) % 256))) } }
        source.blit(face, x: 128, y: 0)
        let wide = dir.appendingPathComponent("wide.png")
        try source.write(to: wide)
        try FileManager.default.copyItem(at: samples.appendingPathComponent("source.coeffs.json"), to: dir.appendingPathComponent("wide.coeffs.json"))
        let out = dir.appendingPathComponent("r.png"), grid = dir.appendingPathComponent("g.png"), rho = dir.appendingPathComponent("rho.json")
        let r = try tgdm(["reenact", "--model", model.path, "--source", wide.path, "--driving", "Samples/driving.png",
                          "-o", out.path, "--grid", grid.path, "--save-coeffs", rho.path, "--size", "256"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("sidecar wide.coeffs.json"), r.stdout)
        let result = try RGBImage(contentsOf: out)
        XCTAssertEqual([result.width, result.height], [512, 256])

        // The warp moves nothing farther from the output's face than its fade-out (FaceWarper fadeEnd 0.22 of the
        // side, plus one coarse cell, side/64) and the composite's blend (2 × side/96); the source's own face is
        // excluded too (disocclusions). There the source pixels pass through float32 crop, composite and paste-back
        // at an identity transform: equal up to one uint8 rounding step. Outside the crop they are not touched.
        let radius = Int((0.22 + 1.0 / 64 + 2.0 / 96) * 256) + 2
        let masks = try faceMasks([rho, samples.appendingPathComponent("source.coeffs.json")], size: 256)
        let farInCrop = try farFrom(masks, radius: radius)
        let background = (0..<(512 * 256)).map { p in
            let x = p % 512, y = p / 512
            return x < 128 || x >= 384 || farInCrop[y * 256 + x - 128]
        }
        let kept = maxDifference(result, source, where: background)
        print("reenact: \(kept.pixels) background pixels, max difference \(kept.max)")
        XCTAssertGreaterThanOrEqual(kept.pixels, 2 * 128 * 256)
        XCTAssertLessThanOrEqual(kept.max, 1, "the background changed")
        // The face itself moved to the driver's expression and pose (a copy of the source differs by 0).
        let faceMask = try masks[0].contiguous().floats()
        let onFace = (0..<(512 * 256)).map { p in p % 512 >= 128 && p % 512 < 384 && faceMask[(p / 512) * 256 + p % 512 - 128] > 0.5 }
        let moved = meanDifference(result, source, where: onFace)
        print("reenact: mean difference on the face \(moved)")
        XCTAssertGreaterThan(moved, 2, "the face is the source's")

        // Grid: six tiles 160 px high in one row, in cells as wide as the widest (the 2:1 output, 320), 2 px
        // padding, a caption strip (7 px font + 2) above them; the last tile is the output.
        let g = try RGBImage(contentsOf: grid)
        XCTAssertEqual([g.width, g.height], [6 * 320 + 7 * 2, 160 + 9 + 2 * 2])
        var tile = try RGBImage(width: 320, height: 160)
        for y in 0..<160 {
            let from = ((2 + 9 + y) * g.width + 2 + 5 * 322) * 3
            tile.pixels.replaceSubrange((y * 320 * 3)..<((y + 1) * 320 * 3), with: g.pixels[from..<(from + 320 * 3)])
        }
        let expected = try result.resized(width: 320, height: 160)
        XCTAssertLessThanOrEqual(maxDifference(tile, expected, where: Array(repeating: true, count: 320 * 160)).max, 1,
                                 "the grid's last tile is not the output")
    }

    /// Speech-driven video: one frame per 1/25 s of the audio (ceil), the audio muxed in for its duration, the
    /// source's full frame.
    func testTalkWritesAFramePerVideoFrameOfTheAudioWithTheAudio() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir)
        let wav = dir.appendingPathComponent("tone.wav"), out = dir.appendingPathComponent("t.mp4")
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=0.7", "-ac", "1", wav.path])
        let duration = try XCTUnwrap(Double(try XCTUnwrap(probe(wav).first)["duration"] as? String ?? ""))
        let r = try tgdm(["talk", "--model", model.path, "--source", "Samples/source.png", "--audio", wav.path, "--size", "32",
                          "--batch", "8", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let streams = try probe(out)
        let video = try XCTUnwrap(streams.first { $0["codec_type"] as? String == "video" })
        let audio = try XCTUnwrap(streams.first { $0["codec_type"] as? String == "audio" }, "no audio stream")
        XCTAssertEqual(number(video["width"]), 256)
        XCTAssertEqual(number(video["height"]), 256)
        let frames = try XCTUnwrap(Int(video["nb_read_frames"] as? String ?? ""))
        print("talk: \(duration) s of audio, \(frames) frames, audio stream \(audio["duration"] ?? "?") s")
        XCTAssertLessThanOrEqual(abs(Double(frames) - duration * 25), 1, "\(frames) frames for \(duration) s at 25 fps")
        XCTAssertTrue(r.stdout.contains("(\(frames) frames"), r.stdout)
        // -shortest cuts the muxed audio to one AAC frame (1024 samples at the input's 16 kHz).
        let audioDuration = try XCTUnwrap(Double(audio["duration"] as? String ?? ""))
        XCTAssertLessThanOrEqual(abs(audioDuration - duration), 1024.0 / 16000, "audio stream of \(audioDuration) s for \(duration) s")
    }

    /// Face swap of synthetic faces with sidecars at --size 256: the target's frame, its pixels outside the swapped
    /// face untouched, the face changed.
    func testSwapKeepsTheTargetsFrameAndBackground() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir)
        let out = dir.appendingPathComponent("s.png"), rho = dir.appendingPathComponent("rho.json")
        let r = try tgdm(["swap", "--model", model.path, "--source", "Samples/source.png", "--target", "Samples/target.png",
                          "--size", "256", "--save-coeffs", rho.path, "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let target = try RGBImage(contentsOf: samples.appendingPathComponent("target.png")), result = try RGBImage(contentsOf: out)
        XCTAssertEqual([result.width, result.height], [target.width, target.height])
        // The swap composite blends the identity's face within the swapped face's mask, feathered over 2 × side/96
        // (WarpCompositor.swap): beyond twice that, the target's pixels through float32 at an identity transform.
        let masks = try faceMasks([rho], size: 256)
        let background = try farFrom(masks, radius: 4 * (256 / 96) + 2)
        let kept = maxDifference(result, target, where: background)
        print("swap: \(kept.pixels) background pixels, max difference \(kept.max)")
        XCTAssertGreaterThan(kept.pixels, 256 * 256 / 4, "too little background to check")
        XCTAssertLessThanOrEqual(kept.max, 1, "the target's background changed")
        let changed = meanDifference(result, target, where: try masks[0].contiguous().floats().map { $0 > 0.5 })
        print("swap: mean difference on the face \(changed)")
        XCTAssertGreaterThan(changed, 2, "the face is still the target's")
    }

    /// `analyze --coeffs --overlay` on the real photo: one face, a box around its eyes and mouth, 468 landmarks and
    /// two irises, ρ of 261 finite values, the two-panel overlay at twice the photo's width.
    func testAnalyzeFindsTheAstronautsFaceAndFitsIt() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("a.json"), rho = dir.appendingPathComponent("rho.json"), overlay = dir.appendingPathComponent("o.png")
        let r = try tgdm(["analyze", samples.appendingPathComponent("astronaut.png").path, "-o", json.path, "--coeffs", rho.path,
                          "--overlay", overlay.path, "--no-photometric"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        XCTAssertEqual(number(result["width"]), 512)
        XCTAssertEqual(number(result["height"]), 512)
        XCTAssertEqual((result["detections"] as? [Any])?.count, 1)
        let face = try XCTUnwrap(result["face"] as? [String: Any])
        let box = try XCTUnwrap((face["box"] as? [String: Any])?.compactMapValues(number))
        let landmarks = try XCTUnwrap(face["landmarks"] as? [[Any]]).map { $0.compactMap(number) }
        XCTAssertEqual(landmarks.count, 468)
        XCTAssertTrue(landmarks.allSatisfy { $0.count == 3 && $0.allSatisfy(\.isFinite) })
        XCTAssertEqual((face["irises"] as? [Any])?.count, 2)
        let (x, y, w, h) = (box["x"]!, box["y"]!, box["width"]!, box["height"]!)
        XCTAssertTrue(w > 50 && h > 50 && x >= 0 && y >= 0 && x + w <= 512 && y + h <= 512, "box \(box)")
        // Face Mesh: eye corners 33, 133, 362, 263; mouth corners 61, 291; lips 13, 14.
        for i in [33, 133, 362, 263, 61, 291, 13, 14] {
            let p = landmarks[i]
            XCTAssertTrue(p[0] > x && p[0] < x + w && p[1] > y && p[1] < y + h, "landmark \(i) at \(p) outside the box \(box)")
        }
        let eyes = (landmarks[33][1] + landmarks[263][1]) / 2, mouth = (landmarks[13][1] + landmarks[14][1]) / 2
        XCTAssertLessThan(eyes, mouth, "the eyes are not above the mouth")
        let values = try coefficientRows(rho)
        XCTAssertEqual(values.map(\.count), [261])
        XCTAssertTrue(values[0].allSatisfy(\.isFinite))
        let o = try RGBImage(contentsOf: overlay)
        XCTAssertEqual([o.width, o.height], [1024, 512])
    }

    /// EmoA2E from the CLI: ceil(duration × 25) frames of 261 finite values; only the expression varies, and it moves
    /// with speech and stays (nearly) still on silence.
    func testA2EMovesTheExpressionWithSpeechAndNotWithSilence() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let speech = dir.appendingPathComponent("speech.wav"), silence = dir.appendingPathComponent("silence.wav")
        XCTAssertEqual(try tgdm(["speak", "Hello there, how are you?", "-o", speech.path]).status, 0)
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1", silence.path])
        var motion: [Double] = []
        for wav in [speech, silence] {
            let out = dir.appendingPathComponent(wav.deletingPathExtension().lastPathComponent + ".json")
            let r = try tgdm(["a2e", "--audio", wav.path, "--emotion", "happy", "--intensity", "2", "-o", out.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let duration = try XCTUnwrap(Double(try XCTUnwrap(probe(wav).first)["duration"] as? String ?? ""))
            let rows = try coefficientRows(out)
            XCTAssertLessThanOrEqual(abs(Double(rows.count) - duration * 25), 1, "\(rows.count) frames for \(duration) s")
            XCTAssertTrue(r.stdout.contains("(\(rows.count) frames at 25 fps)"), r.stdout)
            XCTAssertTrue(rows.allSatisfy { $0.count == 261 && $0.allSatisfy(\.isFinite) })
            // Everything but the expression (JSON's "expression" comes first) is the one base row.
            XCTAssertTrue(rows.allSatisfy { Array($0[64...]) == Array(rows[0][64...]) }, "\(wav.lastPathComponent): more than the expression changes")
            // Mean frame-to-frame change of the 64 expression values.
            let steps = zip(rows, rows.dropFirst()).map { a, b in sqrt(zip(a.prefix(64), b.prefix(64)).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)) }
            motion.append(steps.reduce(0, +) / Double(steps.count))
        }
        print("a2e: mean expression change per frame, speech \(motion[0]), silence \(motion[1])")
        // Measured 0.16 vs 0.0047 (35×); 20× leaves room for another espeak-ng's voice.
        XCTAssertGreaterThan(motion[0], 20 * motion[1], "the expression does not follow the speech")
    }

    /// `render --landmarks` writes the library's render of the coefficients (one uint8 rounding step apart at most:
    /// the same float32 computation in another process) with the 68 projected landmarks drawn in green over it.
    func testRenderWritesTheLibrarysRenderAndLandmarks() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let coeffs = samples.appendingPathComponent("source.coeffs.json"), out = dir.appendingPathComponent("f.png")
        let r = try tgdm(["render", "--coeffs", coeffs.path, "--size", "128", "--landmarks", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let reference = try Torch.noGrad { try FaceRenderer.makeDefault().render(Coefficients.load(from: coeffs), width: 128, height: 128) }
        let expected = try RGBImage(tensor: reference.image.select(0, 0))
        let written = try RGBImage(contentsOf: out)
        XCTAssertEqual([written.width, written.height], [128, 128])
        // Landmarks are 3×3 squares at their truncated positions; a position one float rounding away may truncate
        // to the next pixel, so the comparison leaves out 5×5 around each.
        let points = try reference.landmarks.select(0, 0).floats()
        var unmarked = Array(repeating: true, count: 128 * 128)
        for k in 0..<68 {
            let x = Int(points[2 * k]), y = Int(points[2 * k + 1])
            for dy in -2...2 { for dx in -2...2 where (0..<128).contains(x + dx) && (0..<128).contains(y + dy) { unmarked[(y + dy) * 128 + x + dx] = false } }
            guard (0..<128).contains(x), (0..<128).contains(y) else { continue }
            XCTAssertTrue(written.pixel(x: x, y: y) == (0, 255, 0), "landmark \(k) at \(x),\(y) is not drawn")
        }
        let d = maxDifference(written, expected, where: unmarked)
        print("render: \(d.pixels) pixels compared, max difference \(d.max)")
        XCTAssertGreaterThan(d.pixels, 128 * 128 / 2)
        XCTAssertLessThanOrEqual(d.max, 1)
    }
}

/// ffprobe's streams of a media file (with decoded frame counts), as JSON objects.
func probe(_ url: URL) throws -> [[String: Any]] {
    let json = try runTool("ffprobe", ["-v", "error", "-count_frames", "-show_streams", "-of", "json", url.path])
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    return object?["streams"] as? [[String: Any]] ?? []
}

/// Decoded frames of the first video stream.
func videoFrameCount(_ url: URL) throws -> Int {
    let video = try probe(url).first { $0["codec_type"] as? String == "video" }
    return Int(video?["nb_read_frames"] as? String ?? "") ?? -1
}

func fileSize(_ url: URL) -> Int { Int(number((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size]) ?? -1) }

/// The rows of a coefficient JSON file read as plain JSON (not by the library's loader): per frame the values in
/// the file's key order, expression first (`Coefficients.writeJSON`), nested arrays flattened.
func coefficientRows(_ url: URL) throws -> [[Double]] {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
    let frames = try XCTUnwrap(object?["frames"] as? [[String: Any]], "no frames in \(url.lastPathComponent)")
    func flatten(_ v: Any) -> [Double] {
        if let a = v as? [Any] { return a.flatMap(flatten) }
        if let d = v as? [String: Any] { return d.keys.sorted().flatMap { flatten(d[$0]!) } }
        return [number(v) ?? .nan]
    }
    return frames.map { f in f.keys.sorted().flatMap { flatten(f[$0]!) } }
}

/// A JSON number as a Double (JSONSerialization's numbers bridge differently across platforms).
func number(_ v: Any?) -> Double? {
    if let d = v as? Double { return d }
    if let i = v as? Int { return Double(i) }
    return (v as? NSNumber)?.doubleValue
}
