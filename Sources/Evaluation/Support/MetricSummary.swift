import Foundation

/// Mean and spread of one metric over the evaluated images (nil values, e.g. images without a face, are
/// left out and counted by `count`).
public struct MetricSummary: Codable, Equatable, Sendable {
    public let mean: Double
    /// Sample standard deviation (n − 1); 0 for a single value.
    public let std: Double
    public let count: Int

    public init?(_ values: [Double?]) {
        let v = values.compactMap { $0 }.filter(\.isFinite)
        guard !v.isEmpty else { return nil }
        let m = v.reduce(0, +) / Double(v.count)
        mean = m
        std = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
        count = v.count
    }

    /// A set-level value (FID, KID): one number over `count` samples, its spread given separately.
    public init(value: Double, std: Double = 0, count: Int) {
        mean = value
        self.std = std
        self.count = count
    }
}
