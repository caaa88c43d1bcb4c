import Foundation
import XCTest
@testable import Benchmarks
import Media
import Torch

/// The suites in their seconds-long settings: each must run and report its figures (timings are printed,
/// never asserted). Full runs: `swift run -c release tgdm bench`.
final class BenchmarkTests: XCTestCase {
    /// The table formatting and ratio arithmetic of the engine suite, without timing anything.
    func testEngineTableFormatting() {
        let rows = [EngineBenchmark.Row(op: "matmul", unit: "GFLOP/s", swiftSeconds: 0.02, torchSeconds: 0.01, flops: 2e9),
                    EngineBenchmark.Row(op: "add", unit: "µs/op", swiftSeconds: 2e-6, torchSeconds: nil, flops: nil)]
        let table = EngineBenchmark.table(rows)
        XCTAssertTrue(table.contains("matmul [GFLOP/s] | 100 | 200 | 2.00"), table)
        XCTAssertTrue(table.contains("add [µs/op] | 2.00 | n/a | n/a"), table)
    }

    func testMediaSuiteReportsFigures() throws {
        var lines = [String]()
        try MediaBenchmark.run(config: .quick) { lines.append($0) }
        let joined = lines.joined(separator: "\n")
        for needle in ["video encode (H.264 medium", "video decode (rgb24 pipe)", "MFCC (psf conventions)", "x real time", "PNG 256x256", "face detection"] {
            XCTAssertTrue(joined.contains(needle), "missing '\(needle)' in:\n\(joined)")
        }
        XCTAssertFalse(joined.contains("nan") || joined.contains("inf "), joined)
    }

    func testFaceSuiteReportsFigures() throws {
        var lines: [String] = []
        try FaceBenchmark.run(repeats: 1) { lines.append($0) }
        XCTAssertEqual(lines.count, 5, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.joined().contains("forward + backward"))
    }

    func testEverySuiteHasAName() {
        XCTAssertEqual(BenchmarkSuite(rawValue: "media"), .media)
        XCTAssertEqual(BenchmarkSuite(rawValue: "pipeline"), .pipeline)
        XCTAssertNil(BenchmarkSuite(rawValue: "nope"))
    }
}

/// The distributed suite in its quick setting, with the built `tgdm-bench` as the ranks' program.
final class DistributedBenchmarkTests: XCTestCase {
    func testDistributedSuiteReportsThroughputAndBandwidth() throws {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tgdm-bench")
        guard FileManager.default.fileExists(atPath: exe.path) else { throw XCTSkip("build the tgdm-bench product first (swift build)") }
        var lines: [String] = []
        try DistributedBenchmark.run(config: .quick, executable: exe) { lines.append($0) }
        let joined = lines.joined(separator: "\n")
        for needle in ["1 process × ", "2 processes × ", "gradient all-reduce", "scaling 1 → 2 processes", "all-reduce   0.25 MB", "bus"] {
            XCTAssertTrue(joined.contains(needle), "missing '\(needle)' in:\n\(joined)")
        }
        XCTAssertFalse(joined.contains("nan") || joined.contains("inf "), joined)
    }
}
