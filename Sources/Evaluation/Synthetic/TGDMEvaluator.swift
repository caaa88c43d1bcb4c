import Diffusion
import FaceAnalysis
import FaceModel
import Foundation
import Media
import Metrics
import Pipelines
import TGDMModel
import Torch

/// How Exp / Angle / Gaze are read back from images.
public enum MotionReadout: String, Codable, Sendable, CaseIterable {
    /// Analysis-by-synthesis (`MotionEstimator`, photometric, identity and texture fixed to the known ρ).
    case photometric
    /// Face Mesh + `LandmarkFitter` on the image upsampled to 256² (`FaceMeasurer`), nothing known.
    case landmarks
    case none
}

/// What an evaluation samples and measures.
public struct TGDMEvaluationConfig: Codable, Equatable, Sendable {
    /// Pairs evaluated, spread evenly over the dataset (index k·count_dataset/count).
    public var count = 24
    /// Sampler kind and steps (nil: the model's default sampler with seed 0); batch b is sampled with seed
    /// `sampler.seed + b`, so every model sees the same noise.
    public var sampler: SamplerConfiguration?
    public var batchSize = 8
    public var motion: MotionReadout = .landmarks
    /// Settings of the photometric readout.
    public var motionFit = MotionFitSettings()
    /// LPIPS backbone (`vgg16`, the paper's, or `alex`).
    public var lpips = LPIPS.Backbone.vgg16.rawValue
    /// Identity (dlib), landmark distances and the face-found rate, from Face Mesh on the images upsampled to 256².
    public var faceMetrics = true
    /// FID and KID of each row's images against the real targets.
    public var setMetrics = true
    /// Also score the pipeline's output crop: the 3DMM-warped source where valid, the generator where not
    /// (`WarpCompositor.reenactment`).
    public var composite = false
    /// Sample from the warped source noised to this fraction of the sampler's steps (image-to-image, as the
    /// pipeline does for models that store `default_start_strength`); nil or 1: from pure noise.
    public var startStrength: Double?
    /// Also score "copy the source" (right identity, wrong motion) as a trivial baseline.
    public var sourceBaseline = true
    /// Pairs shown in the grid (source | I_3d | generated | [composite |] target).
    public var gridPairs = 8

    public init() {}

    public func validate() throws {
        guard (1...100_000).contains(count) else { throw EvaluationError.invalidConfig("evaluation count must be in 1...100000, got \(count)") }
        guard (1...1024).contains(batchSize) else { throw EvaluationError.invalidConfig("evaluation batch size must be in 1...1024") }
        guard gridPairs >= 0 else { throw EvaluationError.invalidConfig("grid pairs must be ≥ 0") }
        guard LPIPS.Backbone(rawValue: lpips) != nil else {
            throw EvaluationError.invalidConfig("LPIPS backbone must be one of \(LPIPS.Backbone.allCases.map(\.rawValue)), got \(lpips)")
        }
        if motion == .photometric { try motionFit.validate() }
        if let s = startStrength, !(s > 0 && s <= 1) { throw EvaluationError.invalidConfig("start strength must be in (0, 1], got \(s)") }
    }

    /// `count` dataset indices spread evenly over `0..<datasetCount` (all of them when it is smaller).
    public func pairIndices(datasetCount: Int) -> [Int] {
        let n = Swift.min(count, datasetCount)
        return (0..<n).map { k in k * datasetCount / n }
    }
}

/// Per-pair numbers of the generated images, for scatter plots and for checking the means.
public struct PairScore: Codable, Equatable, Sendable {
    public let index: Int
    public let metrics: [EvaluationMetric: Double]
}

public struct TGDMEvaluationReport: Codable, Equatable, Sendable {
    public let modelConfig: TGDMConfig
    public let evaluation: TGDMEvaluationConfig
    public let pairIndices: [Int]
    public let rows: [EvaluationRow]
    public let pairs: [PairScore]
    public let seconds: Double
    public let notes: [String]

