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

    /// What one step leaves: the loss terms, the averaged and clipped gradients, the weights after the update.
    struct Step { var terms: LossRecord; var gradients: [String: [Float]]; var parameters: [String: [Float]] }

    static func oneStep(_ t: TGDMTrainer<SyntheticPairs>) throws -> Step {
        // Open the image-loss gate before the first step (threshold 1e9, one observation), so that L_rec and L_p
        // and their gradients are part of the comparison.
        t.loss.observeGate(simple: 0)
        try t.trainStep()
        var g: [String: [Float]] = [:], p: [String: [Float]] = [:]
        for (name, param) in t.model.namedParameters() {
            g[name] = try XCTUnwrap(param.grad, name).floats()
            p[name] = try param.floats()
        }
        return Step(terms: try XCTUnwrap(t.history.last), gradients: g, parameters: p)
    }

    /// Two ranks on half the batch each, gradients averaged, against one process on the whole batch, at the level
    /// of the loss, the gradients and the weights after one step. The paths run the network at batch 2 and 4 and
    /// split the batch sum, so they agree within float32 rounding (RoundingBound), never bit for bit.
    func testTwoRanksFollowOneProcessOnTheCombinedBatch() throws {
        let data = try SyntheticPairs(count: 7, size: 16, coefficientDim: 6, seed: 1)
        let single = try trainer(data)
        let before = try Self.state(single)
        let one = try Self.oneStep(single)
        let ranks = try runRanks(2) { g -> Step in
            let t = try self.trainer(data)
            try t.enableDataParallel(g)
            return try Self.oneStep(t)
        }
        XCTAssertEqual(ranks[0].parameters, ranks[1].parameters, "ranks apply the same reduced gradients with the same code")
        let dp = ranks[0]
        XCTAssertNotNil(one.terms.reconstruction, "the image losses were on")

        // Accumulations along the tiny UNet (16², 8 and 16 channels, skips concatenated): 3×3 convolutions of fan-in
        // up to 32·9, group norms over 4·16² values, TexAtt over 8² tokens, AdaIN; then the losses' means over the
        // batch (4·3·16²) and the perceptual network (random VGG16/8: fan-ins 27 … 64·9).
        let unet = [7 * 9, 72, 72, 144, 144, 1024, 64, 144, 288, 288, 144, 144, 72, 72]
        let perceptual = [27, 72, 72, 144, 144, 288, 288, 288, 576, 576, 576, 576, 576, 576]
        let lossChain = unet + perceptual + [4 * 3 * 16 * 16]
        for (name, a, b) in [("total", one.terms.total, dp.terms.total), ("simple", one.terms.simple, dp.terms.simple),
                             ("reconstruction", one.terms.reconstruction ?? .nan, dp.terms.reconstruction ?? .nan),
                             ("perceptual", one.terms.perceptual ?? .nan, dp.terms.perceptual ?? .nan)] {
            XCTAssertEqual(a, b, accuracy: RoundingBound.float32(accumulatingChain: lossChain, magnitude: Swift.abs(a)), name)
        }
        // Gradients: the chain forward and back, the batch × pixels sum of a weight's gradient, and the clipping norm.
        let parameterCount = one.gradients.values.reduce(0) { $0 + $1.count }
        let gradientChain = lossChain + unet + perceptual + [4 * 16 * 16, parameterCount]
        // The scale of the terms a gradient sums is that of the network's gradients, not of the sum (which can cancel
        // to rounding noise): the largest gradient.
        let size = Double(one.gradients.values.joined().map { Swift.abs($0) }.max() ?? 0)
        let gate = RoundingBound.float32(accumulatingChain: gradientChain, magnitude: size)
        var worstGradient = 0.0, worstParameter = 0.0
        for (name, g1) in one.gradients {
            let g2 = try XCTUnwrap(dp.gradients[name], name)
            let p0 = try XCTUnwrap(before["model.\(name)"]), p1 = try XCTUnwrap(one.parameters[name]), p2 = try XCTUnwrap(dp.parameters[name])
            for i in g1.indices {
                let dg = Double(Swift.abs(g1[i] - g2[i]))
                worstGradient = max(worstGradient, gate > 0 ? dg / gate : dg)
                XCTAssertLessThanOrEqual(dg, gate, "\(name)[\(i)] gradient")
                // Adam's first step turns the gradient's uncertainty into the weight's (config: lr 1e-3, ε 1e-8).
                let stepGate = RoundingBound.adamFirstStep(gradient: Double(g1[i]), gradientError: gate, parameter: Double(max(Swift.abs(p0[i]), Swift.abs(p1[i]))),
                                                           learningRate: 1e-3, eps: 1e-8)
                let dp = Double(Swift.abs(p1[i] - p2[i]))
                worstParameter = max(worstParameter, dp / stepGate)
                XCTAssertLessThanOrEqual(dp, stepGate, "\(name)[\(i)] after one step (|g| \(g1[i]))")
            }
        }
        print("2 ranks vs 1 process, one step: worst gradient and weight differences at \(worstGradient) and \(worstParameter) of their gates")
    }

    /// A checkpoint of a 2-rank run resumes on one process: the restored weights, EMA, optimiser moments and step
    /// are the ranks' own (bit for bit: one save/load code path), and the next step draws the same batch, timesteps,
    /// noise and gate state, so its loss terms, computed from the same weights, agree within float32 rounding. A
    /// wrong step, sampler position, RNG stream or gate state gives another batch or noise and an O(1) difference.
    func testResumeAcrossWorldSizes() throws {
        let data = try SyntheticPairs(count: 7, size: 16, coefficientDim: 6, seed: 2)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("checkpoint.safetensors")
        struct AtTwo { var state: [String: [Float]]; var moments: [String: [Float]]; var next: LossRecord }
        let ranks = try runRanks(2) { g -> AtTwo in
            let t = try self.trainer(data)
            try t.enableDataParallel(g)
            try t.train(until: 2)
            if g.isMain { try t.saveCheckpoint(to: ckpt) }
            let state = try Self.state(t), moments = try t.optimizer.stateDict().mapValues { try $0.toArray(Double.self).map(Float.init) }
            try t.trainStep()
            return AtTwo(state: state, moments: moments, next: try XCTUnwrap(t.history.last))
        }
        let resumed = try trainer(data)
        try resumed.loadCheckpoint(from: ckpt)
        XCTAssertEqual(resumed.step, 2)
        XCTAssertEqual(try Self.state(resumed), ranks[0].state, "weights and EMA restored")
        XCTAssertEqual(try resumed.optimizer.stateDict().mapValues { try $0.toArray(Double.self).map(Float.init) }, ranks[0].moments,
                       "optimiser moments and step counts restored")
        try resumed.trainStep()
        XCTAssertEqual(resumed.history.count, 3)
        let next = try XCTUnwrap(resumed.history.last), reference = ranks[0].next
        XCTAssertNotNil(next.reconstruction, "the gate state was restored (it opened after step 1)")
        // The loss at batch 4 on one process against the mean of two batch-2 halves: the UNet's and the losses'
        // accumulations (see the one-step test) in another order.
        let chain = [7 * 9, 72, 72, 144, 144, 1024, 64, 144, 288, 288, 144, 144, 72, 72, 4 * 3 * 16 * 16]
        XCTAssertEqual(next.simple, reference.simple, accuracy: RoundingBound.float32(accumulatingChain: chain, magnitude: reference.simple))
        XCTAssertEqual(next.reconstruction ?? .nan, reference.reconstruction ?? .nan,
                       accuracy: RoundingBound.float32(accumulatingChain: chain, magnitude: reference.reconstruction ?? 0))

        // A batch that does not split over the ranks is refused before any step.
        let refused = try runRanks(3) { g -> String in
            do { try self.trainer(data).enableDataParallel(g); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refused.allSatisfy { $0.contains("multiple of the 3 processes") }, "\(refused)")
    }
}
