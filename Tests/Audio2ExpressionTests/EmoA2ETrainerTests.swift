import Torch
import XCTest
@testable import Audio2Expression

final class EmoA2ETrainerTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }  // one thread: much faster than two on a shared 2-core machine

    /// Mean loss over a fixed set of batches (eval mode), so before/after compare the same data.
    func evaluate(_ model: EmoA2EModel, _ data: EmoA2EDataset) throws -> Double {
        model.eval()
        defer { model.train() }
        var rng = SplitMix64(seed: 424242)
        var total = 0.0
        for _ in 0..<4 {
            let b = try data.batch(size: 8, rng: &rng)
            let out = try Torch.noGrad { try model(mfcc: b.mfcc, identity: b.identity, emotion: b.emotion, intensity: b.intensity) }
            total += try F.mseLoss(out, b.expression).item()
        }
        return total / 4
    }

    func testShortTrainingReducesTheLossForEveryBackbone() throws {
        for backbone in EmoA2EBackbone.allCases {
            let c = Synthetic.smallConfig(backbone)
            let data = try Synthetic.dataset(c)
            let model = try EmoA2EModel(config: c, generator: Generator(seed: 1))
            try model.setMFCCStatistics(from: data.allMFCC())
            let before = try evaluate(model, data)
            let trainer = try EmoA2ETrainer(model: model, dataset: data,
                                            config: EmoA2ETrainingConfig(steps: 60, batchSize: 8, learningRate: 3e-3, logEvery: 20),
                                            landmarks: LinearLandmarks(identityDim: c.identityDim, expressionDim: c.expressionDim))
            let logs = try trainer.run()
            let after = try evaluate(model, data)
            XCTAssertEqual(trainer.step, 60)
            XCTAssertEqual(logs.map { $0.step }, [1, 20, 40, 60])
            XCTAssertNotNil(logs.last?.landmark)
            XCTAssertLessThan(after, before * 0.7, "\(backbone): \(before) → \(after)")
        }
    }

    func testResumedRunMatchesAnUninterruptedOne() throws {
        let c = Synthetic.smallConfig(dropout: 0.1)
        let data = try Synthetic.dataset(c)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-emoa2e-ckpt-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let cfg = EmoA2ETrainingConfig(steps: 6, batchSize: 4, learningRate: 1e-3, seed: 77, logEvery: 0)

        let straight = try EmoA2ETrainer(model: EmoA2EModel(config: c, generator: Generator(seed: 1)), dataset: data, config: cfg)
        try straight.run()

        var half = cfg
        half.steps = 3
        half.checkpointPath = url.path
        let first = try EmoA2ETrainer(model: EmoA2EModel(config: c, generator: Generator(seed: 1)), dataset: data, config: half)
        try first.run()
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))

        // A fresh model (different init) resumes from the checkpoint and finishes the run.
        let second = try EmoA2ETrainer(model: EmoA2EModel(config: c, generator: Generator(seed: 99)), dataset: data, config: cfg)
        try second.resume(from: url)
        XCTAssertEqual(second.step, 3)
        try second.run()
        XCTAssertEqual(second.step, 6)
        let a = straight.model.stateDict(), b = second.model.stateDict()
        for (k, t) in a { XCTAssertLessThan(try (t - b[k]!).abs().max().item(), 1e-6, k) }   // the same steps from the same restored state in one process

        // A checkpoint of another architecture is refused.
        let other = try EmoA2ETrainer(model: EmoA2EModel(config: Synthetic.smallConfig(.mlp)),
                                      dataset: Synthetic.dataset(Synthetic.smallConfig(.mlp)), config: cfg)
        XCTAssertThrowsError(try other.resume(from: url))
        // And the training checkpoint doubles as inference weights.
        XCTAssertNoThrow(try EmoA2E.load(weights: url, textEncoder: HashTextEncoder()))
    }

    func testDatasetValidation() throws {
        let c = Synthetic.smallConfig()
        let good = try Synthetic.dataset(c).sequences[0]
        var short = good
        short.mfcc = try good.mfcc.narrow(0, 0, 4)
        short.expression = try good.expression.narrow(0, 0, 4)
        XCTAssertThrowsError(try EmoA2EDataset(sequences: [short], config: c))
        var noEmotion = good
        noEmotion.emotion = nil
        XCTAssertThrowsError(try EmoA2EDataset(sequences: [noEmotion], config: c))
        var nan = good
        nan.expression = try good.expression * Double.nan
        XCTAssertThrowsError(try EmoA2EDataset(sequences: [nan], config: c))
        var badIntensity = good
        badIntensity.intensity = 7
        XCTAssertThrowsError(try EmoA2EDataset(sequences: [badIntensity], config: c))
        XCTAssertThrowsError(try EmoA2EDataset(sequences: [], config: c))
        XCTAssertThrowsError(try EmoA2ETrainer(model: EmoA2EModel(config: Synthetic.smallConfig(.gru)), dataset: Synthetic.dataset(c),
                                               config: EmoA2ETrainingConfig()))
        XCTAssertThrowsError(try EmoA2ETrainer(model: EmoA2EModel(config: c), dataset: Synthetic.dataset(c),
                                               config: EmoA2ETrainingConfig(batchSize: 0)))
    }
}
