import Foundation
import Metrics

/// Settings shared by the suites.
public struct BenchmarkOptions: Sendable {
    /// Repetitions per engine measurement.
    public var iterations = 10
    /// Frames per video/speech job in the pipeline suite.
    public var pipelineFrames = 16
    /// Seconds-long settings for smoke tests (figures are not meaningful).
    public var quick = false
    public init() {}
}

/// The benchmark suites (`tgdm bench`, `tgdm-bench`): each prints figures and, where there is a reference
/// measured in the same run, ratios.
public enum BenchmarkSuite: String, CaseIterable, Sendable {
    case engine, media, face, pipeline, metrics, memory

    public func run(options: BenchmarkOptions, log: (String) -> Void) throws {
        switch self {
        case .engine: try EngineBenchmark.run(iterations: options.quick ? 1 : options.iterations, log: log)
        case .media: try MediaBenchmark.run(config: options.quick ? .quick : MediaBenchmark.Config(), log: log)
        case .face: try FaceBenchmark.run(repeats: options.quick ? 1 : 10, log: log)
        case .pipeline: try PipelineBenchmark.run(options: options, log: log)
        case .metrics: try MetricsBenchmark.run(config: options.quick ? .quick : MetricsBenchmark.Config(), log: log)
        case .memory: try MemoryBenchmark.run(config: MemoryBenchmark.Config.fromEnvironment(options.quick ? .quick : .init()), log: log)
        }
    }
}
