import Diffusion
import FaceModel
import Foundation
import TGDMModel
import Torch

/// Data-parallel training on this machine: TGDM training throughput (a tiny 32² model, global batch 8,
/// random in-memory pairs) on 1 process and on N processes launched on loopback, and the Gloo all-reduce
/// bandwidth between N processes for several buffer sizes. On a machine with few cores the N-process
/// figures share the same cores (each rank gets cores / N threads), so they show the overhead of the
/// exchange rather than a speed-up; the same commands on a multi-GPU node measure the scaling.
///
/// The N ranks are copies of the running executable (`tgdm` or `tgdm-bench`), which call
/// `runWorkerIfRequested()` first thing.
public enum DistributedBenchmark {
    public struct Config: Codable, Sendable {
        public var processes = 2
        public var steps = 12
        public var warmupSteps = 2
        public var globalBatch = 8
        public var bufferMegabytes: [Double] = [1, 8, 32]
        public var repetitions = 10
        public static let quick = Config(processes: 2, steps: 2, warmupSteps: 1, globalBatch: 4, bufferMegabytes: [0.25], repetitions: 2)
        public init() {}
        public init(processes: Int, steps: Int, warmupSteps: Int, globalBatch: Int, bufferMegabytes: [Double], repetitions: Int) {
            self.processes = processes; self.steps = steps; self.warmupSteps = warmupSteps; self.globalBatch = globalBatch
            self.bufferMegabytes = bufferMegabytes; self.repetitions = repetitions
        }
    }

    /// What one run (1 or N processes) measured; rank 0 reports it.
    public struct Measurement: Codable, Sendable {
        public var processes: Int
        public var threadsPerProcess: Int
        public var stepsPerSecond: Double
        public var samplesPerSecond: Double
        /// Mean seconds per step spent averaging gradients (0 on one process).
        public var synchronizationSeconds: Double
        public var gradientMegabytes: Double
        /// (megabytes, seconds per all-reduce) for each buffer size (empty on one process).
        public var allReduce: [[Double]]
    }

    static let roleVariable = "TGDM_DIST_BENCH_CONFIG"
    static let outputVariable = "TGDM_DIST_BENCH_OUT"