    /// The columns of the synthetic benchmark's table.
    public static let columns: [EvaluationMetric] = [.psnr, .ssim, .lpips, .expressionToCoefficients, .angleToCoefficients,
                                                     .gazeToCoefficients, .expression, .angle, .gaze, .identity, .identityDistance,
                                                     .lmdMouth, .lmdAll, .fid, .kid]

    /// A Markdown table of the rows (mean ± std; n is in the JSON).
    public func table(showCount: Bool = false) -> String {
        EvaluationTable.markdown(rows: rows, columns: Self.columns, showCount: showCount) ?? "(no metrics)"
    }

    public func write(to url: URL) throws {
        let json = JSONEncoder()
        json.outputFormatting = [.prettyPrinted, .sortedKeys]
        try json.encode(self).write(to: url, options: .atomic)
    }
}

/// The images of an evaluation, for a grid: per pair source, I_3d, generated, composite (when scored), target.
public struct EvaluationSamples {
    public let source: [Tensor]
    public let render: [Tensor]
    public let generated: [Tensor]
    public let composite: [Tensor]
    public let target: [Tensor]

    public var columns: Int { composite.isEmpty ? 4 : 5 }
    public var labels: [String] { composite.isEmpty ? ["source", "I_3d", "generated", "target"] : ["source", "I_3d", "generated", "composite", "target"] }

    /// Tiles in rows of `columns` for `ImageGrid.save(_:columns:)`.
    public func gridTiles(maxPairs: Int) -> [Tensor] {
        var tiles: [Tensor] = []
        for i in 0..<Swift.min(maxPairs, generated.count) {
            tiles += [source[i], render[i], generated[i]]
            if !composite.isEmpty { tiles.append(composite[i]) }
            tiles.append(target[i])
        }
        return tiles
    }
}

/// Scores a TGDM model on held-out pairs of the synthetic benchmark: samples each pair's target from its source,
/// I_3d and ρ̂ with fixed seeds, then measures PSNR, SSIM and LPIPS (the published VGG16 network) against the real
/// target, Exp / Angle / Gaze read back from the images (against the known ρ̂ and against the same readout of the
/// real target), identity (dlib) against the source, Face Mesh landmark distances and FID / KID against the targets.
public final class TGDMEvaluator {
    public let config: TGDMEvaluationConfig
    let lpips: LPIPS
    let photometric: MotionEstimator?
    let measurer: FaceMeasurer?
    let inception: FIDInception?
    let warper: FaceWarper?

    /// `faceModel` is needed for the photometric readout and the composite.
    public init(config: TGDMEvaluationConfig, faceModel: MorphableModel?) throws {
        try config.validate()
        self.config = config
        lpips = try LPIPS(backbone: LPIPS.Backbone(rawValue: config.lpips)!)
        if config.motion == .photometric || config.composite {
            guard faceModel != nil else { throw EvaluationError.invalidConfig("the photometric readout and the composite need a morphable model") }
        }
        photometric = config.motion == .photometric ? try MotionEstimator(model: faceModel!, settings: config.motionFit) : nil
        let landmarks = config.motion == .landmarks
        measurer = config.faceMetrics || landmarks
            ? try FaceMeasurer(options: FaceMeasurer.Options(identity: config.faceMetrics, coefficients: landmarks, emotion: false)) : nil
        inception = config.setMetrics ? try FIDInception() : nil
        warper = config.composite ? try FaceWarper(model: faceModel!) : nil
    }

