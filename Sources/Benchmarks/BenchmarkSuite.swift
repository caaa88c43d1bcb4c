import Evaluation
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
    case engine, media, face, analysis, fitting, identity, pipeline, metrics, evaluation, distributed, memory

    public func run(options: BenchmarkOptions, log: (String) -> Void) throws {
        switch self {
        case .engine: try EngineBenchmark.run(iterations: options.quick ? 1 : options.iterations, log: log)
        case .media: try MediaBenchmark.run(config: options.quick ? .quick : MediaBenchmark.Config(), log: log)
        case .face: try FaceBenchmark.run(repeats: options.quick ? 1 : 10, log: log)
        case .pipeline: try PipelineBenchmark.run(options: options, log: log)
        case .metrics: try MetricsBenchmark.run(config: options.quick ? .quick : MetricsBenchmark.Config(), log: log)
        case .analysis: try AnalysisBenchmark.run(imageFiles: realPhotos(), log: log)
        case .fitting:
            try FittingBenchmark.run(faces: options.quick ? 1 : 8, log: log)
            try FittingBenchmark.runPhotos(realPhotos(), log: log)
        case .identity: try IdentityBenchmark.run(photos: realPhotos(), repeats: options.quick ? 1 : 10, log: log)
        case .evaluation:
            guard let photo = realPhotos().first else { throw EvaluationError.invalidInput("Samples/astronaut.png not found: run from the checkout") }
            try EvaluationBenchmark.run(photo: photo, config: options.quick ? .quick : EvaluationBenchmark.Config(), log: log)
        case .distributed: try DistributedBenchmark.run(config: options.quick ? .quick : DistributedBenchmark.Config(), log: log)
        case .memory: try MemoryBenchmark.run(config: MemoryBenchmark.Config.fromEnvironment(options.quick ? .quick : .init()), log: log)
        }
    }
}

/// The real photo and its committed variants (rotated, small face, two faces), found from the checkout.
func realPhotos(callerFile: String = #filePath) -> [URL] {
    let root = URL(fileURLWithPath: callerFile).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let fm = FileManager.default
    for base in [URL(fileURLWithPath: fm.currentDirectoryPath), root] {
        let variants = ["rotated", "small", "two_faces"].map { "Tests/FaceAnalysisTests/Fixtures/mediapipe/\($0).png" }
        let files = (["Samples/astronaut.png"] + variants).map { base.appendingPathComponent($0) }.filter { fm.fileExists(atPath: $0.path) }
        if !files.isEmpty { return files }
    }
    return []
}
