import Foundation
import XCTest
import Torch

/// Runs EngineBenchmark only when TGDM_ENGINE_BENCH is set (it takes tens of seconds and is meant
/// for release builds): TGDM_ENGINE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter BenchmarkTests
final class BenchmarkTests: XCTestCase {
    func testEngineBenchmark() throws {
        guard let value = ProcessInfo.processInfo.environment["TGDM_ENGINE_BENCH"], !value.isEmpty else {
            throw XCTSkip("set TGDM_ENGINE_BENCH=1 to run the engine benchmark")
        }
        let iterations = Int(value).map { Swift.max($0, 3) } ?? 10
        try EngineBenchmark.run(iterations: iterations) { print($0) }
    }

    /// The table formatting and ratio arithmetic, without timing anything.
    func testTableFormatting() {
        let rows = [EngineBenchmark.Row(op: "matmul", unit: "GFLOP/s", swiftSeconds: 0.02, torchSeconds: 0.01, flops: 2e9),
                    EngineBenchmark.Row(op: "add", unit: "µs/op", swiftSeconds: 2e-6, torchSeconds: nil, flops: nil)]
        let table = EngineBenchmark.table(rows)
        XCTAssertTrue(table.contains("matmul [GFLOP/s] | 100 | 200 | 2.00"), table)
        XCTAssertTrue(table.contains("add [µs/op] | 2.00 | n/a | n/a"), table)
    }
}
