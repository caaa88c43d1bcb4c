import Foundation
import Torch
import XCTest
@testable import Audio2Expression

/// Data-parallel EmoA2E training with the ranks as threads: two ranks (dropout off) follow one process on the
/// combined batch, and the rank-0 checkpoint resumes on one process.
final class DataParallelA2ETests: XCTestCase {
    func ranks<T>(_ n: Int, _ body: @escaping (ProcessGroup) throws -> T) throws -> [T] {
        try LocalLauncher.runThreads(n, timeoutSeconds: 60, waitSeconds: 300, body).map { try $0.get() }
    }

    func makeTrainer(steps: Int) throws -> EmoA2ETrainer {
        let c = Synthetic.smallConfig(.transformer, dropout: 0)
        let model = try EmoA2EModel(config: c, generator: Generator(seed: 4))
        let data = try Synthetic.dataset(c)
        try model.setMFCCStatistics(from: data.allMFCC())
        return try EmoA2ETrainer(model: model, dataset: data, config: EmoA2ETrainingConfig(steps: steps, batchSize: 4, learningRate: 1e-3, seed: 9, logEvery: 0),
                                 landmarks: LinearLandmarks(identityDim: c.identityDim, expressionDim: c.expressionDim))
    }

    /// What one step leaves: the loss before the update, the (averaged, clipped) gradients and the parameters after.
    struct Step { var loss: Double; var gradients: [String: [Float]]; var parameters: [String: [Float]] }

    func oneStep(_ t: EmoA2ETrainer) throws -> Step {
        let loss = try t.trainStep()
        var g: [String: [Float]] = [:], p: [String: [Float]] = [:]
        for (name, param) in t.model.namedParameters() {
            g[name] = try XCTUnwrap(param.grad, name).floats()
            p[name] = try param.floats()
        }
        return Step(loss: try loss.total.item(), gradients: g, parameters: p)
    }

    /// Two ranks with half the batch each, gradients averaged, against one process on the whole batch: equal at the
    /// level of the loss, the gradients and the parameters after one step, within float32 rounding (RoundingBound).
    /// The two paths run the network at batch 2 and 4, so the kernels block their sums differently, and the batch
    /// sum is split in two halves: nothing here can be bit-equal across CPUs and thread counts.
    func testTwoRanksFollowOneProcess() throws {
        Torch.configureThreads(1)
        let single = try makeTrainer(steps: 1)
        let before = try single.model.stateDict().mapValues { try $0.floats() }
        let one = try oneStep(single)
        let ranks = try ranks(2) { g -> Step in
            let t = try self.makeTrainer(steps: 1)
            try t.enableDataParallel(g)
            return try self.oneStep(t)
        }
        // The ranks apply the same all-reduced gradients to the same broadcast weights with the same code: identical.
        XCTAssertEqual(ranks[0].parameters, ranks[1].parameters)
        let dp = ranks[0]

        // Accumulations along the network (smallConfig: 52 MFCC inputs, width 32, 10 tokens, 4× feed-forward, 2
        // layers): the forward chain, the same again backwards, and the batch × tokens sum of a weight's gradient.
        let layer = [32, 32, 10, 32, 32, 128]
        let forward = [4 * 13] + layer + layer + [32]
        let lossGate = RoundingBound.float32(accumulatingChain: forward + [4 * 8 * 5], magnitude: one.loss)
        XCTAssertEqual(dp.loss, one.loss, accuracy: lossGate, "the loss before the update")

        let lr = 1e-3, eps = 1e-8  // makeTrainer's Adam
        var worstGradient = 0.0, worstParameter = 0.0
        // Gradient clipping scales every gradient by 1/‖g‖ over all parameters: one more sum, of that length.
        let parameterCount = one.gradients.values.reduce(0) { $0 + $1.count }
        // The size of the terms a gradient sums, not of the sum: some gradients cancel to rounding noise (a key bias
        // shifts every logit of a query equally, so softmax gives it an exact zero), so the scale is the largest
        // gradient in the network.
        let size = Double(one.gradients.values.joined().map { Swift.abs($0) }.max() ?? 0)
        for (name, g1) in one.gradients {
            let g2 = try XCTUnwrap(dp.gradients[name], name)
            let gradientGate = RoundingBound.float32(accumulatingChain: forward + forward + [4 * 10, parameterCount], magnitude: size)
            let p0 = try XCTUnwrap(before[name]), p1 = try XCTUnwrap(one.parameters[name]), p2 = try XCTUnwrap(dp.parameters[name])
            for i in g1.indices {
                let dg = Double(Swift.abs(g1[i] - g2[i]))
                worstGradient = max(worstGradient, dg / max(gradientGate, .leastNormalMagnitude))
                XCTAssertLessThanOrEqual(dg, gradientGate, "\(name)[\(i)] gradient")
                // Adam's first step turns the gradient's uncertainty into the weight's (RoundingBound.adamFirstStep).
                let gate = RoundingBound.adamFirstStep(gradient: Double(g1[i]), gradientError: gradientGate, parameter: Double(max(Swift.abs(p0[i]), Swift.abs(p1[i]))),
                                                       learningRate: lr, eps: eps)
                let dp = Double(Swift.abs(p1[i] - p2[i]))
                worstParameter = max(worstParameter, dp / gate)
                XCTAssertLessThanOrEqual(dp, gate, "\(name)[\(i)] after one step (|g| \(g1[i]))")
            }
        }
        print("data parallel vs one process: loss \(Swift.abs(dp.loss - one.loss)) (gate \(lossGate)); worst gradient and "
              + "parameter differences at \(worstGradient) and \(worstParameter) of their gates")
    }
}
