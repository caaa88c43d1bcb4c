import Diffusion
import Evaluation
import FaceModel
import Foundation
import TGDMModel
import Torch
import XCTest

final class TGDMEvaluatorTests: XCTestCase {
    override func setUp() { useOneThread() }

    /// A tiny TGDM at 32² (LPIPS needs ≥ 32 pixels) with full 261-d coefficients, so the composite can run.
    static let tiny32 = TGDMConfig(imageSize: 32, baseChannels: 8, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                                   textureEncoderBlocks: 1, coefficientDim: Coefficients.count, normGroups: 4)

    func testPairIndicesAreSpreadAndDeterministic() {
        var c = TGDMEvaluationConfig()
        c.count = 4
        XCTAssertEqual(c.pairIndices(datasetCount: 100), [0, 25, 50, 75])
        XCTAssertEqual(c.pairIndices(datasetCount: 3), [0, 1, 2])
        c.lpips = "resnet"
        XCTAssertThrowsError(try c.validate())
    }

    /// End to end on a tiny model: rows, per-pair numbers, fixed seeds, the composite row.
    func testEvaluatorScoresImagesWithFixedSeedsAndTheComposite() throws {
        let data = try RandomPairs(count: 5, size: 32, coefficientDim: Coefficients.count, seed: 2, coefficientScale: 0.05)
        let model = try TGDMUNet(config: Self.tiny32, generator: Generator(seed: 5))
        var c = TGDMEvaluationConfig()
        c.count = 3; c.batchSize = 2; c.motion = .none; c.faceMetrics = false; c.setMetrics = false; c.composite = true
        c.sampler = SamplerConfiguration(kind: .ddim, steps: 2, seed: 7)
        let evaluator = try TGDMEvaluator(config: c, faceModel: MorphableModel.loadDefault())
        let bundle = TGDMModelBundle(model: model, schedule: try NoiseSchedule())
        XCTAssertThrowsError(try evaluator.evaluate(bundle: bundle, dataset: data))   // the composite needs source ρ
        var rhoSource = try Tensor.zeros([Coefficients.count])
        rhoSource = try Coefficients(rhoSource.unsqueeze(0)).replacing(.illumination, with: Tensor(SphericalHarmonics.frontalLight()).unsqueeze(0)).tensor.squeeze(0)
        let (report, samples) = try evaluator.evaluate(bundle: bundle, dataset: data, sourceCoefficients: { _ in rhoSource })
        XCTAssertEqual(report.pairIndices, [0, 1, 3])
        XCTAssertEqual(report.rows.map { $0.name }, ["generated", "composite (warp + generator)", "source copied (baseline)"])
        XCTAssertEqual(report.pairs.count, 3)
        XCTAssertTrue(report.pairs.allSatisfy { ($0.metrics[.psnr] ?? 100) < ImageMetrics.psnrCap && ($0.metrics[.lpips] ?? 0) > 0 && $0.metrics[.expression] == nil })
        XCTAssertTrue(report.table().contains("| generated |"))
        XCTAssertTrue(report.table().contains("SSIM"))
        XCTAssertEqual(samples.gridTiles(maxPairs: 2).count, 10)
        // The composite takes the warped source where the 3DMM face is valid, so it differs from the raw output.
        XCTAssertGreaterThan(try maxAbsDiff(samples.composite[0], samples.generated[0]), 0.01)
        // The baseline row is PSNR(source, target) computed directly.
        let direct = try ImageMetrics.psnr(Tensor.stack([0, 1, 3].map { data.examples[$0].source }), Tensor.stack([0, 1, 3].map { data.examples[$0].target }))
        XCTAssertEqual(report.rows[2][.psnr]!.mean, direct.reduce(0, +) / 3, accuracy: 1e-9)   // the same PSNRs averaged in double: a few ulps of ~30
        // Same seeds, same images.
        let again = try evaluator.evaluate(bundle: bundle, dataset: data, sourceCoefficients: { _ in rhoSource }).samples
        for (a, b) in zip(samples.generated, again.generated) { XCTAssertEqual(try maxAbsDiff(a, b), 0) }   // exact: the same code, seeds and threads
    }

    /// Fitting a plain render of known coefficients recovers its expression and pose far better than the
    /// neutral frontal start does.
    func testPhotometricReadoutRecoversRenderedMotion() throws {
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
        let start = try Coefficients(truth.clone().unsqueeze(0)).replacing(.expression, with: Tensor.zeros([1, 64])).replacing(.pose, with: Tensor.zeros([1, 6])).tensor.squeeze(0)
        XCTAssertLessThan(try MotionErrors.angles(fitted, truth)[0], 0.5 * (try MotionErrors.angles(start, truth)[0]))
        XCTAssertThrowsError(try estimator.estimate(image: Tensor.zeros([3, 32, 16]), known: truth))
    }

    func testPhotometricReadoutReadsGazeFromTheEyes() throws {
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

