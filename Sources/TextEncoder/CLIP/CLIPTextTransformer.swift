import Torch
import Foundation

/// Sizes of a CLIP text tower. `vitB32` is OpenAI CLIP ViT-B/32's.
public struct CLIPTextConfig: Codable, Equatable, Sendable {
    public var vocabularySize: Int
    public var contextLength: Int
    public var width: Int
    public var heads: Int
    public var layers: Int
    public var embedDim: Int

    public init(vocabularySize: Int = 49408, contextLength: Int = 77, width: Int = 512, heads: Int = 8, layers: Int = 12, embedDim: Int = 512) {
        self.vocabularySize = vocabularySize; self.contextLength = contextLength; self.width = width
        self.heads = heads; self.layers = layers; self.embedDim = embedDim
    }

    public static let vitB32 = CLIPTextConfig()

    func validate() throws {
        guard vocabularySize > 0, contextLength > 0, width > 0, heads > 0, layers > 0, embedDim > 0, width % heads == 0,
              vocabularySize <= 1 << 20, contextLength <= 4096, width <= 8192, layers <= 256
        else { throw TextEncoderError("invalid CLIP text config \(self)") }
    }
}

/// `nn.MultiheadAttention` as CLIP uses it: one packed q/k/v input projection and an output projection.
final class CLIPAttention: Module {
    let inProjWeight: Tensor
    let inProjBias: Tensor
    let outProj: Linear
    let heads: Int

    init(width: Int, heads: Int, generator: Generator?) throws {
        let bound = 1.0 / Double(width).squareRoot()
        inProjWeight = try Tensor.uniform([3 * width, width], low: -bound, high: bound, generator: generator).requiresGrad(true)
        inProjBias = try Tensor.zeros([3 * width]).requiresGrad(true)
        outProj = try Linear(width, width, generator: generator)
        self.heads = heads
        super.init()
    }

    func callAsFunction(_ x: Tensor, mask: Tensor) throws -> Tensor {
        let (n, l, w) = (x.size(0), x.size(1), x.size(2))
        let qkv = try F.linear(x, inProjWeight, inProjBias).chunk(3, dim: -1)
        func heads(_ t: Tensor) throws -> Tensor { try t.reshape([n, l, self.heads, w / self.heads]).permute(0, 2, 1, 3) }
        let o = try F.attention(q: heads(qkv[0]), k: heads(qkv[1]), v: heads(qkv[2]), mask: mask).output
        return try outProj(o.permute(0, 2, 1, 3).reshape([n, l, w]))
    }
}

/// CLIP's residual attention block: pre-LN attention and a quick-GELU MLP (4× width), both residual.
final class CLIPResidualBlock: Module {
    let norm1: LayerNorm
    let attention: CLIPAttention
    let norm2: LayerNorm
    let fc: Linear
    let proj: Linear

    init(width: Int, heads: Int, generator: Generator?) throws {
        norm1 = try LayerNorm(width)
        attention = try CLIPAttention(width: width, heads: heads, generator: generator)
        norm2 = try LayerNorm(width)
        fc = try Linear(width, 4 * width, generator: generator)
        proj = try Linear(4 * width, width, generator: generator)
        super.init()
    }

    func callAsFunction(_ x: Tensor, mask: Tensor) throws -> Tensor {
        let h = try x + attention(norm1(x), mask: mask)
        let u = try fc(norm2(h))
        let quickGELU = try u * (u * 1.702).sigmoid()
        return try h + proj(quickGELU)
    }
}

/// The text tower of OpenAI CLIP: token + positional embedding, causal pre-LN transformer, final LN,
/// the features at the end-of-text token (the largest id in each row), times the text projection.
public final class CLIPTextTransformer: Module {
    public let config: CLIPTextConfig
    let tokenEmbedding: Embedding
    let positionalEmbedding: Tensor
    let blocks: [CLIPResidualBlock]
    let finalNorm: LayerNorm
    let textProjection: Tensor
    private let _causalMask: Tensor

    public init(config: CLIPTextConfig = .vitB32, generator: Generator? = nil) throws {
        try config.validate()
        self.config = config
        let embedding = try Embedding(config.vocabularySize, config.width, generator: generator)
        try Torch.noGrad { try embedding.weight.mul_(0.02) }
        tokenEmbedding = embedding
        positionalEmbedding = try (Tensor.randn([config.contextLength, config.width], generator: generator) * 0.01).requiresGrad(true)
        blocks = try (0..<config.layers).map { _ in try CLIPResidualBlock(width: config.width, heads: config.heads, generator: generator) }
        finalNorm = try LayerNorm(config.width)
        textProjection = try (Tensor.randn([config.width, config.embedDim], generator: generator)
            * (1.0 / Double(config.width).squareRoot())).requiresGrad(true)
        _causalMask = try Tensor.full([config.contextLength, config.contextLength], -Double.infinity).triu(1)
        super.init()
    }

