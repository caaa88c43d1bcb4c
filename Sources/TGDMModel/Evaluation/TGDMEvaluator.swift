import Diffusion
import FaceModel
import Foundation
import Media
import Torch

/// What an evaluation samples and measures.
public struct TGDMEvaluationConfig: Codable, Equatable, Sendable {
    /// Pairs evaluated, spread evenly over the dataset (index k·count_dataset/count).
    public var count = 24
    /// Sampler kind and steps (nil: the model's default sampler with seed 0); batch b is sampled with seed
    /// `sampler.seed + b`, so every model sees the same noise.
    public var sampler: SamplerConfiguration?
    public var batchSize = 8
    /// nil skips the coefficient errors (they need one `CoefficientFitter` run per image).
    public var motionFit: MotionFitSettings? = MotionFitSettings()
    /// The network of the LPIPS-style distance: the same offline network the training loss uses.
    public var perceptual = PerceptualNetwork.offlineDefault
    /// Also score "copy the source" (right identity, wrong motion) as a trivial baseline.
    public var sourceBaseline = true
    /// Pairs shown in the grid (source | I_3d | generated | target).
    public var gridPairs = 8

    public init() {}

    public func validate() throws {
        guard (1...100_000).contains(count) else { throw TGDMError.invalidConfig("evaluation count must be in 1...100000, got \(count)") }
        guard (1...1024).contains(batchSize) else { throw TGDMError.invalidConfig("evaluation batch size must be in 1...1024") }
        guard gridPairs >= 0 else { throw TGDMError.invalidConfig("grid pairs must be ≥ 0") }
        try motionFit?.validate()
    }

    /// `count` dataset indices spread evenly over `0..<datasetCount` (all of them when it is smaller).
    public func pairIndices(datasetCount: Int) -> [Int] {
        let n = Swift.min(count, datasetCount)
        return (0..<n).map { k in k * datasetCount / n }
    }
}

/// Mean and spread of one metric over the evaluated pairs (nil values, e.g. gaze, are left out).
public struct MetricSummary: Codable, Equatable, Sendable {
    public let mean: Double
    public let std: Double
    public let count: Int

    public init?(_ values: [Double?]) {
        let v = values.compactMap { $0 }
        guard !v.isEmpty else { return nil }
        let m = v.reduce(0, +) / Double(v.count)
        mean = m
        std = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
        count = v.count
    }
}

/// One row of the results table: images of one kind (generated, copied source, or the real target) scored
/// against the real target and its ground-truth ρ.
public struct EvaluationRow: Codable, Equatable, Sendable {
    public let name: String
    public let psnr: MetricSummary?
    public let lpips: MetricSummary?
    /// ‖β_fit(image) − β_gt‖₂.
    public let expression: MetricSummary?
    /// ‖angles_fit(image) − angles_gt‖₂, radians.
    public let angle: MetricSummary?
    /// ‖ω_fit − ω_gt‖₂ when motion is fitted.
    public let gaze: MetricSummary?
    /// ‖β_fit(image) − β_fit(target)‖₂ and the same for angles: the paper's protocol (both from one estimator).
    public let expressionVsFittedTarget: MetricSummary?
    public let angleVsFittedTarget: MetricSummary?
}

/// Per-pair numbers, for scatter plots and for checking the means.
public struct PairScore: Codable, Equatable, Sendable {
    public let index: Int
    public let psnr: Double
    public let lpips: Double
    public let expression: Double?
    public let angle: Double?
    public let expressionFloor: Double?
    public let angleFloor: Double?
}

public struct TGDMEvaluationReport: Codable, Equatable, Sendable {
    public let modelConfig: TGDMConfig
    public let evaluation: TGDMEvaluationConfig
    public let pairIndices: [Int]
    public let rows: [EvaluationRow]
    public let pairs: [PairScore]
    public let seconds: Double
    public let notes: [String]

    /// A Markdown table of the rows.
    public func table() -> String {
        func f(_ m: MetricSummary?, _ digits: Int) -> String {
            guard let m else { return "n/a" }
            return String(format: "%.\(digits)f ± %.\(digits)f", m.mean, m.std)
        }
        var lines = ["| images | PSNR ↑ (dB) | LPIPS-style ↓ | Exp ↓ | Angle ↓ (rad) | Gaze ↓ |", "|---|---|---|---|---|---|"]
        for r in rows {
            lines.append("| \(r.name) | \(f(r.psnr, 2)) | \(f(r.lpips, 4)) | \(f(r.expression, 3)) | \(f(r.angle, 4)) | \(f(r.gaze, 3)) |")
        }
        return lines.joined(separator: "\n")
    }

