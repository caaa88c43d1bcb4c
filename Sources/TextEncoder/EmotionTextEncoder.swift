import Torch
import Foundation

/// Turns an emotion-style prompt into a fixed-size, L2-normalised embedding z_emo (paper Sec. 4.2).
///
/// A prompt may be compound: "happy+surprised" (or a list of styles) is encoded as the average of the
/// styles' embeddings, re-normalised (paper Fig. 9, compound styles). Unseen words never fail: both
/// tokenizers fall back to sub-word or byte pieces.
public protocol EmotionTextEncoder: AnyObject {
    /// The embedding width D.
    var embeddingWidth: Int { get }
    /// A short identifier stored in checkpoints trained against this encoder ("minilm-l6-v2", "clip-vit-b32").
    var identifier: String { get }
    /// The normalised 1×D embedding of one style, with no compound parsing.
    func embedStyle(_ text: String) throws -> Tensor
}

extension EmotionTextEncoder {
    /// The 1×D normalised embedding of a prompt; "a+b" is the compound of styles a and b.
    public func embed(_ prompt: String) throws -> Tensor {
        try embed(styles: EmotionPrompt.styles(in: prompt))
    }

    /// The normalised average of the styles' embeddings.
    public func embed(styles: [String]) throws -> Tensor {
        let cleaned = styles.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        guard !cleaned.isEmpty else { throw TextEncoderError("empty emotion prompt") }
        guard cleaned.allSatisfy({ $0.count <= EmotionPrompt.maxCharacters }) else {
            throw TextEncoderError("emotion prompt longer than \(EmotionPrompt.maxCharacters) characters")
        }
        let parts = try cleaned.map { try embedStyle($0) }
        let mean = parts.count == 1 ? parts[0] : try Tensor.cat(parts, dim: 0).mean(dim: 0, keepDim: true)
        let z = try l2Normalize(mean)
        guard try z.floats().allSatisfy({ $0.isFinite }) else { throw TextEncoderError("emotion embedding is not finite") }
        return z
    }

    /// Cosine similarity of two prompts' embeddings.
    public func similarity(_ a: String, _ b: String) throws -> Double {
        try (embed(a) * embed(b)).sum().item()
    }
}

public enum EmotionPrompt {
    public static let maxCharacters = 1000

    /// "happy + surprised" → ["happy", "surprised"].
    public static func styles(in prompt: String) -> [String] {
        prompt.split(separator: "+").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}

/// CLIP text tower + CLIP BPE as an emotion encoder (the paper's choice; needs user-supplied weights).
public final class CLIPEmotionEncoder: EmotionTextEncoder {
    public let tokenizer: CLIPTokenizer
    public let model: CLIPTextTransformer
    public let identifier: String
    public var embeddingWidth: Int { model.config.embedDim }

    public init(tokenizer: CLIPTokenizer, model: CLIPTextTransformer, identifier: String = "clip") {
        self.tokenizer = tokenizer
        self.model = model
        self.identifier = identifier
        model.eval()
    }

    /// A converted checkpoint (`scripts/text/convert_clip_checkpoint.py`) with the bundled tokenizer.
    public convenience init(weights url: URL, identifier: String = "clip") throws {
        try self.init(tokenizer: .bundled(), model: CLIPTextTransformer.load(safetensors: url), identifier: identifier)
    }

    public func embedStyle(_ text: String) throws -> Tensor {
        let ids = try tokenizer.tokenize(text, contextLength: model.config.contextLength)
        guard ids.allSatisfy({ $0 < model.config.vocabularySize }) else {
            throw TextEncoderError("the CLIP checkpoint's vocabulary (\(model.config.vocabularySize)) is smaller than the tokenizer's")
        }
        let tokens = try Tensor(ids.map { Int64($0) }, shape: [1, ids.count])
        return try Torch.noGrad { try l2Normalize(model(tokens)) }
    }
}

extension ModelFile {
    /// The default emotion text encoder's folder (config.json, vocab.txt, model.safetensors).
    public static let miniLM = ModelFile(path: "text/all-MiniLM-L6-v2", environment: "TGDM_MINILM_DIR",
                                         installedBy: "scripts/text/install_minilm.sh (run by scripts/setup.sh)")
}

/// The default encoder: sentence-transformers all-MiniLM-L6-v2 (BERT, 6 layers, 384-d, mean pooling,
/// L2 normalisation), pretrained weights installed by `scripts/text/install_minilm.sh`.
public final class MiniLMEmotionEncoder: EmotionTextEncoder {
    public static let folderName = "all-MiniLM-L6-v2"
    public let tokenizer: WordPieceTokenizer
    public let model: BertModel
    public let identifier = "minilm-l6-v2"
    public let maxTokens = 256
    public var embeddingWidth: Int { model.config.hiddenSize }

    public init(tokenizer: WordPieceTokenizer, model: BertModel) {
        self.tokenizer = tokenizer
        self.model = model
        model.eval()
    }

    /// A folder holding `config.json`, `vocab.txt` and `model.safetensors` (Hugging Face layout).
    public convenience init(directory: URL) throws {
        let fm = FileManager.default
        for f in ["config.json", "vocab.txt", "model.safetensors"] where !fm.fileExists(atPath: directory.appendingPathComponent(f).path) {
            throw TextEncoderError("\(directory.path) lacks \(f) (install the model with scripts/text/install_minilm.sh)")
        }
        let configData: Data
        do { configData = try Data(contentsOf: directory.appendingPathComponent("config.json")) } catch {
            throw TextEncoderError("cannot read \(directory.path)/config.json: \(error.localizedDescription)")
        }
        let model = try BertModel(config: BertConfig(huggingFaceJSON: configData))
        try model.load(huggingFaceState: Safetensors.load(directory.appendingPathComponent("model.safetensors")).tensors)
        let tokenizer = try WordPieceTokenizer(vocabFile: directory.appendingPathComponent("vocab.txt"))
        guard tokenizer.vocabulary.count <= model.config.vocabularySize else {
            throw TextEncoderError("vocab.txt has \(tokenizer.vocabulary.count) entries, the model \(model.config.vocabularySize)")
        }
        self.init(tokenizer: tokenizer, model: model)
    }

    /// The installed model folder (`ModelFile.miniLM`), nil when it is not installed.
    public static func installedDirectory(resources: ModelResources = .default) -> URL? {
        try? resources.url(for: .miniLM)
    }

    /// The installed default encoder, or a clear error saying how to install it.
    public static func installed(resources: ModelResources = .default) throws -> MiniLMEmotionEncoder {
        do {
            return try MiniLMEmotionEncoder(directory: resources.url(for: .miniLM))
        } catch let e as ModelResources.Error {
            throw TextEncoderError("all-MiniLM-L6-v2 weights not found: \(e)")
        }
    }

    public func embedStyle(_ text: String) throws -> Tensor {
        let ids = try tokenizer.encode(text, maxLength: min(maxTokens, model.config.maxPositions))
        let t = try Tensor(ids.map { Int64($0) }, shape: [1, ids.count])
        return try Torch.noGrad { try model.meanPooledEmbedding(t) }
    }
}
