import Diffusion
import Foundation
import Torch

/// Optimisation and bookkeeping of a TGDM training run (Sec. 5.1: AdamW-style Adam at lr 2e-4, batch 8).
public struct TGDMTrainingConfig: Codable, Equatable, Sendable {
    public var batchSize: Int = 8
    public var learningRate: Double = 2e-4
    /// Decoupled weight decay; 0 as in ADM (the paper states none).
    public var weightDecay: Double = 0
    /// Global gradient-norm clip (a non-finite norm skips the update).
    public var gradientClip: Double = 1
    /// EMA of the weights used for previews and sampling. 0.9999 suits 200K-step runs; use ~0.999 for short ones.
    public var emaDecay: Double = 0.9999
    /// Seeds batch order, timesteps and noise; step k's randomness depends only on (seed, k), so a
    /// resumed run continues exactly where the interrupted one would have.
    public var seed: UInt64 = 0
    public var logEvery: Int = 50
    /// Write `checkpoint.safetensors` (atomically) every this many steps (0 = never).
    public var checkpointEvery: Int = 1000
    /// Write `loss.png` and `samples-stepNNNNNNN.png` every this many steps (0 = never).
    public var artifactEvery: Int = 1000
    /// The sampler for preview grids.
    public var preview: SamplerConfiguration = SamplerConfiguration(kind: .ddim, steps: 25, seed: 0)
    /// Examples (the first ones of the dataset) in each preview grid.
    public var previewCount: Int = 4
    public var loss: TGDMLossConfig = TGDMLossConfig()

    public init() {}

    public func validate() throws {
        guard batchSize >= 1, batchSize <= 4096 else { throw TGDMError.invalidConfig("batch size \(batchSize) out of range") }
        guard learningRate > 0, learningRate.isFinite, weightDecay >= 0, gradientClip > 0 else {
            throw TGDMError.invalidConfig("learning rate, weight decay and gradient clip must be positive (decay ≥ 0)")
        }
        guard emaDecay >= 0, emaDecay < 1 else { throw TGDMError.invalidConfig("EMA decay must be in [0, 1)") }
        guard logEvery >= 0, checkpointEvery >= 0, artifactEvery >= 0, previewCount >= 1 else {
            throw TGDMError.invalidConfig("log/checkpoint/artifact intervals must be ≥ 0 and previewCount ≥ 1")
        }
        try loss.validate()
    }
}
