import Torch
import Foundation

/// Maps the token sequence N×(P+K)×H (P prefix tokens, then K audio tokens) to N×K×H features for the
/// expression head. All three backbones have the same inputs and outputs, so they are interchangeable.
protocol SequenceBackbone: AnyObject {
    func callAsFunction(_ tokens: Tensor, prefixTokens: Int) throws -> Tensor
}

/// The paper's choice: a non-autoregressive (unmasked) pre-LN transformer encoder over all tokens.
final class TransformerBackbone: Module, SequenceBackbone {
    let layers: [TransformerEncoderLayer]
    let finalNorm: LayerNorm

    init(config c: EmoA2EConfig, generator: Generator?) throws {
        layers = try (0..<c.layers).map { _ in
            try TransformerEncoderLayer(dim: c.hiddenDim, heads: c.heads, ffDim: 4 * c.hiddenDim, dropout: c.dropout, generator: generator)
        }
        finalNorm = try LayerNorm(c.hiddenDim)
        super.init()
    }

    func callAsFunction(_ tokens: Tensor, prefixTokens: Int) throws -> Tensor {
        var h = tokens
        for layer in layers { h = try layer(h) }
        return try finalNorm(h).narrow(1, prefixTokens, tokens.size(1) - prefixTokens)
    }
}

/// Ablation: a bidirectional GRU (H/2 units per direction, `layers` deep, capped at 2) over the same
/// sequence, the prefix tokens first, so the forward direction carries identity/intensity into every frame.
final class GRUBackbone: Module, SequenceBackbone {
    let gru: GRU
    let finalNorm: LayerNorm

    init(config c: EmoA2EConfig, generator: Generator?) throws {
        gru = try GRU(inputSize: c.hiddenDim, hiddenSize: c.hiddenDim / 2, numLayers: min(c.layers, 2), batchFirst: true,
                      dropout: c.dropout, bidirectional: true, generator: generator)
        finalNorm = try LayerNorm(c.hiddenDim)
        super.init()
    }

    func callAsFunction(_ tokens: Tensor, prefixTokens: Int) throws -> Tensor {
        let out = try gru(tokens).output
        return try finalNorm(out).narrow(1, prefixTokens, tokens.size(1) - prefixTokens)
    }
}

/// x + W₂ GELU(W₁ LN(x)), applied to each frame on its own.
final class ResidualMLPBlock: Module {
    let norm: LayerNorm
    let expand: Linear
    let project: Linear
    let dropout: Double

    init(dim: Int, dropout: Double, generator: Generator?) throws {
        norm = try LayerNorm(dim)
        expand = try Linear(dim, 4 * dim, generator: generator)
        project = try Linear(4 * dim, dim, generator: generator)
        self.dropout = dropout
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x + F.dropout(project(expand(norm(x)).gelu()), p: dropout, training: training)
    }
}

/// Ablation: stacked fully-connected layers per frame. The prefix tokens (identity, intensity) are added
/// to every audio token; frames never see each other.
final class MLPBackbone: Module, SequenceBackbone {
    let blocks: [ResidualMLPBlock]
    let finalNorm: LayerNorm

    init(config c: EmoA2EConfig, generator: Generator?) throws {
        blocks = try (0..<c.layers).map { _ in try ResidualMLPBlock(dim: c.hiddenDim, dropout: c.dropout, generator: generator) }
        finalNorm = try LayerNorm(c.hiddenDim)
        super.init()
    }

    func callAsFunction(_ tokens: Tensor, prefixTokens: Int) throws -> Tensor {
        let frames = tokens.size(1) - prefixTokens
        let prefix = try tokens.narrow(1, 0, prefixTokens).sum(dim: 1, keepDim: true)
        var h = try tokens.narrow(1, prefixTokens, frames) + prefix
        for block in blocks { h = try block(h) }
        return try finalNorm(h)
    }
}
