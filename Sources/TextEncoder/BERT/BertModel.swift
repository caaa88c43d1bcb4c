import Torch
import Foundation

/// Sizes of a BERT encoder, read from a Hugging Face `config.json`.
public struct BertConfig: Codable, Equatable, Sendable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEps: Double

    public init(vocabularySize: Int = 30522, hiddenSize: Int = 384, layers: Int = 6, heads: Int = 12, intermediateSize: Int = 1536,
                maxPositions: Int = 512, typeVocabularySize: Int = 2, layerNormEps: Double = 1e-12) {
        self.vocabularySize = vocabularySize; self.hiddenSize = hiddenSize; self.layers = layers; self.heads = heads
        self.intermediateSize = intermediateSize; self.maxPositions = maxPositions
        self.typeVocabularySize = typeVocabularySize; self.layerNormEps = layerNormEps
    }

    /// all-MiniLM-L6-v2.
    public static let miniLML6 = BertConfig()

    /// Parses the fields of a Hugging Face BERT `config.json`; only GELU (erf) BERT models are accepted.
    public init(huggingFaceJSON data: Data) throws {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TextEncoderError("BERT config.json is not a JSON object")
        }
        func int(_ k: String) throws -> Int {
            guard let v = (obj[k] as? NSNumber)?.intValue else { throw TextEncoderError("BERT config.json lacks integer '\(k)'") }
            return v
        }
        if let act = obj["hidden_act"] as? String, act != "gelu" {
            throw TextEncoderError("BERT hidden_act '\(act)' is not supported (only gelu)")
        }
        if let pos = obj["position_embedding_type"] as? String, pos != "absolute" {
            throw TextEncoderError("BERT position_embedding_type '\(pos)' is not supported (only absolute)")
        }
        self.init(vocabularySize: try int("vocab_size"), hiddenSize: try int("hidden_size"), layers: try int("num_hidden_layers"),
                  heads: try int("num_attention_heads"), intermediateSize: try int("intermediate_size"),
                  maxPositions: try int("max_position_embeddings"), typeVocabularySize: (obj["type_vocab_size"] as? NSNumber)?.intValue ?? 2,
                  layerNormEps: (obj["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-12)
        try validate()
    }

    func validate() throws {
        guard vocabularySize > 0, hiddenSize > 0, layers > 0, heads > 0, hiddenSize % heads == 0, intermediateSize > 0,
              maxPositions > 0, typeVocabularySize > 0, vocabularySize <= 1 << 20, hiddenSize <= 8192, layers <= 128,
              maxPositions <= 65536, layerNormEps > 0
        else { throw TextEncoderError("invalid BERT config \(self)") }
    }
}

final class BertEmbeddings: Module {
    let wordEmbeddings: Embedding
    let positionEmbeddings: Embedding
    let tokenTypeEmbeddings: Embedding
    let norm: LayerNorm

    init(config c: BertConfig, generator: Generator?) throws {
        wordEmbeddings = try Embedding(c.vocabularySize, c.hiddenSize, generator: generator)
        positionEmbeddings = try Embedding(c.maxPositions, c.hiddenSize, generator: generator)
        tokenTypeEmbeddings = try Embedding(c.typeVocabularySize, c.hiddenSize, generator: generator)
        norm = try LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        super.init()
    }

    /// Token type 0 everywhere (single sentences).
    func callAsFunction(_ ids: Tensor) throws -> Tensor {
        let l = ids.size(1)
        let positions = try Tensor.arange(0, Double(l), dtype: .int64)
        let x = try wordEmbeddings(ids) + positionEmbeddings(positions) + tokenTypeEmbeddings.weight.select(0, 0)
        return try norm(x)
    }
}

/// A post-LN BERT layer: self-attention, add & norm, GELU feed-forward, add & norm.
final class BertLayer: Module {
    let query: Linear, key: Linear, value: Linear
    let attentionOutput: Linear
    let attentionNorm: LayerNorm
    let intermediate: Linear
    let output: Linear
    let outputNorm: LayerNorm
    let heads: Int

    init(config c: BertConfig, generator: Generator?) throws {
        query = try Linear(c.hiddenSize, c.hiddenSize, generator: generator)
        key = try Linear(c.hiddenSize, c.hiddenSize, generator: generator)
        value = try Linear(c.hiddenSize, c.hiddenSize, generator: generator)
        attentionOutput = try Linear(c.hiddenSize, c.hiddenSize, generator: generator)
        attentionNorm = try LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        intermediate = try Linear(c.hiddenSize, c.intermediateSize, generator: generator)
        output = try Linear(c.intermediateSize, c.hiddenSize, generator: generator)
        outputNorm = try LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        heads = c.heads
        super.init()
    }

    /// `mask`: N×1×1×L additive (0 for tokens, a large negative value for padding).
    func callAsFunction(_ x: Tensor, mask: Tensor) throws -> Tensor {
        let (n, l, d) = (x.size(0), x.size(1), x.size(2))
        func split(_ t: Tensor) throws -> Tensor { try t.reshape([n, l, heads, d / heads]).permute(0, 2, 1, 3) }
        let a = try F.attention(q: split(query(x)), k: split(key(x)), v: split(value(x)), mask: mask).output
        let h = try attentionNorm(x + attentionOutput(a.permute(0, 2, 1, 3).reshape([n, l, d])))
        return try outputNorm(h + output(intermediate(h).gelu()))
    }
}

/// A BERT encoder (no pooler): token ids → per-token hidden states.
public final class BertModel: Module {
    public let config: BertConfig
    let embeddings: BertEmbeddings
    let layers: [BertLayer]

    public init(config: BertConfig, generator: Generator? = nil) throws {
        try config.validate()
        self.config = config
        embeddings = try BertEmbeddings(config: config, generator: generator)
        layers = try (0..<config.layers).map { _ in try BertLayer(config: config, generator: generator) }
        super.init()
    }

    /// `ids`: N×L int64; `attentionMask`: N×L (1 = token, 0 = padding), all ones when nil. Returns N×L×hidden.
    public func callAsFunction(_ ids: Tensor, attentionMask: Tensor? = nil) throws -> Tensor {
        guard ids.rank == 2, ids.dtype == .int64 else { throw TextEncoderError("BERT ids must be N×L int64, got \(ids.shape) \(ids.dtype)") }
        guard ids.size(1) <= config.maxPositions, ids.size(1) > 0 else {
            throw TextEncoderError("BERT input of \(ids.size(1)) tokens exceeds the \(config.maxPositions) positions")
        }
        let (lo, hi) = (try ids.min().item(), try ids.max().item())
        guard lo >= 0, hi < Double(config.vocabularySize) else {
            throw TextEncoderError("token ids must lie in 0..<\(config.vocabularySize), got \(Int(lo))...\(Int(hi))")
        }
        let keep = try attentionMask?.to(.float32) ?? Tensor.ones(ids.shape)
        guard keep.shape == ids.shape else { throw TextEncoderError("attention mask \(keep.shape) does not match ids \(ids.shape)") }
        let additive = try ((1.0 - keep) * -1e9).reshape([ids.size(0), 1, 1, ids.size(1)])
        var x = try embeddings(ids)
        for layer in layers { x = try layer(x, mask: additive) }
        return x
    }

    /// sentence-transformers pooling: the mean of the token states under the mask, L2-normalised.
    public func meanPooledEmbedding(_ ids: Tensor, attentionMask: Tensor? = nil) throws -> Tensor {
        let keep = try attentionMask?.to(.float32) ?? Tensor.ones(ids.shape)
        let states = try self(ids, attentionMask: keep)
        let w = try keep.unsqueeze(-1)
        let mean = try (states * w).sum(dim: 1) / (w.sum(dim: 1).clamp(min: 1e-9))
        return try l2Normalize(mean)
    }

    // MARK: Hugging Face checkpoints

    /// Loads a Hugging Face BERT state dict (`embeddings.*`, `encoder.layer.N.*`; a `bert.` or
    /// sentence-transformers `0.auto_model.` prefix is accepted; the pooler and `position_ids` are ignored).
    public func load(huggingFaceState state: [String: Tensor]) throws {
        var mine: [String: Tensor] = [:]
        for (key, t) in state { if let k = Self.swiftKey(huggingFaceKey: key) { mine[k] = t } }
        try load(mine, strict: true)
    }

    static func swiftKey(huggingFaceKey key: String) -> String? {
        var k = key
        for prefix in ["0.auto_model.", "auto_model.", "bert."] where k.hasPrefix(prefix) { k = String(k.dropFirst(prefix.count)) }
        var parts = k.split(separator: ".").map(String.init)
        guard let last = parts.last, last == "weight" || last == "bias" else { return nil }
        if parts.first == "embeddings", parts.count == 3 {
            let names = ["word_embeddings": "wordEmbeddings", "position_embeddings": "positionEmbeddings",
                         "token_type_embeddings": "tokenTypeEmbeddings", "LayerNorm": "norm"]
            guard let n = names[parts[1]] else { return nil }
            return "embeddings.\(n).\(last)"
        }
        guard parts.count >= 5, parts[0] == "encoder", parts[1] == "layer", Int(parts[2]) != nil else { return nil }
        let inner = parts[3..<(parts.count - 1)].joined(separator: ".")
        let names = ["attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
                     "attention.output.dense": "attentionOutput", "attention.output.LayerNorm": "attentionNorm",
                     "intermediate.dense": "intermediate", "output.dense": "output", "output.LayerNorm": "outputNorm"]
        guard let n = names[inner] else { return nil }
        parts = ["layers", parts[2], n, last]
        return parts.joined(separator: ".")
    }
}

/// Rows divided by their L2 norm.
public func l2Normalize(_ x: Tensor, eps: Double = 1e-12) throws -> Tensor {
    try x / x.norm(p: 2, [-1], keepDim: true).clamp(min: eps)
}
