import Foundation
import Media
import Torch

/// The EmoA2E network (paper Fig. 3, Eq. 9-11):
///   φ = η·φ_base                                                         (9)
///   β̄ = T([φ, MLP(α), MLP(A)] + PE + MLP(z_emo))                         (10)
///   β̂ = MLP(β̄)  at the audio tokens                                      (11)
/// A is a window of K MFCC clips (R rows × C coefficients per video frame), α the identity coefficients,
/// z_emo the text embedding of the emotion prompt and η the intensity. The emotion-free variant drops φ
/// and z_emo. MFCCs are standardised with per-coefficient statistics stored in the checkpoint.
public final class EmoA2EModel: Module {
    public let config: EmoA2EConfig
    /// Per-coefficient MFCC mean and standard deviation (buffers, set from the training data).
    let mfccMean: Tensor
    let mfccStd: Tensor
    let audioEmbedding: MLP
    let identityEmbedding: MLP
    let emotionEmbedding: MLP?
    /// φ_base of Eq. 9.
    let intensityBase: Tensor?
    let backbone: Module
    let head: MLP
    private let _backbone: SequenceBackbone
    private let _positions: Tensor

    public init(config: EmoA2EConfig, generator: Generator? = nil) throws {
        try config.validate()
        self.config = config
        let h = config.hiddenDim
        mfccMean = try Tensor.zeros([config.mfccCoefficients])
        mfccStd = try Tensor.ones([config.mfccCoefficients])
        audioEmbedding = try MLP([config.mfccRowsPerFrame * config.mfccCoefficients, h, h], activation: .gelu, generator: generator)
        identityEmbedding = try MLP([config.identityDim, h, h], activation: .gelu, generator: generator)
        if config.emotionConditioned {
            emotionEmbedding = try MLP([config.emotionDim, h, h], activation: .gelu, generator: generator)
            intensityBase = try (Tensor.randn([h], generator: generator) * 0.5).requiresGrad(true)
        } else {
            emotionEmbedding = nil
            intensityBase = nil
        }
        switch config.backbone {
        case .transformer:
            let b = try TransformerBackbone(config: config, generator: generator)
            backbone = b; _backbone = b
        case .gru:
            let b = try GRUBackbone(config: config, generator: generator)
            backbone = b; _backbone = b
        case .mlp:
            let b = try MLPBackbone(config: config, generator: generator)
            backbone = b; _backbone = b
        }
        head = try MLP([h, h, config.expressionDim], activation: .gelu, generator: generator)
        _positions = try Self.sinusoidalPositions(count: config.prefixTokens + config.windowFrames, dim: h)
        super.init()
    }

    /// The standard transformer positional encoding: sin on even, cos on odd channels.
    static func sinusoidalPositions(count: Int, dim: Int) throws -> Tensor {
        var values = [Float](repeating: 0, count: count * dim)
        for p in 0..<count {
            for i in stride(from: 0, to: dim, by: 2) {
                let angle = Double(p) / Foundation.pow(10000, Double(i) / Double(dim))
                values[p * dim + i] = Float(Foundation.sin(angle))
                if i + 1 < dim { values[p * dim + i + 1] = Float(Foundation.cos(angle)) }
            }
        }
        return try Tensor(values, shape: [count, dim])
    }

    /// Sets the MFCC standardisation from training data (N×…×C, the last dimension the coefficients).
    public func setMFCCStatistics(from mfcc: Tensor) throws {
        let c = config.mfccCoefficients
        guard mfcc.size(-1) == c else { throw EmoA2EError("MFCC statistics need \(c) coefficients, got \(mfcc.shape)") }
        let flat = try mfcc.reshape([-1, c])
        let std = try flat.variance([0]).sqrt().clamp(min: 1e-3)
        try Torch.noGrad {
            try mfccMean.copy_(flat.mean(dim: 0))
            try mfccStd.copy_(std)
        }
    }

    /// - Parameters:
    ///   - mfcc: N×K×R×C MFCC clips (K ≤ windowFrames).
    ///   - identity: N×identityDim.
    ///   - emotion: N×emotionDim text embeddings (required iff the model is emotion-conditioned).
    ///   - intensity: N intensities η (required iff emotion-conditioned).
    /// - Returns: N×K×expressionDim expression coefficients β̂.
    public func callAsFunction(mfcc: Tensor, identity: Tensor, emotion: Tensor? = nil, intensity: Tensor? = nil) throws -> Tensor {
        let c = config
        guard mfcc.rank == 4, mfcc.size(2) == c.mfccRowsPerFrame, mfcc.size(3) == c.mfccCoefficients else {
            throw EmoA2EError("MFCC clips must be N×K×\(c.mfccRowsPerFrame)×\(c.mfccCoefficients), got \(mfcc.shape)")
        }
        let (n, k) = (mfcc.size(0), mfcc.size(1))
        guard n > 0, (1...c.windowFrames).contains(k) else {
            throw EmoA2EError("a window holds 1...\(c.windowFrames) frames, got \(k) (batch \(n))")
        }
        guard identity.shape == [n, c.identityDim] else {
            throw EmoA2EError("identity must be \(n)×\(c.identityDim), got \(identity.shape)")
        }
        let audio = try audioEmbedding(((mfcc - mfccMean) / mfccStd).reshape([n, k, c.mfccRowsPerFrame * c.mfccCoefficients]))
        var tokens = [try identityEmbedding(identity).unsqueeze(1), audio]
        var emotionToken: Tensor? = nil
        if c.emotionConditioned {
            guard let emotion, let intensity, let emotionEmbedding, let intensityBase else {
                throw EmoA2EError("this EmoA2E is emotion-conditioned: an emotion embedding and an intensity are required")
            }
            guard emotion.shape == [n, c.emotionDim] else {
                throw EmoA2EError("emotion embedding must be \(n)×\(c.emotionDim), got \(emotion.shape)")
            }
            guard intensity.shape == [n] else { throw EmoA2EError("intensity must have shape [\(n)], got \(intensity.shape)") }
            let phi = try intensity.reshape([n, 1, 1]) * intensityBase.reshape([1, 1, c.hiddenDim])   // Eq. 9
            tokens.insert(phi, at: 0)
            emotionToken = try emotionEmbedding(emotion).unsqueeze(1)
        }
        var sequence = try Tensor.cat(tokens, dim: 1)
        if c.backbone == .transformer {
            sequence = try sequence + _positions.narrow(0, 0, sequence.size(1))
        }
        if let emotionToken { sequence = try sequence + emotionToken }                          // Eq. 10
        let features = try _backbone(sequence, prefixTokens: c.prefixTokens)
        return try head(features)                                                                // Eq. 11
    }
}
