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

    func testTwoRanksFollowOneProcess() throws {
        Torch.configureThreads(1)
        let single = try makeTrainer(steps: 3)
        let logs = try single.run()
        let one = try single.model.stateDict().mapValues { try $0.floats() }
        let results = try ranks(2) { g -> ([String: [Float]], Double) in
            let t = try self.makeTrainer(steps: 3)
            try t.enableDataParallel(g)
            let v = try t.run()
            return (try t.model.stateDict().mapValues { try $0.floats() }, v.last?.loss ?? .nan)
        }
        XCTAssertEqual(results[0].0, results[1].0)
        for (k, v) in one {
            for (a, b) in zip(v, try XCTUnwrap(results[0].0[k])) { XCTAssertEqual(a, b, accuracy: 1e-4, k) }
        }
        XCTAssertEqual(results[0].1, try XCTUnwrap(logs.last).loss, accuracy: 1e-4)
    }
}