    /// - Parameter sourceCoefficients: the source ρ of dataset pair `index`; needed by the composite.
    public func evaluate(bundle: TGDMModelBundle, dataset: PairDataset, sourceCoefficients: ((Int) throws -> Tensor)? = nil,
                         progress: ((String) -> Void)? = nil) throws -> (report: TGDMEvaluationReport, samples: EvaluationSamples) {
        let started = Date()
        guard dataset.count > 0 else { throw EvaluationError.invalidInput("the evaluation dataset is empty") }
        guard !config.composite || sourceCoefficients != nil else {
            throw EvaluationError.invalidConfig("the composite needs each pair's source coefficients")
        }
        let model = bundle.model
        let indices = config.pairIndices(datasetCount: dataset.count)
        let sampler = TGDMSampler(bundle: bundle)
        let baseSampler = config.sampler ?? bundle.defaultSampler
        var source: [Tensor] = [], render: [Tensor] = [], generated: [Tensor] = [], target: [Tensor] = [], rho: [Tensor] = []
        var composite: [Tensor] = []
        for (b, start) in stride(from: 0, to: indices.count, by: config.batchSize).enumerated() {
            let batchIndices = Array(indices[start..<Swift.min(start + config.batchSize, indices.count)])
            let batch = try dataset.batch(indices: batchIndices)
            guard batch.target.size(2) == model.config.imageSize, batch.target.size(3) == model.config.imageSize,
                  batch.coefficients.size(1) == model.config.conditionInputDim else {
                throw EvaluationError.invalidInput("the dataset has \(batch.target.size(2))² images and \(batch.coefficients.size(1)) coefficients; the model expects \(model.config.imageSize)² and \(model.config.conditionInputDim)")
            }
            var samplerConfig = baseSampler
            samplerConfig.seed = baseSampler.seed &+ UInt64(b)
            var start = SamplingStart.noise
            if let strength = config.startStrength, strength < 1 {
                // The pipeline's image-to-image start: the warped source where valid, I_3d where not.
                let warp = try batch.warp ?? startWarp(batch: batch, indices: batchIndices, model: model.config, sourceCoefficients: sourceCoefficients)
                start = try TGDMSampler.warpStart(warp: warp, render: batch.render, strength: strength)
            }
            let out = try sampler.generate(source: batch.source, render: model.config.usesRender ? batch.render : nil,
                                           coefficients: batch.coefficients, warp: batch.warp, identity: batch.identity,
                                           config: samplerConfig, start: start).to(.cpu)
            for i in 0..<batchIndices.count {
                source.append(try batch.source.select(0, i)); render.append(try batch.render.select(0, i))
                generated.append(try out.select(0, i)); target.append(try batch.target.select(0, i))
                // The frame's own ρ̂ is the centre of a temporal window.
                let k = model.config.temporalRadius, d = model.config.coefficientDim
                rho.append(try batch.coefficients.select(0, i).narrow(0, k * d, d))
                if let warper, let sourceCoefficients {
                    composite.append(try Self.composite(generated: generated.last!, source: source.last!, sourceRho: sourceCoefficients(batchIndices[i]),
                                                        targetRho: rho.last!, warper: warper))
                }
            }
            progress?("sampled \(source.count)/\(indices.count)")
        }
        let baselineName = "source copied (baseline)"
        var kinds: [(name: String, images: [Tensor])] = [("generated", generated)]
        if config.composite { kinds.append(("composite (warp + generator)", composite)) }
        if config.sourceBaseline { kinds.append((baselineName, source)) }
        // The baseline's images are the sources: analysed once.
        func key(_ kind: String) -> String { kind == baselineName ? "source" : kind }
        let floorName = "real target (\(config.motion == .landmarks ? "landmark estimator" : config.motion == .photometric ? "photometric fitter" : "estimator") floor)"
        var timings: [String: Double] = [:]
        func timed<T>(_ key: String, _ body: () throws -> T) rethrows -> T {
            let t0 = Date()
            defer { timings[key, default: 0] += Date().timeIntervalSince(t0) }
            return try body()
        }

        // Face analysis of every image once (targets and sources are references).
        var measured: [String: [FaceMeasurement?]] = [:]
        if let measurer {
            for (kind, images) in kinds + [("target", target), ("source", source)] where measured[key(kind)] == nil {
                let name = key(kind)
                measured[name] = try timed("face analysis") {
                    try images.enumerated().map { i, image in
                        progress?("face analysis \(name) \(i + 1)/\(images.count)")
                        do { return try measurer.measure(RGBImage(tensor: image), name: "\(name) \(indices[i])") } catch EvaluationError.noFace { return nil }
                    }
                }
            }
        }
        // Motion read back from every image.
        func readout(_ name: String, _ images: [Tensor]) throws -> [Tensor?] {
            switch config.motion {
            case .none: return images.map { _ in nil }
            case .landmarks:
                return try (measured[key(name)] ?? []).map { m in try m?.coefficients.map { try Tensor($0, shape: [Coefficients.count]) } }
            case .photometric:
                return try timed("photometric fit") {
                    try images.indices.map { i in
                        progress?("fitted motion \(name) \(i + 1)/\(images.count)")
                        return try photometric!.estimate(image: images[i], known: rho[i])
                    }
                }
            }
        }
        let targetMotion = try readout("target", target)
        let features = try inception.map { net in try timed("inception") { try net.features(Tensor.stack(target)) } }

        var rows: [EvaluationRow] = []
        var perPair: [[EvaluationMetric: Double]] = indices.map { _ in [:] }
        for (kind, images) in kinds {
            let stacked = try Tensor.stack(images), targets = try Tensor.stack(target)
            var row = EvaluationRow(name: kind)
            let psnr = try ImageMetrics.psnr(stacked, targets), ssim = try ImageMetrics.ssim(stacked, targets)
            let lp = try timed("lpips") { try Torch.noGrad { try lpips.distances(stacked, targets).toArray(Float.self).map(Double.init) } }
            row.set(.psnr, psnr); row.set(.ssim, ssim); row.set(.lpips, lp)
            let motion = try readout(kind, images)
            let errors = try Self.motionErrors(motion, reference: rho.map { Optional($0) })
            row.set(.expressionToCoefficients, errors.exp); row.set(.angleToCoefficients, errors.angle); row.set(.gazeToCoefficients, errors.gaze)
            let vsTarget = try Self.motionErrors(motion, reference: targetMotion)
            row.set(.expression, vsTarget.exp); row.set(.angle, vsTarget.angle); row.set(.gaze, vsTarget.gaze)
            var faces: [EvaluationMetric: [Double?]] = [:]
            if let own = measured[key(kind)], let src = measured["source"], let tgt = measured["target"] {
                faces = try Self.faceMetrics(own, source: src, target: tgt)
                for (m, v) in faces { row.set(m, v) }
            }
            if let inception, let features {
                let f = try timed("inception") { try inception.features(stacked) }
                row[.fid] = MetricSummary(value: try FrechetDistance.compute(features: f, features), count: images.count)
                let kid = try KernelInceptionDistance.compute(f, features)
                row[.kid] = MetricSummary(value: kid.mean, std: kid.std, count: images.count)
            }
            rows.append(row)
            if kind == "generated" {
                for i in indices.indices {
                    // Readouts can be shorter than the pairs (no motion readout, or no face found at all): absent, not a crash.
                    func at(_ values: [Double?], _ i: Int) -> Double? { values.indices.contains(i) ? values[i] : nil }
                    func at(_ values: [Double], _ i: Int) -> Double? { values.indices.contains(i) ? values[i] : nil }
                    var p: [EvaluationMetric: Double] = [:]
                    p[.psnr] = at(psnr, i); p[.ssim] = at(ssim, i); p[.lpips] = at(lp, i)
                    p[.expressionToCoefficients] = at(errors.exp, i); p[.angleToCoefficients] = at(errors.angle, i); p[.gazeToCoefficients] = at(errors.gaze, i)
                    p[.expression] = at(vsTarget.exp, i); p[.angle] = at(vsTarget.angle, i)
                    for (m, v) in faces { p[m] = at(v, i) }
                    perPair[i] = p
                }
            }
            progress?("scored \(kind)")
        }
        if config.motion != .none || measurer != nil {
            // The readout's own error on the real images, and the real target's identity against its source.
            var row = EvaluationRow(name: floorName)
            let errors = try Self.motionErrors(targetMotion, reference: rho.map { Optional($0) })
            row.set(.expressionToCoefficients, errors.exp); row.set(.angleToCoefficients, errors.angle); row.set(.gazeToCoefficients, errors.gaze)
            if let src = measured["source"], let tgt = measured["target"] {
                let faces = try Self.faceMetrics(tgt, source: src, target: tgt)
                for m in [EvaluationMetric.identity, .identityDistance, .identityMatch, .faceFound] { row.set(m, faces[m] ?? []) }
            }
            rows.append(row)
        }
        if let src = measured["source"], let tgt = measured["target"], indices.count >= 2 {
            // What dlib says of two different people of the benchmark: each source against the next pair's target.
            let shifted = Array(tgt.dropFirst()) + [tgt[0]]
            let faces = try Self.faceMetrics(shifted, source: src, target: shifted)
            var row = EvaluationRow(name: "next pair's target (another identity)")
            for m in [EvaluationMetric.identity, .identityDistance, .identityMatch] { row.set(m, faces[m] ?? []) }
            rows.append(row)
        }
        let pairs = indices.indices.map { PairScore(index: indices[$0], metrics: perPair[$0]) }
        var notes = [
            "PSNR on images mapped to [0, 1], capped at \(Int(ImageMetrics.psnrCap)) dB; SSIM: 11×11 Gaussian window (σ 1.5), per channel.",
            "LPIPS: the published \(config.lpips) network with its learned lin layers (Zhang et al. 2018).",
            "Exp/Angle/Gaze vs ρ̂: against the pair's ground-truth coefficients; Exp/Angle without 'vs ρ̂': against the same readout of the real target (the paper's protocol).",
        ]
        switch config.motion {
        case .photometric:
            notes.append("Motion readout: CoefficientFitter (photometric, \(config.motionFit.iterations) Adam steps, lr \(config.motionFit.learningRate)) fits expression, pose and gaze from a neutral frontal start with identity and texture fixed to the known ρ; the 'real target' row is its noise floor.")
        case .landmarks:
            notes.append("Motion readout: Face Mesh + LandmarkFitter on the image upsampled to 256² (identity, expression, pose, gaze from the irises; nothing known); the 'real target' row is its noise floor.")
        case .none: break
        }
        if measurer != nil {
            notes.append("ID: dlib ResNet embedding (chip aligned on Face Mesh points) of the image upsampled to 256², cosine with the source's (the paper's ID-C uses CurricularFace); ID dist: dlib's Euclidean distance (same person < 0.6). LMD: Face Mesh points vs the real target's, pixels of a 256² frame. Images without a detected face are left out (see faceFound). 'next pair's target' compares each source with another pair's target: a different identity when pairs are spread over identities (the default: 16 of 1680 test pairs, 56 pairs per identity).")
        }
        if config.setMetrics {
            notes.append("FID/KID: Inception-v3 (TF graph) features of each row's \(indices.count) images vs the \(indices.count) real targets; with so few samples FID is strongly biased upwards, compare rows, not papers.")
        }
        if config.composite {
            notes.append("Composite: FaceWarper(source ρ → ρ̂) at the model's size, the warped source where valid, the generator's output where not (WarpCompositor.reenactment), as the pipeline outputs it.")
        }
        notes.append("Time: " + timings.sorted { $0.key < $1.key }.map { String(format: "%@ %.1f s", $0.key, $0.value) }.joined(separator: ", ") + ".")
        let report = TGDMEvaluationReport(modelConfig: model.config, evaluation: { var c = config; c.sampler = baseSampler; return c }(),
                                          pairIndices: indices, rows: rows, pairs: pairs,
                                          seconds: Date().timeIntervalSince(started), notes: notes)
        return (report, EvaluationSamples(source: source, render: render, generated: generated, composite: composite, target: target))
    }

