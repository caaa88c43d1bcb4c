import Torch
import Foundation
import XCTest
@testable import Media

final class ImageIOTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    func testPNGRoundTripIsLossless() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = try patternImage(width: 37, height: 23)
        let url = dir.appendingPathComponent("a.png")
        try img.write(to: url)
        let back = try RGBImage(contentsOf: url)
        XCTAssertTrue(back == img)
    }

    func testJPEGRoundTripIsClose() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = try patternImage(width: 64, height: 48)
        for ext in ["jpg", "JPEG"] {
            let url = dir.appendingPathComponent("a.\(ext)")
            try img.write(to: url)
            let back = try RGBImage(contentsOf: url)
            XCTAssertEqual(back.width, 64)
            XCTAssertEqual(back.height, 48)
            XCTAssertLessThan(meanAbsDiff(back.pixels, img.pixels), 4.0)
            XCTAssertGreaterThan(meanAbsDiff(back.pixels, img.pixels), 0.0, "JPEG should be lossy, the file must really be JPEG")
        }
    }

    func testFormatIsSniffedFromContentNotExtension() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = try patternImage(width: 16, height: 8)
        let png = dir.appendingPathComponent("real.png")
        try img.write(to: png)
        let misnamed = dir.appendingPathComponent("misnamed.jpg")
        try FileManager.default.copyItem(at: png, to: misnamed)
        XCTAssertTrue(try RGBImage(contentsOf: misnamed) == img)
    }

    /// Grayscale, RGBA, palette and 16-bit PNGs and a grayscale JPEG written by ffmpeg decode to the
    /// same RGB as an 8-bit RGB PNG of the same picture.
    func testConvertsOtherPixelFormats() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = ["-f", "lavfi", "-i", "testsrc=size=40x30:rate=1", "-frames:v", "1", "-update", "1"]
        func make(_ name: String, _ pixFmt: String) throws -> URL {
            let url = dir.appendingPathComponent(name)
            try ffmpeg(src + ["-pix_fmt", pixFmt, url.path])
            return url
        }
        let reference = try RGBImage(contentsOf: try make("rgb.png", "rgb24"))
        XCTAssertEqual(reference.width, 40)
        XCTAssertEqual(reference.height, 30)
        XCTAssertTrue(try RGBImage(contentsOf: try make("rgba.png", "rgba")) == reference)
        // ffmpeg widens 8 to 16 bits as v << 8 (255 -> 65280), so scaling back may be one level lower.
        for name in ["rgb48be", "rgba64be"] {
            let wide = try RGBImage(contentsOf: try make("\(name).png", name))
            XCTAssertLessThanOrEqual(zip(wide.pixels, reference.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 99, 1)
        }
        let gray = try RGBImage(contentsOf: try make("gray.png", "gray"))
        let gray16 = try RGBImage(contentsOf: try make("gray16.png", "gray16be"))
        for g in [gray, gray16] {
            XCTAssertEqual(g.width, 40)
            for i in stride(from: 0, to: g.pixels.count, by: 3) {
                XCTAssertEqual(g.pixels[i], g.pixels[i + 1])
                XCTAssertEqual(g.pixels[i], g.pixels[i + 2])
            }
        }
        XCTAssertLessThanOrEqual(zip(gray16.pixels, gray.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 99, 1)
        // Gray must carry the picture's luminance, not be blank.
        XCTAssertGreaterThan(Set(gray.pixels).count, 10)
        let pal = try RGBImage(contentsOf: try make("pal.png", "pal8"))
        XCTAssertLessThan(meanAbsDiff(pal.pixels, reference.pixels), 12)
    }

    func testMissingEmptyCorruptAndUnknownFiles() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        assertThrowsMediaError(try RGBImage(contentsOf: dir.appendingPathComponent("nope.png"))) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        let empty = dir.appendingPathComponent("empty.png")
        try Data().write(to: empty)
        assertThrowsMediaError(try RGBImage(contentsOf: empty)) { if case .corruptData = $0 { return true } else { return false } }
        let text = dir.appendingPathComponent("text.png")
        try Data("hello, not an image".utf8).write(to: text)
        assertThrowsMediaError(try RGBImage(contentsOf: text)) { if case .unsupportedFormat = $0 { return true } else { return false } }

        let img = try patternImage(width: 64, height: 64)
        for (name, format) in [("t.png", RGBImage.FileFormat.png), ("t.jpg", .jpeg(quality: 90))] {
            let full = try img.encoded(as: format)
            let truncated = dir.appendingPathComponent(name)
            try full.prefix(full.count / 2).write(to: truncated)
            assertThrowsMediaError(try RGBImage(contentsOf: truncated)) {
                if case .corruptData(let m) = $0 { return m.contains(truncated.path) } else { return false }
            }
            var garbled = [UInt8](full)
            for i in 40..<min(garbled.count, 400) { garbled[i] = UInt8(truncatingIfNeeded: i * 37) }
            XCTAssertThrowsError(try RGBImage(encoded: Data(garbled)))
        }
    }

    /// Headers that claim huge sizes are refused before any pixel memory is allocated.
    func testAbsurdDimensionsAreRefused() throws {
        let img = try patternImage(width: 8, height: 8)
        // PNG: rewrite the IHDR width/height (bytes 16..<24) and its CRC.
        var png = [UInt8](try img.encoded(as: .png))
        let huge: [UInt8] = [0x00, 0x00, 0x9C, 0x40] // 40000
        png.replaceSubrange(16..<20, with: huge)
        png.replaceSubrange(20..<24, with: huge)
        let crc = crc32(Array(png[12..<29]))
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        assertThrowsMediaError(try RGBImage(encoded: Data(png))) { if case .invalidDimensions = $0 { return true } else { return false } }

        // JPEG: patch the SOF0 frame header (FF C0, length, precision, height, width).
        var jpg = [UInt8](try img.encoded(as: .jpeg(quality: 90)))
        let sof = try XCTUnwrap((0..<(jpg.count - 1)).first { jpg[$0] == 0xFF && jpg[$0 + 1] == 0xC0 })
        jpg.replaceSubrange((sof + 5)..<(sof + 9), with: [0x9C, 0x40, 0x9C, 0x40]) // 40000 × 40000
        assertThrowsMediaError(try RGBImage(encoded: Data(jpg))) { if case .invalidDimensions = $0 { return true } else { return false } }

        assertThrowsMediaError(try RGBImage(width: 20000, height: 2)) { if case .invalidDimensions = $0 { return true } else { return false } }
        assertThrowsMediaError(try RGBImage(width: 0, height: 2)) { if case .invalidDimensions = $0 { return true } else { return false } }
        assertThrowsMediaError(try RGBImage(width: 2, height: 2, pixels: [1, 2, 3])) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }

    func testWriteRejectsUnknownExtensionAndIsAtomic() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = try patternImage(width: 8, height: 8)
        assertThrowsMediaError(try img.write(to: dir.appendingPathComponent("x.bmp"))) {
            if case .unsupportedFormat = $0 { return true } else { return false }
        }
        let nested = dir.appendingPathComponent("sub/dir/x.png")
        try img.write(to: nested)
        XCTAssertTrue(try RGBImage(contentsOf: nested) == img)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: nested.deletingLastPathComponent().path)
        XCTAssertEqual(leftovers, ["x.png"], "no temporary files may remain")
    }

    func testTensorConversion() throws {
        var img = try RGBImage(width: 3, height: 2)
        img.setPixel(x: 0, y: 0, (0, 128, 255))
        img.setPixel(x: 2, y: 1, (255, 0, 1))
        let t = try img.toTensor()
        XCTAssertEqual(t.shape, [1, 3, 2, 3])
        XCTAssertEqual(t.dtype, .float32)
        let v = try t.floats()
        XCTAssertEqual(v[0], -1, accuracy: 1e-6) // R(0,0)
        XCTAssertEqual(v[6], 128 / 127.5 - 1, accuracy: 1e-6) // G(0,0)
        XCTAssertEqual(v[12], 1, accuracy: 1e-6) // B(0,0)
        XCTAssertEqual(v[5], 1, accuracy: 1e-6) // R(2,1)
        XCTAssertTrue(try RGBImage(tensor: t) == img)
        XCTAssertTrue(try RGBImage(tensor: try t.reshape([3, 2, 3])) == img)

        let pattern = try patternImage(width: 19, height: 11)
        XCTAssertTrue(try RGBImage(tensor: try pattern.toTensor()) == pattern)

        // Out-of-range values clamp; NaN and wrong shapes are errors.
        let wild = try Tensor([Float](repeating: 5, count: 6) + [Float](repeating: -7, count: 6), shape: [3, 2, 2])
        let clamped = try RGBImage(tensor: wild)
        XCTAssertEqual(clamped.pixel(x: 0, y: 0).r, 255)
        XCTAssertEqual(clamped.pixel(x: 1, y: 1).b, 0)
        var withNaN = [Float](repeating: 0, count: 12)
        withNaN[7] = .nan
        assertThrowsMediaError(try RGBImage(tensor: try Tensor(withNaN, shape: [3, 2, 2]))) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try RGBImage(tensor: try Tensor.zeros([2, 3, 4, 4]))) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try RGBImage(tensor: try Tensor.zeros([4, 4, 3]))) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }

    func testResize() throws {
        // A constant image stays constant at any size.
        let flat = try RGBImage(width: 31, height: 17, fill: (10, 200, 77))
        for (w, h) in [(7, 5), (64, 40), (31, 3)] {
            let r = try flat.resized(width: w, height: h)
            XCTAssertEqual(r.width, w)
            XCTAssertEqual(r.height, h)
            XCTAssertTrue(r.pixels.enumerated().allSatisfy { $0.element == [10, 200, 77][$0.offset % 3] })
        }
        // Shrinking a one-pixel checkerboard must average it (antialiasing), not alias to black/white.
        var checker = try RGBImage(width: 64, height: 64)
        for y in 0..<64 { for x in 0..<64 where (x + y) % 2 == 0 { checker.setPixel(x: x, y: y, (255, 255, 255)) } }
        let small = try checker.resized(width: 16, height: 16)
        for p in small.pixels { XCTAssertEqual(Double(p), 127.5, accuracy: 3) }
        // Upscaling 2×: a horizontal ramp remains monotone and keeps its end values.
        var ramp = try RGBImage(width: 4, height: 1)
        for x in 0..<4 { ramp.setPixel(x: x, y: 0, (UInt8(x * 80), 0, 0)) }
        let big = try ramp.resized(width: 8, height: 2)
        let reds = (0..<8).map { big.pixel(x: $0, y: 0).r }
        XCTAssertEqual(reds.first, 0)
        XCTAssertEqual(reds.last, 240)
        XCTAssertEqual(reds, reds.sorted())
        XCTAssertEqual(reds[1], 20) // 0.25 of the way from 0 to 80
        assertThrowsMediaError(try flat.resized(width: 0, height: 3)) { if case .invalidDimensions = $0 { return true } else { return false } }
    }

    func testImageGrid() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try RGBImage(width: 10, height: 8, fill: (255, 0, 0))
        let b = try RGBImage(width: 6, height: 8, fill: (0, 255, 0))
        let c = try RGBImage(width: 10, height: 4, fill: (0, 0, 255))
        let url = dir.appendingPathComponent("grid.png")
        try ImageGrid.save([a, b, c], columns: 2, to: url)
        let grid = try RGBImage(contentsOf: url)
        XCTAssertEqual(grid.width, 2 * 10 + 3 * 2)
        XCTAssertEqual(grid.height, 2 * 8 + 3 * 2)
        XCTAssertTrue(grid.pixel(x: 2, y: 2) == (255, 0, 0))
        XCTAssertTrue(grid.pixel(x: 14, y: 2) == (0, 255, 0))
        XCTAssertTrue(grid.pixel(x: 2, y: 12) == (0, 0, 255))
        XCTAssertTrue(grid.pixel(x: 20, y: 12) == (255, 255, 255)) // empty cell

        // Tensors (a batch counts as several tiles) and labels.
        let batch = try Tensor.cat([try a.toTensor(), try a.toTensor()], dim: 0)
        let labelled = dir.appendingPathComponent("labelled.png")
        try ImageGrid.save([batch, try c.toTensor().reshape([3, 4, 10])], columns: 3, to: labelled, labels: ["SRC", "gen 1", "x"])
        let g2 = try RGBImage(contentsOf: labelled)
        XCTAssertEqual(g2.width, 3 * 10 + 4 * 2)
        XCTAssertEqual(g2.height, 8 + 9 + 2 * 2)
        let captionDark = (0..<g2.width).flatMap { x in (2..<11).map { g2.pixel(x: x, y: $0) } }.filter { $0 == (0, 0, 0) }
        XCTAssertGreaterThan(captionDark.count, 10, "labels must be drawn")
        assertThrowsMediaError(try ImageGrid.compose([a], columns: 0)) { if case .invalidArgument = $0 { return true } else { return false } }
        assertThrowsMediaError(try ImageGrid.compose([], columns: 2)) { if case .invalidArgument = $0 { return true } else { return false } }
        assertThrowsMediaError(try ImageGrid.compose([a], columns: 1, labels: ["a", "b"])) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }
}
