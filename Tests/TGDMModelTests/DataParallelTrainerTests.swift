import Diffusion
import Foundation
import Torch
import XCTest
@testable import TGDMModel

/// Runs `body` as every rank of a fresh loopback group, one thread per rank; returns the ranks' results in order.
func runRanks<T>(_ n: Int, _ body: @escaping (ProcessGroup) throws -> T) throws -> [T] {
    try LocalLauncher.runThreads(n, timeoutSeconds: 60, waitSeconds: 300, body).map { try $0.get() }
}

/// Data-parallel TGDM training (ranks as threads of this process; the process-level runs are in
/// TGDMCLITests/DistributedTrainingTests): N ranks on shards of the global batch follow one process on the
/// whole batch.
final class DataParallelTrainerTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }

    func config() -> TGDMTrainingConfig {
        var c = TGDMTrainingConfig()
        c.batchSize = 4
        c.learningRate = 1e-3
        c.emaDecay = 0.9
        c.logEvery = 0; c.checkpointEvery = 0; c.artifactEvery = 0
        c.seed = 5
        // The gate opens after step 1, so the image losses (and the gate's all-reduced input) are covered.
        c.loss.gateThreshold = 1e9
        c.loss.gateMinimumSteps = 1
        c.loss.perceptualNetwork = .randomVGG16(seed: 0, widthDivisor: 8)
        return c
    }

    func trainer(_ data: SyntheticPairs) throws -> TGDMTrainer<SyntheticPairs> {
        let t = try TGDMTrainer(model: TGDMUNet(config: .tiny, generator: Generator(seed: 3)), dataset: data, config: config(), schedule: NoiseSchedule())
        t.log = { _ in }
        return t
    }

    static func state(_ t: TGDMTrainer<SyntheticPairs>) throws -> [String: [Float]] {
        var d: [String: [Float]] = [:]
        for (k, v) in t.model.stateDict() { d["model.\(k)"] = try v.floats() }
        for (k, v) in t.ema.stateDict() { d["ema.\(k)"] = try v.floats() }
        return d
    }

    /// Tolerance: gradients of N shards averaged equal the whole batch's up to float32 summation order; Adam
    /// turns that into parameter differences far below one step's size (lr = 1e-3): max |Δ| ≤ 1e-4 after 4 steps.
    func testTwoRanksFollowOneProcessOnTheCombinedBatch() throws {
        let data = try SyntheticPairs(count: 7, size: 16, coefficientDim: 6, seed: 1)
        let single = try trainer(data)
        try single.train(until: 4)
        let reference = try Self.state(single)

        let ranks = try runRanks(2) { g -> ([String: [Float]], [LossRecord]) in
            let t = try self.trainer(data)
            try t.enableDataParallel(g)
            try t.train(until: 4)
            return (try Self.state(t), t.history)
        }
        XCTAssertEqual(ranks[0].0, ranks[1].0, "ranks must hold bit-identical weights")
        var worst = 0.0
        for (k, v) in reference {
            let w = try XCTUnwrap(ranks[0].0[k])
            for (a, b) in zip(v, w) { worst = max(worst, Double(abs(a - b))) }
        }
        print("2 ranks vs 1 process after 4 steps: max |Δ| = \(worst)")
        XCTAssertLessThan(worst, 1e-4, "max |Δ| between 2 ranks and 1 process")
        XCTAssertNotNil(single.history.last?.reconstruction, "the image losses were on")
        for (a, b) in zip(single.history, ranks[0].1) {
            XCTAssertEqual(a.total, b.total, accuracy: 1e-4 * max(1, abs(a.total)))
            XCTAssertEqual(a.simple, b.simple, accuracy: 1e-5)
            XCTAssertEqual(a.reconstruction ?? -1, b.reconstruction ?? -1, accuracy: 1e-5)
        }
    }

    /// A checkpoint of a 2-rank run resumes on one process (and the other way round) on the same trajectory.
    func testResumeAcrossWorldSizes() throws {
        let data = try SyntheticPairs(count: 7, size: 16, coefficientDim: 6, seed: 2)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("checkpoint.safetensors")
        let whole = try trainer(data)
        try whole.train(until: 4)

        _ = try runRanks(2) { g -> Int in
            let t = try self.trainer(data)
            try t.enableDataParallel(g)
            try t.train(until: 2)
            if g.isMain { try t.saveCheckpoint(to: ckpt) }
            return t.step
        }
        let resumed = try trainer(data)
        try resumed.loadCheckpoint(from: ckpt)
        XCTAssertEqual(resumed.step, 2)
        try resumed.train(until: 4)
        let a = try Self.state(whole), b = try Self.state(resumed)
        for (k, v) in a { for (x, y) in zip(v, try XCTUnwrap(b[k])) { XCTAssertEqual(x, y, accuracy: 1e-4, k) } }
        XCTAssertEqual(resumed.history.count, 4)

        // A batch that does not split over the ranks is refused before any step.
        let refused = try runRanks(3) { g -> String in
            do { try self.trainer(data).enableDataParallel(g); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refused.allSatisfy { $0.contains("multiple of the 3 processes") }, "\(refused)")
    }
}