    public func write(to url: URL) throws {
        let json = JSONEncoder()
        json.outputFormatting = [.prettyPrinted, .sortedKeys]
        try json.encode(self).write(to: url, options: .atomic)
    }
}

/// The generated images of an evaluation, for a grid: per pair source, I_3d, generated, target ([3, H, W]).
public struct EvaluationSamples {
    public let source: [Tensor]
    public let render: [Tensor]
    public let generated: [Tensor]
    public let target: [Tensor]

    /// Tiles in rows of four (source | I_3d | generated | target) for `ImageGrid.save(_:columns: 4)`.
    public func gridTiles(maxPairs: Int) -> [Tensor] {
        (0..<Swift.min(maxPairs, generated.count)).flatMap { [source[$0], render[$0], generated[$0], target[$0]] }
    }
}

/// Scores a TGDM model on held-out pairs: samples each pair's target from its source, I_3d and ρ̂ with
/// fixed seeds, then measures PSNR, an LPIPS-style distance (unit channel weights on the offline VGG16
/// features of the training loss, not the published LPIPS) and the Exp / Angle errors of motion fitted
/// back from the images (gaze from the rendered eyeballs).
public final class TGDMEvaluator {
    public let config: TGDMEvaluationConfig
    let perceptual: PerceptualLoss
    let motion: MotionEstimator?

    /// `faceModel` is needed only when `config.motionFit` is set.
    public init(config: TGDMEvaluationConfig, faceModel: MorphableModel?) throws {
        try config.validate()
        self.config = config
        perceptual = try PerceptualLoss(config.perceptual)
        if let settings = config.motionFit {
            guard let faceModel else { throw TGDMError.invalidConfig("coefficient errors need a morphable model") }
            motion = try MotionEstimator(model: faceModel, settings: settings)
        } else {
            motion = nil
        }
    }