    /// The pipeline's output crop for one pair ([3, S, S] images, [261] ρ).
    /// The warped source and its validity mask (B×4×H×W) of a batch whose dataset does not carry them.
    func startWarp(batch: PairBatch, indices: [Int], model: TGDMConfig, sourceCoefficients: ((Int) throws -> Tensor)?) throws -> Tensor {
        guard let warper, let sourceCoefficients else {
            throw EvaluationError.invalidConfig("an image-to-image start needs the warp: a warp model, or --composite with the pairs' source coefficients")
        }
        let offset = model.temporalRadius * model.coefficientDim, d = model.coefficientDim
        return try Tensor.cat(try indices.enumerated().map { i, index in
            let size = batch.source.size(2)
            let field = try warper.field(source: Coefficients(sourceCoefficients(index).to(.float32).unsqueeze(0)),
                                         target: Coefficients(batch.coefficients.select(0, i).narrow(0, offset, d).to(.float32).unsqueeze(0)), size: size)
            return try field.generatorInput(batch.source.select(0, i).unsqueeze(0))
        }, dim: 0)
    }

    public static func composite(generated: Tensor, source: Tensor, sourceRho: Tensor, targetRho: Tensor, warper: FaceWarper) throws -> Tensor {
        let size = generated.size(-1)
        let field = try warper.field(source: Coefficients(sourceRho.to(.float32).unsqueeze(0)), target: Coefficients(targetRho.to(.float32).unsqueeze(0)), size: size)
        let warped = try field.warp(source.unsqueeze(0))
        return try WarpCompositor.reenactment(generated: generated.unsqueeze(0), warped: warped, field: field).squeeze(0)
    }