    /// `tokens`: N×L int64 ids from `CLIPTokenizer.tokenize` (L ≤ contextLength; the end-of-text token must
    /// be the largest id of each row). Returns N×embedDim (not normalised).
    public func callAsFunction(_ tokens: Tensor) throws -> Tensor {
        guard tokens.rank == 2, tokens.size(0) > 0, (1...config.contextLength).contains(tokens.size(1)) else {
            throw TextEncoderError("CLIP tokens must be N×L with L ≤ \(config.contextLength), got \(tokens.shape)")
        }
        guard tokens.dtype == .int64 else { throw TextEncoderError("CLIP tokens must be int64, got \(tokens.dtype)") }
        let (lo, hi) = (try tokens.min().item(), try tokens.max().item())
        guard lo >= 0, hi < Double(config.vocabularySize) else {
            throw TextEncoderError("token ids must lie in 0..<\(config.vocabularySize), got \(Int(lo))...\(Int(hi))")
        }
        let l = tokens.size(1)
        let mask = try _causalMask.narrow(0, 0, l).narrow(1, 0, l)
        var x = try tokenEmbedding(tokens) + positionalEmbedding.narrow(0, 0, l)
        for block in blocks { x = try block(x, mask: mask) }
        x = try finalNorm(x)
        let n = tokens.size(0)
        let eot = try tokens.argmax(dim: -1).reshape([n, 1, 1]).expand([n, 1, config.width])
        let pooled = try x.gather(1, eot).squeeze(1)
        return try pooled.matmul(textProjection)
    }

    // MARK: checkpoints in OpenAI / open_clip key layout

    /// Builds a tower sized from, and loaded with, an OpenAI or open_clip state dict (keys
    /// `token_embedding.weight`, `positional_embedding`, `transformer.resblocks.N.*`, `ln_final.*`,
    /// `text_projection`; image-tower keys are ignored), as OpenAI's `build_model` infers the sizes. The head
    /// count is not stored in a state dict: OpenAI's models use width / 64, the default here.
    public static func load(openAIState state: [String: Tensor], heads: Int? = nil) throws -> CLIPTextTransformer {
        guard let tok = state["token_embedding.weight"], let pos = state["positional_embedding"],
              let proj = state["text_projection"], tok.rank == 2, pos.rank == 2, proj.rank == 2 else {
            throw TextEncoderError("not a CLIP text checkpoint: token_embedding.weight, positional_embedding or text_projection missing")
        }
        let layerIndices = Set(state.keys.compactMap { key -> Int? in
            let parts = key.split(separator: ".")
            guard parts.count > 3, parts[0] == "transformer", parts[1] == "resblocks" else { return nil }
            return Int(parts[2])
        })
        guard !layerIndices.isEmpty, layerIndices == Set(0..<layerIndices.count) else {
            throw TextEncoderError("CLIP checkpoint has no or non-contiguous transformer.resblocks (\(layerIndices.sorted()))")
        }
        let width = pos.size(1)
        let config = CLIPTextConfig(vocabularySize: tok.size(0), contextLength: pos.size(0), width: width,
                                    heads: heads ?? max(width / 64, 1), layers: layerIndices.count, embedDim: proj.size(1))
        let model = try CLIPTextTransformer(config: config)
        var mine: [String: Tensor] = [:]
        for (key, t) in state { if let k = swiftKey(openAIKey: key) { mine[k] = t } }
        try model.load(mine, strict: true)
        return model
    }

    /// Loads a safetensors file written by `scripts/text/convert_clip_checkpoint.py` (or any file with
    /// OpenAI's key names).
    public static func load(safetensors url: URL, heads: Int? = nil) throws -> CLIPTextTransformer {
        try load(openAIState: Safetensors.load(url).tensors, heads: heads)
    }

    /// OpenAI key → this module's parameter path; nil for keys outside the text tower.
    static func swiftKey(openAIKey key: String) -> String? {
        var parts = key.split(separator: ".").map(String.init)
        switch parts.first {
        case "token_embedding": parts[0] = "tokenEmbedding"
        case "positional_embedding": parts[0] = "positionalEmbedding"
        case "ln_final": parts[0] = "finalNorm"
        case "text_projection": parts[0] = "textProjection"
        case "transformer":
            guard parts.count >= 5, parts[1] == "resblocks" else { return nil }
            let names = ["ln_1": "norm1", "ln_2": "norm2", "attn": "attention", "in_proj_weight": "inProjWeight",
                         "in_proj_bias": "inProjBias", "out_proj": "outProj", "c_fc": "fc", "c_proj": "proj"]
            var rest = Array(parts[3...]).map { names[$0] ?? $0 }
            if rest.first == "mlp" { rest.removeFirst() }
            parts = ["blocks", parts[2]] + rest
        default: return nil
        }
        return parts.joined(separator: ".")
    }
}