    public func evaluate(bundle: TGDMModelBundle, dataset: PairDataset,
                         progress: ((String) -> Void)? = nil) throws -> (report: TGDMEvaluationReport, samples: EvaluationSamples) {
        let started = Date()
        guard dataset.count > 0 else { throw TGDMError.invalidInput("the evaluation dataset is empty") }
        let model = bundle.model
        let indices = config.pairIndices(datasetCount: dataset.count)
        let sampler = TGDMSampler(bundle: bundle)
        let baseSampler = config.sampler ?? bundle.defaultSampler
        var source: [Tensor] = [], render: [Tensor] = [], generated: [Tensor] = [], target: [Tensor] = [], rho: [Tensor] = []
        for (b, start) in stride(from: 0, to: indices.count, by: config.batchSize).enumerated() {
            let batchIndices = Array(indices[start..<Swift.min(start + config.batchSize, indices.count)])
            let batch = try dataset.batch(indices: batchIndices)
            guard batch.target.size(2) == model.config.imageSize, batch.target.size(3) == model.config.imageSize,
                  batch.coefficients.size(1) == model.config.conditionInputDim else {
                throw TGDMError.invalidInput("the dataset has \(batch.target.size(2))² images and \(batch.coefficients.size(1)) coefficients; the model expects \(model.config.imageSize)² and \(model.config.conditionInputDim)")
            }
            var samplerConfig = baseSampler
            samplerConfig.seed = baseSampler.seed &+ UInt64(b)
            let out = try sampler.generate(source: batch.source, render: model.config.usesRender ? batch.render : nil,
                                           coefficients: batch.coefficients, warp: batch.warp, identity: batch.identity,
                                           config: samplerConfig).to(.cpu)
            for i in 0..<batchIndices.count {
                source.append(try batch.source.select(0, i)); render.append(try batch.render.select(0, i))
                generated.append(try out.select(0, i)); target.append(try batch.target.select(0, i))
                // The motion estimator reads the frame's own ρ (the centre of a temporal window).
                let k = model.config.temporalRadius, d = model.config.coefficientDim
                rho.append(try batch.coefficients.select(0, i).narrow(0, k * d, d))
            }
            progress?("sampled \(source.count)/\(indices.count)")
        }
        let gen = try Tensor.stack(generated), tgt = try Tensor.stack(target), src = try Tensor.stack(source)
        let psnrGen = try ImageMetrics.psnr(gen, tgt), psnrSrc = try ImageMetrics.psnr(src, tgt)
        let lpipsGen = try Torch.noGrad { try perceptual.distances(gen, tgt).toArray(Double.self) }
        let lpipsSrc = try Torch.noGrad { try perceptual.distances(src, tgt).toArray(Double.self) }

        var fitGen: [Tensor] = [], fitTgt: [Tensor] = [], fitSrc: [Tensor] = []
        if let motion {
            for i in 0..<indices.count {
                fitGen.append(try motion.estimate(image: generated[i], known: rho[i]))
                fitTgt.append(try motion.estimate(image: target[i], known: rho[i]))
                if config.sourceBaseline { fitSrc.append(try motion.estimate(image: source[i], known: rho[i])) }
                progress?("fitted motion \(i + 1)/\(indices.count)")
            }
        }
        let gt = try Tensor.stack(rho)
        func errors(_ fits: [Tensor], against reference: Tensor) throws -> (exp: [Double?], angle: [Double?], gaze: [Double?]) {
            guard !fits.isEmpty else { return (indices.map { _ in nil }, indices.map { _ in nil }, indices.map { _ in nil }) }
            let f = try Tensor.stack(fits)
            return (try MotionErrors.expression(f, reference).map { $0 }, try MotionErrors.angles(f, reference).map { $0 },
                    try MotionErrors.gaze(f, reference).map { $0 })
        }
        let genErr = try errors(fitGen, against: gt), tgtErr = try errors(fitTgt, against: gt)
        let srcErr = try errors(fitSrc, against: gt)
        let fittedTarget = fitTgt.isEmpty ? nil : try Tensor.stack(fitTgt)
        let genVsFit = try fittedTarget.map { try errors(fitGen, against: $0) }
        let srcVsFit = try fittedTarget.map { try errors(fitSrc, against: $0) }

        var rows = [EvaluationRow(name: "generated", psnr: MetricSummary(psnrGen), lpips: MetricSummary(lpipsGen),
                                  expression: MetricSummary(genErr.exp), angle: MetricSummary(genErr.angle), gaze: MetricSummary(genErr.gaze),
                                  expressionVsFittedTarget: genVsFit.flatMap { MetricSummary($0.exp) },
                                  angleVsFittedTarget: genVsFit.flatMap { MetricSummary($0.angle) })]
        if config.sourceBaseline {
            rows.append(EvaluationRow(name: "source copied (baseline)", psnr: MetricSummary(psnrSrc), lpips: MetricSummary(lpipsSrc),
                                      expression: MetricSummary(srcErr.exp), angle: MetricSummary(srcErr.angle), gaze: MetricSummary(srcErr.gaze),
                                      expressionVsFittedTarget: srcVsFit.flatMap { MetricSummary($0.exp) },
                                      angleVsFittedTarget: srcVsFit.flatMap { MetricSummary($0.angle) }))
        }
        if motion != nil {
            rows.append(EvaluationRow(name: "real target (fitter noise floor)", psnr: nil, lpips: nil,
                                      expression: MetricSummary(tgtErr.exp), angle: MetricSummary(tgtErr.angle), gaze: MetricSummary(tgtErr.gaze),
                                      expressionVsFittedTarget: nil, angleVsFittedTarget: nil))
        }
        let pairs = indices.indices.map { i in
            PairScore(index: indices[i], psnr: psnrGen[i], lpips: lpipsGen[i], expression: genErr.exp[i], angle: genErr.angle[i],
                      expressionFloor: tgtErr.exp[i], angleFloor: tgtErr.angle[i])
        }
        var notes = [
            "PSNR on images mapped to [0, 1], capped at \(Int(ImageMetrics.psnrCap)) dB.",
            "LPIPS-style: unit channel weights over the offline VGG16 features of the training loss (\(config.perceptual)), not the published LPIPS network; values are not comparable with the paper's.",
            "Gaze = ‖ω_fit − ω_gt‖₂ (4 values): the fitter renders the eyeballs turned by ω and fits ω photometrically; at 64² the eyes are a few pixels wide, so compare with the noise-floor row.",
        ]
        if let s = config.motionFit {
            notes.append("Exp/Angle: CoefficientFitter (photometric, \(s.iterations) Adam steps, lr \(s.learningRate)) fits expression and pose from a neutral frontal start and refines illumination, with identity and texture fixed to the pair's known ρ; errors vs the ground-truth ρ. 'real target' is the fitter's own error on the real image: its noise floor.")
        }
        var used = config
        used.sampler = baseSampler
        let report = TGDMEvaluationReport(modelConfig: model.config, evaluation: used, pairIndices: indices, rows: rows, pairs: pairs,
                                          seconds: Date().timeIntervalSince(started), notes: notes)
        return (report, EvaluationSamples(source: source, render: render, generated: generated, target: target))
    }
}
