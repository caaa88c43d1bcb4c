import Torch
import Foundation

/// Times the engine's core paths and compares them with python3-torch timing the same ops in the same
/// run (scripts/bench/engine_torch.py), with the same thread count on both sides:
/// - matmul 1024×1024×1024 (GFLOP/s),
/// - 3×3 conv 128→128 channels at 64×64, batch 1, forward and forward+backward (GFLOP/s),
/// - per-op overhead: `a + b` on 1-element tensors (µs/op).
/// Both sides report the median of `iterations` timed repetitions after warm-up.
public enum EngineBenchmark {
    public struct Row: Sendable {
        public let op: String
        public let unit: String              // "GFLOP/s" or "µs/op"
        public let swiftSeconds: Double      // per repetition
        public let torchSeconds: Double?     // nil when python3-torch could not be run
        public let flops: Double?            // per repetition, for throughput rows

        public init(op: String, unit: String, swiftSeconds: Double, torchSeconds: Double?, flops: Double?) {
            self.op = op; self.unit = unit; self.swiftSeconds = swiftSeconds; self.torchSeconds = torchSeconds; self.flops = flops
        }

        public func value(_ seconds: Double) -> Double { flops.map { $0 / seconds / 1e9 } ?? seconds * 1e6 }
        /// Swift time over torch time: 1.00 is parity, below 1 means the Swift engine is faster.
        public var ratio: Double? { torchSeconds.map { swiftSeconds / $0 } }
    }

    /// Ops (and the element count of the overhead loop) shared with engine_torch.py through its arguments.
    static let overheadOpsPerRepetition = 2000

    public static func run(iterations: Int, log: (String) -> Void) throws {
        let rows = try measure(iterations: iterations, log: log)
        log(table(rows))
    }

    /// Runs both sides and returns the rows (for callers that want the numbers).
    public static func measure(iterations: Int, torchScript: URL? = nil, log: (String) -> Void = { _ in }) throws -> [Row] {
        guard iterations > 0 else { throw TorchError("benchmark iterations must be positive") }
        Torch.configureThreads()
        let threads = Torch.numThreads
        log("engine benchmark: \(iterations) repetitions, \(threads) threads, libtorch CPU")

        var swift: [(String, String, Double, Double?)] = []
        swift.append(("matmul 1024³", "GFLOP/s", try timeMatmul(iterations), 2 * pow(1024.0, 3)))
        let convFlops = 2.0 * 128 * 128 * 9 * 64 * 64
        let (forward, forwardBackward) = try timeConv(iterations)
        swift.append(("conv3x3 128→128 64² fwd", "GFLOP/s", forward, convFlops))
        // Backward computes the input and the weight gradient, each as costly as the forward pass.
        swift.append(("conv3x3 128→128 64² fwd+bwd", "GFLOP/s", forwardBackward, 3 * convFlops))
        swift.append(("add 1-element (overhead)", "µs/op", try timeOverhead(iterations), nil))

        let torch: [String: Double]
        do {
            torch = try runPython(iterations: iterations, threads: threads, script: torchScript ?? locateScript())
        } catch {
            log("python3-torch side unavailable: \(error)")
            torch = [:]
        }
        let keys = ["matmul", "conv_fwd", "conv_fwd_bwd", "add_overhead"]
        return zip(swift, keys).map { s, key in
            Row(op: s.0, unit: s.1, swiftSeconds: s.2, torchSeconds: torch[key], flops: s.3)
        }
    }

    public static func table(_ rows: [Row]) -> String {
        func fmt(_ v: Double) -> String { String(format: v >= 100 ? "%.0f" : (v >= 1 ? "%.2f" : "%.3f"), v) }
        var lines = ["op | swift | torch | ratio (swift time / torch time)", "--- | --- | --- | ---"]
        for r in rows {
            let t = r.torchSeconds.map { fmt(r.value($0)) } ?? "n/a"
            let ratio = r.ratio.map { String(format: "%.2f", $0) } ?? "n/a"
            lines.append("\(r.op) [\(r.unit)] | \(fmt(r.value(r.swiftSeconds))) | \(t) | \(ratio)")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: timed sections

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Median seconds of `body` over `iterations` runs after `warmup` untimed runs.
    static func time(_ iterations: Int, warmup: Int = 2, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmup { try body() }
        var samples: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return median(samples)
    }

    static func timeMatmul(_ iterations: Int) throws -> Double {
        let g = Generator(seed: 0)
        let a = try Tensor.randn([1024, 1024], generator: g), b = try Tensor.randn([1024, 1024], generator: g)
        return try Torch.noGrad { try time(iterations) { _ = try a.matmul(b) } }
    }

    static func timeConv(_ iterations: Int) throws -> (forward: Double, forwardBackward: Double) {
        let g = Generator(seed: 0)
        let x = try Tensor.randn([1, 128, 64, 64], generator: g)
        let w = try (Tensor.randn([128, 128, 3, 3], generator: g) * 0.03)
        let b = try Tensor.zeros([128])
        let forward = try Torch.noGrad { try time(iterations) { _ = try F.conv2d(x, w, b, padding: 1) } }
        let xg = try x.clone().requiresGrad(true), wg = try w.clone().requiresGrad(true), bg = try b.clone().requiresGrad(true)
        let forwardBackward = try time(iterations) {
            try F.conv2d(xg, wg, bg, padding: 1).sum().backward()
            try xg.zeroGrad(); try wg.zeroGrad(); try bg.zeroGrad()
        }
        return (forward, forwardBackward)
    }

    static func timeOverhead(_ iterations: Int) throws -> Double {
        let a = try Tensor([Float(1)]), b = try Tensor([Float(2)])
        let perRepetition = try Torch.noGrad {
            try time(iterations) { for _ in 0..<overheadOpsPerRepetition { _ = try a + b } }
        }
        return perRepetition / Double(overheadOpsPerRepetition)
    }

    // MARK: the python3-torch side

    static func locateScript() throws -> URL {
        let relative = "scripts/bench/engine_torch.py"
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["TGDM_ENGINE_BENCH_SCRIPT"] { candidates.append(URL(fileURLWithPath: env)) }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(relative))
        // This file is Sources/Torch/Benchmark/EngineBenchmark.swift in the repository.
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { root.deleteLastPathComponent() }
        candidates.append(root.appendingPathComponent(relative))
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw TorchError("cannot find \(relative) (run from the repository root or set TGDM_ENGINE_BENCH_SCRIPT)")
        }
        return found
    }

    static func runPython(iterations: Int, threads: Int, script: URL) throws -> [String: Double] {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw TorchError("\(python) not found") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, "--iterations", "\(iterations)", "--threads", "\(threads)",
                             "--overhead-ops", "\(overheadOpsPerRepetition)"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TorchError("engine_torch.py exited with \(process.terminationStatus): \(String(decoding: errData, as: UTF8.self).suffix(500))")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            throw TorchError("engine_torch.py printed no JSON object: \(String(decoding: data, as: UTF8.self).prefix(300))")
        }
        if let t = dict["threads"] as? Int, t != threads {
            throw TorchError("engine_torch.py ran with \(t) threads, the Swift side with \(threads)")
        }
        return dict.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
}
