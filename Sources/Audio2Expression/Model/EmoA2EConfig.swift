import Foundation
import Media
import Torch

/// The sequence model between the token embeddings and the expression head (paper Sec. 5.3 ablation).
public enum EmoA2EBackbone: String, Codable, Sendable, CaseIterable {
    /// Non-autoregressive transformer encoder over the whole window (the paper's choice).
    case transformer
    /// A two-layer bidirectional GRU over the same token sequence.
    case gru
    /// Per-frame residual MLP blocks: no temporal context beyond the frame's own MFCC rows.
    case mlp
}

/// Sizes and switches of an EmoA2E network. Stored as JSON in every checkpoint's metadata.
public struct EmoA2EConfig: Codable, Equatable, Sendable {
    /// K: frames per window (the paper samples K = 32 consecutive clips).
    public var windowFrames: Int = 32
    /// R: MFCC rows aligned to one video frame.
    public var mfccRowsPerFrame: Int = 20
    /// MFCC coefficients per row.
    public var mfccCoefficients: Int = 13
    /// α: identity coefficients (80 in the face model).
    public var identityDim: Int = 80
    /// β: expression coefficients predicted per frame (64 in the face model).
    public var expressionDim: Int = 64
    /// D: width of the emotion text embedding z_emo (384 for MiniLM, 512 for CLIP ViT-B/32).
    public var emotionDim: Int = 384
    /// Hidden width of every token.
    public var hiddenDim: Int = 128
    public var layers: Int = 3
    public var heads: Int = 4
    public var dropout: Double = 0.1
    public var backbone: EmoA2EBackbone = .transformer
    /// false: the emotion-free variant of Fig. 3 (no intensity token, no z_emo).
    public var emotionConditioned: Bool = true
    /// Text encoder the emotion embeddings came from (checked when a prompt is encoded at inference).
    public var textEncoder: String = "minilm-l6-v2"

    public init() {}

    public init(windowFrames: Int = 32, mfccRowsPerFrame: Int = 20, mfccCoefficients: Int = 13, identityDim: Int = 80,
                expressionDim: Int = 64, emotionDim: Int = 384, hiddenDim: Int = 128, layers: Int = 3, heads: Int = 4,
                dropout: Double = 0.1, backbone: EmoA2EBackbone = .transformer, emotionConditioned: Bool = true,
                textEncoder: String = "minilm-l6-v2") {
        self.windowFrames = windowFrames; self.mfccRowsPerFrame = mfccRowsPerFrame; self.mfccCoefficients = mfccCoefficients
        self.identityDim = identityDim; self.expressionDim = expressionDim; self.emotionDim = emotionDim
        self.hiddenDim = hiddenDim; self.layers = layers; self.heads = heads; self.dropout = dropout
        self.backbone = backbone; self.emotionConditioned = emotionConditioned; self.textEncoder = textEncoder
    }

    /// Tokens in front of the audio tokens: [φ, MLP(α)] or just [MLP(α)].
    public var prefixTokens: Int { emotionConditioned ? 2 : 1 }

    public func validate() throws {
        let positive = [windowFrames, mfccRowsPerFrame, mfccCoefficients, identityDim, expressionDim, emotionDim, hiddenDim, layers, heads]
        guard positive.allSatisfy({ $0 > 0 }) else { throw EmoA2EError("config sizes must be positive: \(self)") }
        guard windowFrames <= 4096, mfccRowsPerFrame <= 1024, mfccCoefficients <= 128, identityDim <= 4096,
              expressionDim <= 4096, emotionDim <= 8192, hiddenDim <= 8192, layers <= 64 else {
            throw EmoA2EError("config sizes are implausibly large: \(self)")
        }
        guard hiddenDim % heads == 0 else { throw EmoA2EError("hidden width \(hiddenDim) is not divisible by \(heads) heads") }
        guard backbone != .gru || hiddenDim % 2 == 0 else { throw EmoA2EError("the bidirectional GRU needs an even hidden width") }
        guard dropout >= 0, dropout < 1 else { throw EmoA2EError("dropout \(dropout) is outside [0, 1)") }
    }

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

    static func from(json: String) throws -> EmoA2EConfig {
        do { return try JSONDecoder().decode(EmoA2EConfig.self, from: Data(json.utf8)) } catch {
            throw EmoA2EError("checkpoint config is not valid EmoA2E JSON: \(error)")
        }
    }
}

/// An error from EmoA2E (bad inputs, bad checkpoints, bad data).
public struct EmoA2EError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "EmoA2EError: \(message)" }
}