    public static func run(config: Config = Config(), executable: URL? = nil, log: (String) -> Void) throws {
        let exe = executable ?? URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        guard config.processes >= 2, config.globalBatch % config.processes == 0 else {
            throw TorchError("distributed benchmark: \(config.processes) processes must divide the global batch \(config.globalBatch)")
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        log("distributed benchmark: TGDM 32² (base 32), global batch \(config.globalBatch), \(config.steps) timed steps; \(cores) cores; Gloo on loopback")
        let previous = Torch.numThreads
        Torch.configureThreads(cores)
        let single = try measure(config: config, group: nil)
        Torch.configureThreads(previous)

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-dist-bench-\(getpid())-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        try LocalLauncher.run(executable: exe, processes: config.processes, arguments: { _ in [] }, timeoutSeconds: 120,
                              extraEnvironment: [roleVariable: json, outputVariable: out.path,
                                                 "TGDM_DIST_BENCH_THREADS": String(max(1, cores / config.processes))])
        let multi = try JSONDecoder().decode(Measurement.self, from: Data(contentsOf: out))
        for m in [single, multi] {
            log(String(format: "  %d process%@ × %d thread%@: %.2f steps/s, %.1f samples/s%@", m.processes, m.processes == 1 ? "" : "es",
                       m.threadsPerProcess, m.threadsPerProcess == 1 ? "" : "s", m.stepsPerSecond, m.samplesPerSecond,
                       m.processes > 1 ? String(format: ", gradient all-reduce %.1f ms/step (%.1f MB)", m.synchronizationSeconds * 1000, m.gradientMegabytes) : ""))
        }
        log(String(format: "  scaling %d → %d processes: %.2f× samples/s", 1, multi.processes, multi.samplesPerSecond / max(single.samplesPerSecond, 1e-12)))
        let n = Double(multi.processes)
        for row in multi.allReduce where row.count == 2 {
            let (mb, seconds) = (row[0], row[1])
            // Ring all-reduce moves 2(n-1)/n of the buffer through each link ("bus bandwidth", as nccl-tests report it).
            log(String(format: "  all-reduce %6.2f MB float32 × %d processes: %7.2f ms, algorithm %6.2f GB/s, bus %6.2f GB/s",
                       mb, multi.processes, seconds * 1000, mb / 1024 / seconds, mb / 1024 / seconds * 2 * (n - 1) / n))
        }
    }

    /// In a process started by `run` as one of the ranks: measures, reports (rank 0) and exits.
    public static func runWorkerIfRequested() {
        let env = ProcessInfo.processInfo.environment
        guard let json = env[roleVariable] else { return }
        do {
            let config = try JSONDecoder().decode(Config.self, from: Data(json.utf8))
            Torch.configureThreads(Int(env["TGDM_DIST_BENCH_THREADS"] ?? "") ?? 1)
            guard let group = try ProcessGroup.fromEnvironment() else { throw TorchError("benchmark worker without WORLD_SIZE") }
            var m = try measure(config: config, group: group)
            m.allReduce = try allReduceTimes(config: config, group: group)
            if group.isMain, let path = env[outputVariable] {
                try writeAtomically(try JSONEncoder().encode(m), to: URL(fileURLWithPath: path))
            }
            exit(0)
        } catch {
            FileHandle.standardError.write(Data("error: distributed benchmark worker: \(error)\n".utf8))
            exit(1)
        }
    }

    /// Random pairs in memory (the data path is not what is measured).
    struct RandomPairs: PairDataset {
        let source: Tensor, target: Tensor, render: Tensor, coefficients: Tensor
        init(count: Int, size: Int) throws {
            let g = Generator(seed: 7)
            source = try Tensor.rand([count, 3, size, size], generator: g) * 2 - 1
            target = try Tensor.rand([count, 3, size, size], generator: g) * 2 - 1
            render = try Tensor.rand([count, 3, size, size], generator: g) * 2 - 1
            coefficients = try Tensor.randn([count, Coefficients.count], generator: g) * 0.1
        }
        var count: Int { source.size(0) }
        func example(at i: Int) throws -> PairExample {
            PairExample(source: try source.select(0, i), target: try target.select(0, i), render: try render.select(0, i),
                        coefficients: try coefficients.select(0, i))
        }
    }

    static func measure(config: Config, group: ProcessGroup?) throws -> Measurement {
        var mc = TGDMConfig(imageSize: 32, baseChannels: 32, channelMultipliers: [1, 2, 2], blocksPerStage: 1, texAttFactors: [2, 4])
        mc.coefficientDim = Coefficients.count
        let model = try TGDMUNet(config: mc, generator: Generator(seed: 1))
        var tc = TGDMTrainingConfig()
        tc.batchSize = config.globalBatch
        tc.logEvery = 0; tc.checkpointEvery = 0; tc.artifactEvery = 0
        let trainer = try TGDMTrainer(model: model, dataset: try RandomPairs(count: 64, size: 32), config: tc, schedule: try NoiseSchedule(.paper))
        if let group { try trainer.enableDataParallel(group) }
        for _ in 0..<config.warmupSteps { try trainer.trainStep() }
        try group?.barrier()
        var sync = 0.0
        let start = Date()
        for _ in 0..<config.steps {
            try trainer.trainStep()
            sync += trainer.dataParallel?.lastSynchronizationSeconds ?? 0
        }
        try group?.barrier()
        let seconds = Date().timeIntervalSince(start)
        let steps = Double(config.steps)
        let gradientBytes = model.parameters().reduce(0) { $0 + $1.count * 4 }
        return Measurement(processes: group?.worldSize ?? 1, threadsPerProcess: Torch.numThreads, stepsPerSecond: steps / seconds,
                           samplesPerSecond: steps * Double(config.globalBatch) / seconds, synchronizationSeconds: sync / steps,
                           gradientMegabytes: Double(gradientBytes) / 1_048_576, allReduce: [])
    }

    static func allReduceTimes(config: Config, group: ProcessGroup) throws -> [[Double]] {
        try config.bufferMegabytes.map { mb in
            let t = try Tensor.ones([max(1, Int(mb * 1_048_576 / 4))])
            try group.allReduce([t])
            try group.barrier()
            var times: [Double] = []
            for _ in 0..<config.repetitions {
                let s = Date()
                try group.allReduce([t])
                times.append(Date().timeIntervalSince(s))
            }
            times.sort()
            return [mb, times[times.count / 2]]
        }
    }
}
