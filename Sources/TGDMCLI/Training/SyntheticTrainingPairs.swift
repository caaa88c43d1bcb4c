import FaceModel
import Foundation
import SyntheticFaces
import TGDMModel
import Torch

/// The synthetic benchmark as TGDM training pairs. For a model with a temporal window (k > 0) each target's
/// ρ̂ becomes a window of 2k + 1 frames: the benchmark's frames are independent poses, not a video, so the
/// neighbours are the target's ρ̂ with small seeded perturbations of expression, pose and gaze, the size of
/// frame-to-frame motion plus estimation jitter — what the window sees in a tracked video (Sec. 4.2).
///
/// For `sourceWarp` models each example also carries the source warped to the target by the 3DMM correspondence
/// of the two frames' ρ (`FaceWarper`), with its validity mask — what the pipeline gives the model at inference.
///
/// Swap models (`identityDim` > 0) also read the frame's identity embedding z_id (`SyntheticIdentityEmbeddings`).
struct SyntheticTrainingPairs: PairDataset {
    let source: SyntheticPairSource
    let temporalRadius: Int
    let seed: UInt64
    let warper: FaceWarper?
    /// z_id per dataset frame, [frames, identityDim].
    let identities: Tensor?

    init(source: SyntheticPairSource, temporalRadius: Int, seed: UInt64, warper: FaceWarper? = nil, identities: Tensor? = nil) {
        self.source = source
        self.temporalRadius = temporalRadius
        self.seed = seed
        self.warper = warper
        self.identities = identities
    }

    /// The pairs a model reads: windows for its k, warps when it takes them, z_id for swap models (computed from
    /// the dataset file `url` once and cached beside it).
    init(source: SyntheticPairSource, model config: TGDMConfig, seed: UInt64, dataset url: URL,
         log: (String) -> Void = { print($0) }) throws {
        var identities: Tensor? = nil
        if config.identityDim > 0 {
            guard config.identityDim == 128 else { throw TGDMError.invalidConfig("z_id is the 128-d dlib embedding; identityDim \(config.identityDim)") }
            identities = try SyntheticIdentityEmbeddings.load(dataset: url, frames: SyntheticPairDataset(url: url, split: .all), log: log)
        }
        self.init(source: source, temporalRadius: config.temporalRadius, seed: seed,
                  warper: config.sourceWarp ? try FaceWarper(model: MorphableModel.loadDefault()) : nil, identities: identities)
    }

    /// Standard deviations of the neighbour perturbations per coefficient part.
    static let jitter: [(CoefficientPart, Float)] = [(.expression, 0.05), (.pose, 0.01), (.gaze, 0.02)]

    var count: Int { source.count }

    func example(at index: Int) throws -> PairExample {
        let s = try source.sample(at: index)
        var warp: Tensor? = nil
        if let warper {
            let field = try warper.field(source: Coefficients(s.sourceCoefficients), target: Coefficients(s.coefficients), size: source.size)
            warp = try field.generatorInput(s.source.unsqueeze(0)).squeeze(0)
        }
        return PairExample(source: s.source, target: s.target, render: s.render,
                           coefficients: try window(s.coefficients, index: index), warp: warp,
                           identity: try identities?.select(0, s.targetFrame))
    }

    func window(_ rho: Tensor, index: Int) throws -> Tensor {
        guard temporalRadius > 0 else { return rho }
        var rng = SplitMix64(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        let centre = try rho.floats()
        var rows: [Float] = []
        for offset in -temporalRadius...temporalRadius {
            var row = centre
            if offset != 0 {
                for (part, sd) in Self.jitter {
                    let scale = sd * Float(abs(offset))
                    for j in part.range { row[j] += scale * rng.normal() }
                }
            }
            rows += row
        }
        return try Tensor(rows, shape: [rows.count])
    }
}
