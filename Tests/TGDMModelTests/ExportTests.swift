import Torch
import Diffusion
import FaceModel
import XCTest
@testable import TGDMModel

/// Exported model files (the evaluation metrics moved to Tests/EvaluationTests).
final class ExportTests: XCTestCase {
    override func setUp() { useOneThread() }

    func testMissingCheckpointIsAClearError() {
        let url = URL(fileURLWithPath: "/nonexistent/tgdm-model.safetensors")
        XCTAssertThrowsError(try TGDMModelBundle.load(from: url)) { error in
            guard case TGDMError.checkpoint(let message) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue(message.contains("no TGDM model at /nonexistent/tgdm-model.safetensors"), message)
        }
        XCTAssertThrowsError(try TGDMModelExport.writeEMAOnly(checkpoint: url, to: FileManager.default.temporaryDirectory.appendingPathComponent("x.safetensors")))
    }

    /// The exported file holds only `ema.*` float32 tensors, is much smaller than the checkpoint, and
    /// loads (EMA) into a model equal to the trainer's EMA.
    func testEMAOnlyExportLoadsAndIsSmall() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try SyntheticPairs(count: 4, size: 16, coefficientDim: 6, seed: 1)
        var tc = TGDMTrainingConfig()
        tc.batchSize = 2; tc.emaDecay = 0.5; tc.logEvery = 0; tc.checkpointEvery = 0; tc.artifactEvery = 0
        let trainer = try TGDMTrainer(model: TGDMUNet(config: .tiny, generator: Generator(seed: 3)), dataset: data, config: tc,
                                      schedule: NoiseSchedule())
        trainer.log = { _ in }
        try trainer.train(until: 2)
        let checkpoint = dir.appendingPathComponent("checkpoint.safetensors"), shipped = dir.appendingPathComponent("model.safetensors")
        try trainer.saveCheckpoint(to: checkpoint)
        let bytes = try TGDMModelExport.writeEMAOnly(checkpoint: checkpoint, to: shipped, notes: ["note": "test"])

        let file = try Safetensors.load(shipped)
        XCTAssertTrue(file.tensors.keys.allSatisfy { $0.hasPrefix("ema.") })
        XCTAssertTrue(file.tensors.values.allSatisfy { $0.dtype == .float32 })
        XCTAssertEqual(file.metadata["step"], "2")
        XCTAssertEqual(file.metadata["note"], "test")
        let full = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: checkpoint.path)[.size] as? NSNumber).intValue
        XCTAssertLessThan(Double(bytes), 0.45 * Double(full))

        let bundle = try TGDMModelBundle.load(from: shipped)
        let loaded = bundle.model
        XCTAssertEqual(loaded.config, TGDMConfig.tiny)
        // The file describes how to sample it: the trainer's schedule and the standard sampler.
        XCTAssertEqual(bundle.schedule.linear, .paper)
        XCTAssertEqual(bundle.defaultSampler, TGDMModelBundle.standardSampler)
        let ema = trainer.ema.stateDict()
        for (name, value) in loaded.stateDict() {
            XCTAssertEqual(try maxAbsDiff(value, XCTUnwrap(ema[name])), 0, name)   // exact: a copy of the EMA weights through safetensors
        }
        XCTAssertThrowsError(try TGDMModelBundle.load(from: shipped, weights: .raw))   // no raw weights shipped
    }
}
