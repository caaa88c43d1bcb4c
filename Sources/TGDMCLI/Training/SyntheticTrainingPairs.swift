import FaceModel
import Foundation
import SyntheticFaces
import TGDMModel
import Torch

/// The synthetic benchmark as TGDM training pairs. For a model with a temporal window (k > 0) each target's
/// ρ̂ becomes a window of 2k + 1 frames: the benchmark's frames are independent poses, not a video, so the
/// neighbours are the target's ρ̂ with small seeded perturbations of expression, pose and gaze, the size of
/// frame-to-frame motion plus estimation jitter — what the window sees in a tracked video (Sec. 4.2).
struct SyntheticTrainingPairs: PairDataset {
    let source: SyntheticPairSource
    let temporalRadius: Int
    let seed: UInt64

    /// Standard deviations of the neighbour perturbations per coefficient part.
    static let jitter: [(CoefficientPart, Float)] = [(.expression, 0.05), (.pose, 0.01), (.gaze, 0.02)]

    var count: Int { source.count }

    func example(at index: Int) throws -> PairExample {
        let s = try source.sample(at: index)
        return PairExample(source: s.source, target: s.target, render: s.render,
                           coefficients: try window(s.coefficients, index: index))
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
