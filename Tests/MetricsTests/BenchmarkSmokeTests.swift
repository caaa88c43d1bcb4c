import Torch
import XCTest
@testable import Metrics

final class MetricsBenchmarkSmokeTests: XCTestCase {
    func testQuickRunReportsEveryMetric() throws {
        Torch.configureThreads(1)
        var lines: [String] = []
        try MetricsBenchmark.run(config: .quick) { lines.append($0) }
        let text = lines.joined(separator: "\n")
        for needle in ["LPIPS-vgg16", "LPIPS-alex", "Inception-v3", "emotion", "FID of", "KID of"] {
            XCTAssertTrue(text.contains(needle), "missing \(needle) in:\n\(text)")
        }
        var bad = MetricsBenchmark.Config.quick
        bad.imageSize = 16
        XCTAssertThrowsError(try MetricsBenchmark.run(config: bad) { _ in })
    }
}
