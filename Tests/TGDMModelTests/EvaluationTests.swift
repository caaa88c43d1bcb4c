import Torch
import Diffusion
import FaceModel
import XCTest
@testable import TGDMModel

final class EvaluationTests: XCTestCase {
    override func setUp() { useOneThread() }

    func testPSNROfIdenticalImagesIsCapped() throws {
        let a = try Tensor.rand([2, 3, 8, 8], generator: Generator(seed: 1)) * 2 - 1
        XCTAssertEqual(try ImageMetrics.psnr(a, a), [ImageMetrics.psnrCap, ImageMetrics.psnrCap])
    }

    /// A ±σ sign pattern has MSE exactly σ² in [-1, 1] units, σ²/4 in [0, 1]: PSNR = 10·log10(4/σ²).
    func testPSNROfKnownNoiseLevelFollowsTheFormula() throws {
        let a = try Tensor.rand([3, 3, 16, 16], generator: Generator(seed: 2)) * 1.6 - 0.8
        let signs = try (Tensor.randint(0, 2, [3, 3, 16, 16], generator: Generator(seed: 3)).to(.float32) * 2 - 1)
        for sigma in [0.01, 0.1, 0.2] {
            let psnr = try ImageMetrics.psnr(a, a + signs * sigma)
            for p in psnr { XCTAssertEqual(p, 10 * log10(4 / (sigma * sigma)), accuracy: 1e-3) }
        }
        // A single [C,H,W] image works too; 0.1 everywhere is 26.02 dB.
        let x = try Tensor.zeros([3, 4, 4])
        XCTAssertEqual(try ImageMetrics.psnr(x, x + 0.1)[0], 26.0206, accuracy: 1e-3)
    }

    func testPSNRRejectsMismatchedShapesAndNaN() throws {
        XCTAssertThrowsError(try ImageMetrics.psnr(Tensor.zeros([3, 4, 4]), Tensor.zeros([3, 4, 5])))
        let bad = try Tensor.full([3, 4, 4], Double.nan)
        XCTAssertThrowsError(try ImageMetrics.psnr(bad, Tensor.zeros([3, 4, 4])))
    }

