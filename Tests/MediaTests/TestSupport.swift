import Foundation
import XCTest
@testable import Media

/// A fresh temporary folder per test, removed afterwards.
func makeTempDir(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("media-tests-\(safe)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs ffmpeg quietly, skipping the test when ffmpeg is not installed.
func ffmpeg(_ args: [String]) throws {
    try requireOrSkip(ExternalTool.locate("ffmpeg") != nil, "ffmpeg is not installed (scripts/setup.sh)")
    _ = try ExternalTool.runChecked("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + args)
}

/// A deterministic test pattern: smooth gradients plus a sharp square, so codecs and resizers are exercised.
func patternImage(width: Int, height: Int) throws -> RGBImage {
    var img = try RGBImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            let inSquare = x > width / 4 && x < width / 2 && y > height / 4 && y < height / 2
            img.setPixel(x: x, y: y, (UInt8(x * 255 / max(1, width - 1)), UInt8(y * 255 / max(1, height - 1)),
                                      inSquare ? 255 : UInt8((x + y) % 256)))
        }
    }
    return img
}

func meanAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var s = 0
    for i in 0..<a.count { s += abs(Int(a[i]) - Int(b[i])) }
    return Double(s) / Double(max(1, a.count))
}

/// The standard CRC-32 (as in PNG chunks), for crafting test files.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
    }
    return c ^ 0xFFFF_FFFF
}

func assertThrowsMediaError(_ body: @autoclosure () throws -> Any, file: StaticString = #filePath, line: UInt = #line,
                            _ check: (MediaError) -> Bool) {
    do {
        _ = try body()
        XCTFail("expected a MediaError, got success", file: file, line: line)
    } catch let e as MediaError {
        XCTAssertTrue(check(e), "unexpected error: \(e)", file: file, line: line)
    } catch {
        XCTFail("expected a MediaError, got \(error)", file: file, line: line)
    }
}