    static func motionErrors(_ fits: [Tensor?], reference: [Tensor?]) throws -> (exp: [Double?], angle: [Double?], gaze: [Double?]) {
        var e: [Double?] = [], a: [Double?] = [], g: [Double?] = []
        for (f, r) in zip(fits, reference) {
            guard let f, let r else { e.append(nil); a.append(nil); g.append(nil); continue }
            e.append(try MotionErrors.expression(f, r)[0]); a.append(try MotionErrors.angles(f, r)[0]); g.append(try MotionErrors.gaze(f, r)[0])
        }
        return (e, a, g)
    }

    /// Identity against the source, landmark distances against the target, and the face-found rate.
    static func faceMetrics(_ own: [FaceMeasurement?], source: [FaceMeasurement?], target: [FaceMeasurement?]) throws -> [EvaluationMetric: [Double?]] {
        var out: [EvaluationMetric: [Double?]] = [:]
        for i in own.indices {
            let m = own[i]
            out[.faceFound, default: []].append(m == nil ? 0 : 1)
            // One entry per image (nil where a face is missing), so index i is pair i in every array.
            if let a = m?.embedding, let b = source[i]?.embedding {
                let d = try FaceIdentityEncoder.distance(a, b)
                out[.identity, default: []].append(try FaceIdentityEncoder.cosineSimilarity(a, b))
                out[.identityDistance, default: []].append(d)
                out[.identityMatch, default: []].append(d < FaceIdentityEncoder.sameIdentityThreshold ? 1 : 0)
            } else {
                for k in [EvaluationMetric.identity, .identityDistance, .identityMatch] { out[k, default: []].append(nil) }
            }
            if let a = m?.landmarks, let b = target[i]?.landmarks {
                out[.lmdMouth, default: []].append(try Landmarks.meanDistance(a, b, indices: Landmarks.mouth))
                out[.lmdAll, default: []].append(try Landmarks.meanDistance(a, b))
            } else {
                for k in [EvaluationMetric.lmdMouth, .lmdAll] { out[k, default: []].append(nil) }
            }
        }
        return out
    }
}