    func testCoefficientErrorsPickTheRightColumns() throws {
        let rho = try Tensor.randn([2, Coefficients.count], generator: Generator(seed: 4))
        XCTAssertEqual(try MotionErrors.expression(rho, rho), [0, 0])
        XCTAssertEqual(try MotionErrors.angles(rho, rho), [0, 0])
        XCTAssertEqual(try MotionErrors.gaze(rho, rho), [0, 0])

        var shifted = try rho.floats()
        let e = CoefficientPart.expression.range.lowerBound, p = CoefficientPart.pose.range.lowerBound
        shifted[e + 3] += 3; shifted[e + 60] += 4        // row 0: expression off by a 3-4-5 triangle
        shifted[p + 1] += 0.5; shifted[p + 4] += 9       // yaw off by 0.5; translation does not count
        shifted[CoefficientPart.identity.range.lowerBound] += 7   // identity does not count either
        let other = try Tensor(shifted, shape: [2, Coefficients.count])
        XCTAssertEqual(try MotionErrors.expression(other, rho)[0], 5, accuracy: 1e-5)
        XCTAssertEqual(try MotionErrors.expression(other, rho)[1], 0)
        XCTAssertEqual(try MotionErrors.angles(other, rho)[0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(try MotionErrors.gaze(other, rho)[0], 0)
        XCTAssertThrowsError(try MotionErrors.expression(Tensor.zeros([2, 10]), Tensor.zeros([2, 10])))
    }

    func testMetricSummary() throws {
        let s = try XCTUnwrap(MetricSummary([1, nil, 3]))
        XCTAssertEqual(s.mean, 2); XCTAssertEqual(s.count, 2); XCTAssertEqual(s.std, 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertNil(MetricSummary([nil, nil]))
    }

    func testPairIndicesAreSpreadAndDeterministic() {
        var c = TGDMEvaluationConfig()
        c.count = 4
        XCTAssertEqual(c.pairIndices(datasetCount: 100), [0, 25, 50, 75])
        XCTAssertEqual(c.pairIndices(datasetCount: 3), [0, 1, 2])
    }

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
            XCTAssertEqual(try maxAbsDiff(value, XCTUnwrap(ema[name])), 0, name)
        }
        XCTAssertThrowsError(try TGDMModelBundle.load(from: shipped, weights: .raw))   // no raw weights shipped
    }

    /// End to end on a tiny model without motion fitting: rows, per-pair numbers and fixed seeds.
    func testEvaluatorScoresImagesWithFixedSeeds() throws {
        let data = try SyntheticPairs(count: 5, size: 16, coefficientDim: 6, seed: 2)
        let model = try TGDMUNet(config: .tiny, generator: Generator(seed: 5))
        var c = TGDMEvaluationConfig()
        c.count = 3; c.batchSize = 2; c.motionFit = nil; c.sampler = SamplerConfiguration(kind: .ddim, steps: 3, seed: 7)
        c.perceptual = .randomVGG16(seed: 0, widthDivisor: 8)
        let evaluator = try TGDMEvaluator(config: c, faceModel: nil)
        let bundle = TGDMModelBundle(model: model, schedule: try NoiseSchedule())
        let (report, samples) = try evaluator.evaluate(bundle: bundle, dataset: data)
        XCTAssertEqual(report.pairIndices, [0, 1, 3])
        XCTAssertEqual(report.rows.map { $0.name }, ["generated", "source copied (baseline)"])
        XCTAssertEqual(report.pairs.count, 3)
        XCTAssertTrue(report.pairs.allSatisfy { $0.psnr.isFinite && $0.psnr < ImageMetrics.psnrCap && $0.lpips > 0 && $0.expression == nil })
        XCTAssertNil(report.rows[0].gaze)
        XCTAssertTrue(report.table().contains("| generated |"))
        XCTAssertTrue(report.table().contains("n/a"))
        XCTAssertEqual(samples.gridTiles(maxPairs: 2).count, 8)
        // The baseline row is PSNR(source, target) computed directly.
        let direct = try ImageMetrics.psnr(Tensor.stack([0, 1, 3].map { data.examples[$0].source }), Tensor.stack([0, 1, 3].map { data.examples[$0].target }))
        XCTAssertEqual(report.rows[1].psnr!.mean, direct.reduce(0, +) / 3, accuracy: 1e-9)
        // Same seeds, same images.
        let again = try evaluator.evaluate(bundle: bundle, dataset: data).samples
        for (a, b) in zip(samples.generated, again.generated) { XCTAssertEqual(try maxAbsDiff(a, b), 0) }
    }

    /// Fitting a plain render of known coefficients recovers its expression and pose far better than the
    /// neutral frontal start does.
    func testMotionEstimatorRecoversRenderedMotion() throws {
        let faceModel = try MorphableModel.loadDefault()
        var values = [Float](repeating: 0, count: Coefficients.count)
        let e = CoefficientPart.expression.range.lowerBound, p = CoefficientPart.pose.range.lowerBound
        values[e + 0] = 0.8; values[e + 5] = 0.6
        values[p + 1] = 0.3; values[p + 0] = -0.1
        let truth = try Tensor(values, shape: [Coefficients.count])
        let renderer = try FaceRenderer(model: faceModel)
        let image = try renderer.render(Coefficients(truth.unsqueeze(0)), width: 32, height: 32).image.squeeze(0).detach()
        let estimator = try MotionEstimator(model: faceModel, settings: MotionFitSettings(iterations: 40))
        let fitted = try estimator.estimate(image: image, known: truth)
        let neutral = try truth.clone()
        let start = try Coefficients(neutral.unsqueeze(0)).replacing(.expression, with: Tensor.zeros([1, 64])).replacing(.pose, with: Tensor.zeros([1, 6])).tensor.squeeze(0)
        XCTAssertLessThan(try MotionErrors.angles(fitted, truth)[0], 0.5 * (try MotionErrors.angles(start, truth)[0]))
        XCTAssertThrowsError(try estimator.estimate(image: Tensor.zeros([3, 32, 16]), known: truth))
    }

    func testMotionEstimatorReadsGazeFromTheEyes() throws {
        let faceModel = try MorphableModel.loadDefault()
        var values = [Float](repeating: 0, count: Coefficients.count)
        let g = CoefficientPart.gaze.range.lowerBound
        values[g + 0] = 0.4; values[g + 2] = 0.4; values[g + 1] = -0.2; values[g + 3] = -0.2
        let truth = try Tensor(values, shape: [Coefficients.count])
        let renderer = try FaceRenderer(model: faceModel, options: RenderOptions(background: -1, renderGaze: true))
        let image = try renderer.render(Coefficients(truth.unsqueeze(0)), width: 64, height: 64).image.squeeze(0).detach()
        let estimator = try MotionEstimator(model: faceModel, settings: MotionFitSettings(iterations: 40))
        let fitted = try estimator.estimate(image: image, known: truth)
        let start = try MotionErrors.gaze(Tensor.zeros([Coefficients.count]), truth)[0]
        XCTAssertLessThan(try MotionErrors.gaze(fitted, truth)[0], 0.5 * start)
    }
}
