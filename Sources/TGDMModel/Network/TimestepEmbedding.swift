import Torch
import Foundation

/// Sinusoidal features of the timestep (Transformer / DDPM style): [cos(t·f_k), sin(t·f_k)] with
/// f_k = 10000^(−k/half), k = 0..<half.
public func sinusoidalEmbedding(_ timesteps: Tensor, dim: Int) throws -> Tensor {
    guard dim >= 2, dim % 2 == 0 else { throw TGDMError.invalidConfig("timestep embedding dim \(dim) must be even") }
    let half = dim / 2
    let freqs = try (Tensor.arange(0, Double(half)) * (-Foundation.log(10000.0) / Double(half))).exp().to(timesteps.device)
    let args = try timesteps.to(.float32).reshape([-1, 1]) * freqs.reshape([1, half])
    return try Tensor.cat([args.cos(), args.sin()], dim: 1)
}

/// The condition C = Linear(ρ̂) + Linear(emb(t)) of Sec. 4.3, injected by AdaIN in every residual block;
/// swap models add Linear(z_id) (Sec. 4.4). The time branch is DDPM's two-layer MLP over the sinusoidal features.
public final class ConditionEmbedding: Module {
    public let time1: Linear
    public let time2: Linear
    public let coefficients: Linear
    /// Linear(z_id), zero-initialised so a model fine-tuned from a reenactment model starts where that one was.
    public let identity: Linear?
    let sinusoidDim: Int

    public init(sinusoidDim: Int, coefficientDim: Int, embeddingDim: Int, identityDim: Int = 0, generator: Generator? = nil) throws {
        time1 = try Linear(sinusoidDim, embeddingDim, generator: generator)
        time2 = try Linear(embeddingDim, embeddingDim, generator: generator)
        coefficients = try Linear(coefficientDim, embeddingDim, generator: generator)
        identity = identityDim > 0 ? try Linear(identityDim, embeddingDim, generator: generator) : nil
        self.sinusoidDim = sinusoidDim
        super.init()
        try identity?.zeroInit()
    }

    /// timesteps [B] (int or float), coefficients [B, coefficientDim] -> C [B, embeddingDim].
    public func callAsFunction(timesteps: Tensor, coefficients rho: Tensor) throws -> Tensor {
        try timeEmbedding(timesteps) + coefficients(rho)
    }

    /// Linear(emb(t)) for [B] timesteps (B = 1 broadcasts over a batch).
    public func timeEmbedding(_ timesteps: Tensor) throws -> Tensor {
        try time2(time1(sinusoidalEmbedding(timesteps, dim: sinusoidDim)).silu())
    }
}
