import Torch
import Diffusion
import XCTest
import Media
@testable import TGDMModel

final class TrainerTests: XCTestCase {
    override func setUp() { useOneThread() }

    func trainingConfig() -> TGDMTrainingConfig {
        var c = TGDMTrainingConfig()
        c.batchSize = 2
        c.learningRate = 1e-3
        c.emaDecay = 0.9
        c.logEvery = 0
        c.checkpointEvery = 0
        c.artifactEvery = 0
        c.seed = 11
        // Open the image-loss gate after the first step so the resume test covers every loss term.
        c.loss.gateThreshold = 1e9
        c.loss.gateMinimumSteps = 1
        c.loss.perceptualNetwork = .randomVGG16(seed: 0, widthDivisor: 8)
        return c
    }

    func makeTrainer(_ dataset: SyntheticPairs, outputDirectory: URL? = nil, config: TGDMTrainingConfig? = nil) throws -> TGDMTrainer<SyntheticPairs> {
        let model = try TGDMUNet(config: .tiny, generator: Generator(seed: 3))
        let trainer = try TGDMTrainer(model: model, dataset: dataset, config: config ?? trainingConfig(), schedule: NoiseSchedule(),
                                      outputDirectory: outputDirectory)
        trainer.log = { _ in }
        return trainer
    }

    /// Train 3 steps, checkpoint, reload into a fresh trainer, train 3 more: identical to 6 uninterrupted steps.
    func testResumeAfterCheckpointEqualsUninterruptedRun() throws {
        let data = try SyntheticPairs(count: 5, size: 16, coefficientDim: 6, seed: 1)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = dir.appendingPathComponent("checkpoint.safetensors")

        let straight = try makeTrainer(data)
        try straight.train(until: 6)

        let first = try makeTrainer(data)
        try first.train(until: 3)
        try first.saveCheckpoint(to: checkpoint)
        let resumed = try makeTrainer(data)
        try resumed.loadCheckpoint(from: checkpoint)
        XCTAssertEqual(resumed.step, 3)
        try resumed.train(until: 6)

        XCTAssertEqual(resumed.history, straight.history)
        XCTAssertTrue(straight.history.last!.reconstruction != nil && straight.history.last!.perceptual != nil)
        for (name, a) in straight.model.stateDict() {
            XCTAssertEqual(try maxAbsDiff(a, XCTUnwrap(resumed.model.stateDict()[name])), 0, name)   // exact: restored state, same steps, same threads
        }
        for (name, a) in straight.ema.stateDict() {
            XCTAssertEqual(try maxAbsDiff(a, XCTUnwrap(resumed.ema.stateDict()[name])), 0, "ema \(name)")
        }
        XCTAssertEqual(resumed.optimizer.step, 6)
        XCTAssertEqual(resumed.loss.gate, straight.loss.gate)

        // A model with another config refuses the checkpoint; so does a damaged file.
        var other = TGDMConfig.tiny
        other.variant = .featureConcat
        let wrong = try TGDMTrainer(model: TGDMUNet(config: other), dataset: data, config: trainingConfig(), schedule: NoiseSchedule())
        XCTAssertThrowsError(try wrong.loadCheckpoint(from: checkpoint))
        var bytes = try Data(contentsOf: checkpoint)
        bytes.removeLast(100)
        try bytes.write(to: checkpoint)
        XCTAssertThrowsError(try resumed.loadCheckpoint(from: checkpoint))
    }

    func testBatchOrderCoversTheDatasetEachEpoch() throws {
        let data = try SyntheticPairs(count: 5, size: 16, coefficientDim: 6, seed: 1)
        let trainer = try makeTrainer(data)
        let firstEpoch = try (0..<5).flatMap { try trainer.batchIndices(forStep: $0) }  // 10 draws = 2 epochs
        XCTAssertEqual(Set(firstEpoch.prefix(5)), Set(0..<5))
        XCTAssertEqual(Set(firstEpoch.suffix(5)), Set(0..<5))
        XCTAssertNotEqual(Array(firstEpoch.prefix(5)), Array(firstEpoch.suffix(5)))
        XCTAssertEqual(try trainer.batchIndices(forStep: 3), try makeTrainer(data).batchIndices(forStep: 3))
    }

    func testLossFallsOnAFixedPairAndArtifactsAreWritten() throws {
        let data = try SyntheticPairs(count: 1, size: 16, coefficientDim: 6, seed: 4)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = trainingConfig()
        config.batchSize = 4
        config.loss = TGDMLossConfig()  // gate at 0.05: stays closed in a run this short
        config.artifactEvery = 40
        config.checkpointEvery = 40
        config.preview = SamplerConfiguration(kind: .dpmSolver, steps: 4, seed: 1)
        config.previewCount = 1
        config.logEvery = 20
        var lines: [String] = []
        let logged = try makeTrainer(data, outputDirectory: dir, config: config)
        logged.log = { lines.append($0) }
        try logged.train(until: 40)
        let early = logged.history.prefix(10).map(\.simple).reduce(0, +) / 10
        let late = logged.history.suffix(10).map(\.simple).reduce(0, +) / 10
        print("L_simple first 10 steps \(early), last 10 steps \(late)")
        XCTAssertLessThan(late, early)
        // docs/TGDM.md quotes "L_simple 0.97 → 0.68 over 40 steps" (seeded, one thread: deterministic).
        XCTAssertEqual(early, 0.97, accuracy: 0.005)
        XCTAssertEqual(late, 0.68, accuracy: 0.005)
        print(lines.joined(separator: "\n"))
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[1].hasPrefix("step 40/40 | loss "), lines[1])
        XCTAssertTrue(lines[1].contains("it/s"))

        let curve = try RGBImage(contentsOf: dir.appendingPathComponent("loss.png"))
        XCTAssertGreaterThan(curve.width, 100)
        let grid = try RGBImage(contentsOf: dir.appendingPathComponent("samples-step0000040.png"))
        XCTAssertGreaterThan(grid.width, 4 * 16)
        let model = try TGDMModelBundle.load(from: dir.appendingPathComponent("checkpoint.safetensors")).model
        XCTAssertEqual(model.config, TGDMConfig.tiny)
    }

    func testBadDatasetsAreRejected() throws {
        let wrongDim = try SyntheticPairs(count: 2, size: 16, coefficientDim: 5, seed: 1)
        XCTAssertThrowsError(try makeTrainer(wrongDim).trainStep())
        let empty = SyntheticPairs(examples: [])
        XCTAssertThrowsError(try makeTrainer(empty))
        let ok = try SyntheticPairs(count: 2, size: 16, coefficientDim: 6, seed: 1)
        XCTAssertThrowsError(try ok.batch(indices: [0, 7]))
        var bad = trainingConfig()
        bad.batchSize = 0
        XCTAssertThrowsError(try makeTrainer(ok, config: bad))
    }
}

extension SyntheticPairs {
    init(examples: [PairExample]) { self.examples = examples }
}
