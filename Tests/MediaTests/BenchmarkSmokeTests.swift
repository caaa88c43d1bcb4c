import Foundation
import XCTest
import Media

/// Runs the benchmark in a tiny configuration to check it works and reports every figure. Set
/// TGDM_MEDIA_BENCH_FULL=1 to run the full benchmark (use `swift test -c release -Xswiftc -enable-testing`).
final class BenchmarkSmokeTests: XCTestCase {
    func testBenchmarkReportsFigures() throws {
        var lines = [String]()
        do {
            if ProcessInfo.processInfo.environment["TGDM_MEDIA_BENCH_FULL"] == "1" {
                try MediaBenchmark.run { print($0); lines.append($0) }
            } else {
                try MediaBenchmark.run(config: .quick) { lines.append($0) }
            }
        } catch MediaError.toolMissing(let what) {
            throw XCTSkip(what)
        }
        let joined = lines.joined(separator: "\n")
        for needle in ["video encode (H.264 medium", "video decode (rgb24 pipe)", "MFCC (psf conventions)", "x real time", "PNG 256x256", "face detection"] {
            XCTAssertTrue(joined.contains(needle), "missing '\(needle)' in:\n\(joined)")
        }
        XCTAssertFalse(joined.contains("nan") || joined.contains("inf "), joined)
    }
}
