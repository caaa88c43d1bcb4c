import Torch
import TextEncoder
import Foundation
@testable import Audio2Expression

/// A deterministic stand-in text encoder: each style maps to a fixed random unit vector (FNV hash seed).
final class HashTextEncoder: EmotionTextEncoder {
    let embeddingWidth: Int
    let identifier: String
    init(width: Int = 16, identifier: String = "hash-test") { embeddingWidth = width; self.identifier = identifier }
    func embedStyle(_ text: String) throws -> Tensor {
        var h: UInt64 = 0xcbf29ce484222325
        for b in text.lowercased().utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return try l2Normalize(Tensor.randn([1, embeddingWidth], generator: Generator(seed: h)))
    }
}

/// A fixed random linear map from (α, β) to 68 2-D landmarks: differentiable, like the face model's.
struct LinearLandmarks: LandmarkProjector {
    let identityBasis: Tensor   // A × 136
    let expressionBasis: Tensor // E × 136
    init(identityDim: Int, expressionDim: Int, seed: UInt64 = 5) throws {
        let g = Generator(seed: seed)
        identityBasis = try Tensor.randn([identityDim, 136], generator: g) * 0.1
        expressionBasis = try Tensor.randn([expressionDim, 136], generator: g) * 0.1
    }
    func landmarks(identity: Tensor, expression: Tensor) throws -> Tensor {
        try (identity.matmul(identityBasis) + expression.matmul(expressionBasis)).reshape([-1, 68, 2])
    }
}

enum Synthetic {
    static func smallConfig(_ backbone: EmoA2EBackbone = .transformer, emotion: Bool = true, dropout: Double = 0) -> EmoA2EConfig {
        EmoA2EConfig(windowFrames: 8, mfccRowsPerFrame: 4, mfccCoefficients: 13, identityDim: 6, expressionDim: 5, emotionDim: 16,
                     hiddenDim: 32, layers: 2, heads: 4, dropout: dropout, backbone: backbone, emotionConditioned: emotion,
                     textEncoder: "hash-test")
    }

    /// Sequences whose expression is a fixed smooth function of the MFCCs, the identity and the emotion:
    /// learnable, so a short training run must lower the loss.
    static func dataset(_ config: EmoA2EConfig, sequences: Int = 6, frames: Int = 20, seed: UInt64 = 1) throws -> EmoA2EDataset {
        let g = Generator(seed: seed)
        let c = config
        let audioMap = try Tensor.randn([c.mfccRowsPerFrame * c.mfccCoefficients, c.expressionDim], generator: g) * 0.05
        let identityMap = try Tensor.randn([c.identityDim, c.expressionDim], generator: g) * 0.3
        let emotionMap = try Tensor.randn([c.emotionDim, c.expressionDim], generator: g) * 0.5
        let encoder = HashTextEncoder(width: c.emotionDim)
        var out: [EmoA2ESequence] = []
        for i in 0..<sequences {
            let mfcc = try Tensor.randn([frames, c.mfccRowsPerFrame, c.mfccCoefficients], generator: g)
            let identity = try Tensor.randn([c.identityDim], generator: g)
            let emotion = try encoder.embed(["happy", "sad", "angry"][i % 3])
            let eta = Double(1 + i % 3)
            var expr = try mfcc.reshape([frames, -1]).matmul(audioMap).tanh() + identity.reshape([1, -1]).matmul(identityMap)
            if c.emotionConditioned { expr = try expr + emotion.matmul(emotionMap) * (eta / 3) }
            out.append(EmoA2ESequence(mfcc: mfcc, expression: expr, identity: identity,
                                      emotion: c.emotionConditioned ? try emotion.reshape([-1]) : nil, intensity: eta, tag: "seq\(i)"))
        }
        return try EmoA2EDataset(sequences: out, config: c)
    }
}
