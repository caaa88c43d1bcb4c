import Foundation
import Media
import TextEncoder
import Torch

/// Inference entry point: MFCC clips of any length + identity + emotion prompt + intensity → β̂ per frame.
public final class EmoA2E {
    public static let weightsFormat = "emoa2e-weights-v1"

    public let model: EmoA2EModel
    public let textEncoder: EmotionTextEncoder?
    public var config: EmoA2EConfig { model.config }

    /// `textEncoder` must be the one the model was trained with (checked by identifier); it may be nil for
    /// an emotion-free model or when only embeddings are passed.
    public init(model: EmoA2EModel, textEncoder: EmotionTextEncoder?) throws {
        if let textEncoder, model.config.emotionConditioned {
            guard textEncoder.identifier == model.config.textEncoder, textEncoder.embeddingWidth == model.config.emotionDim else {
                throw EmoA2EError("the model was trained with text encoder '\(model.config.textEncoder)' (\(model.config.emotionDim)-d), "
                    + "got '\(textEncoder.identifier)' (\(textEncoder.embeddingWidth)-d)")
            }
        }
        self.model = model
        self.textEncoder = textEncoder
        model.eval()
    }

    /// Loads weights written by `saveWeights` or `EmoA2ETrainer.exportWeights` (a training checkpoint works too).
    /// Without `textEncoder`, an emotion-conditioned model gets the installed MiniLM when it was trained with it.
    public static func load(weights url: URL, textEncoder: EmotionTextEncoder? = nil, resources: ModelResources = .default) throws -> EmoA2E {
        let file = try Safetensors.load(url)
        guard let json = file.metadata["emoa2e.config"] else {
            throw EmoA2EError("\(url.lastPathComponent) has no EmoA2E config in its metadata")
        }
        let config = try EmoA2EConfig.from(json: json)
        // A crafted config cannot allocate more than twice the file's weights (+ 64 MB) while the model is built.
        let weightBytes = file.tensors.values.reduce(0) { $0 + $1.count * $1.dtype.byteSize }
        let model: EmoA2EModel
        do {
            model = try Torch.withCreationBudget(bytes: 2 * weightBytes + (64 << 20)) { try EmoA2EModel(config: config) }
        } catch let e as TorchError where e.message.contains("creation budget") {
            throw EmoA2EError("\(url.lastPathComponent): its config describes a model far larger than the \(weightBytes) bytes of weights it holds")
        }
        var state: [String: Tensor] = [:]
        let isCheckpoint = file.metadata["format"] == EmoA2ETrainer.checkpointFormat
        for (k, t) in file.tensors {
            if isCheckpoint {
                if k.hasPrefix("model.") { state[String(k.dropFirst(6))] = t }
            } else {
                state[k] = t
            }
        }
        try model.load(state, strict: true)
        var encoder = textEncoder
        if encoder == nil, model.config.emotionConditioned {
            guard model.config.textEncoder == "minilm-l6-v2" else {
                throw EmoA2EError("\(url.lastPathComponent) reads prompts with '\(model.config.textEncoder)': pass that text encoder")
            }
            encoder = try MiniLMEmotionEncoder.installed(resources: resources)
        }
        return try EmoA2E(model: model, textEncoder: encoder)
    }

    public static func saveWeights(_ model: EmoA2EModel, to url: URL, dtype: DType = .float32, metadata extra: [String: String] = [:]) throws {
        var tensors: [String: Tensor] = [:]
        for (k, t) in model.stateDict() { tensors[k] = t.dtype.isFloatingPoint && t.dtype != dtype ? try t.to(dtype) : t }
        var meta = extra
        meta["format"] = weightsFormat
        meta["emoa2e.config"] = try model.config.json()
        try Safetensors.save(tensors, metadata: meta, to: url)
    }

    /// - Parameters:
    ///   - mfccClips: T×R×C MFCC clips (one per video frame), any T ≥ 1.
    ///   - identity: identity coefficients α (A values, any shape).
    ///   - emotion: an emotion prompt ("happy", "happy+surprised", ...); nil for an emotion-free model.
    ///   - intensity: η, continuous in [0, 3] (trained on 1, 2, 3).
    /// - Returns: T×E expression coefficients.
    public func predict(mfccClips: Tensor, identity: Tensor, emotion: String?, intensity: Double = 1) throws -> Tensor {
        var z: Tensor? = nil
        if config.emotionConditioned {
            guard let emotion else { throw EmoA2EError("this EmoA2E needs an emotion prompt") }
            guard let textEncoder else { throw EmoA2EError("no text encoder to embed the prompt '\(emotion)'") }
            z = try textEncoder.embed(emotion)
        }
        return try predict(mfccClips: mfccClips, identity: identity, emotionEmbedding: z, intensity: intensity)
    }

    /// As `predict(mfccClips:identity:emotion:intensity:)` with a precomputed 1×D (or D) embedding.
    /// Sequences longer than a window are covered by half-overlapping windows blended with triangular weights.
    public func predict(mfccClips: Tensor, identity: Tensor, emotionEmbedding: Tensor?, intensity: Double = 1) throws -> Tensor {
        let conditions = config.emotionConditioned ? [(emotionEmbedding, intensity)] : [(nil, intensity)]
        return try predict(mfccClips: mfccClips, identity: identity, conditions: conditions)[0]
    }

    /// One T×E prediction per (embedding, intensity) condition for the same audio and identity, computed
    /// as one batch (faster than separate calls when comparing prompts or intensities).
    public func predict(mfccClips: Tensor, identity: Tensor, conditions: [(embedding: Tensor?, intensity: Double)]) throws -> [Tensor] {
        let c = config
        guard mfccClips.rank == 3, mfccClips.size(1) == c.mfccRowsPerFrame, mfccClips.size(2) == c.mfccCoefficients else {
            throw EmoA2EError("MFCC clips must be T×\(c.mfccRowsPerFrame)×\(c.mfccCoefficients), got \(mfccClips.shape)")
        }
        let frames = mfccClips.size(0)
        guard frames > 0 else { throw EmoA2EError("no MFCC frames") }
        guard !conditions.isEmpty else { throw EmoA2EError("no conditions to predict for") }
        guard identity.count == c.identityDim else { throw EmoA2EError("identity has \(identity.count) values, expected \(c.identityDim)") }
        guard try mfccClips.floats().allSatisfy({ $0.isFinite }), try identity.floats().allSatisfy({ $0.isFinite }) else {
            throw EmoA2EError("MFCC clips or identity hold NaN or infinite values")
        }
        let n = conditions.count
        var z: Tensor? = nil, eta: Tensor? = nil
        if c.emotionConditioned {
            var rows: [Tensor] = []
            for (e, intensity) in conditions {
                guard intensity.isFinite, (0...3).contains(intensity) else { throw EmoA2EError("intensity \(intensity) outside [0, 3]") }
                guard let e, e.count == c.emotionDim else { throw EmoA2EError("an emotion embedding of \(c.emotionDim) values is required") }
                rows.append(try e.reshape([c.emotionDim]).to(.float32))
            }
            z = try Tensor.stack(rows)
            eta = try Tensor(conditions.map { Float($0.intensity) })
        } else {
            for (_, intensity) in conditions where !(intensity.isFinite && (0...3).contains(intensity)) {
                throw EmoA2EError("intensity \(intensity) outside [0, 3]")
            }
        }
        let alpha = try identity.reshape([1, c.identityDim]).to(.float32).expand([n, c.identityDim])
        let clips = try mfccClips.to(.float32)
        let result: Tensor = try Torch.noGrad {
            let k = c.windowFrames
            func run(_ window: Tensor) throws -> Tensor {   // window: L×R×C → n×L×E
                let batch = try window.unsqueeze(0).expand([n] + window.shape)
                return try model(mfcc: batch, identity: alpha, emotion: z, intensity: eta)
            }
            if frames <= k { return try run(clips) }
            let hop = max(k / 2, 1)
            var starts = Array(stride(from: 0, through: frames - k, by: hop))
            if starts.last! != frames - k { starts.append(frames - k) }
            // Triangular weights: a window's edges count least, so seams between windows blend smoothly.
            let ramp = try Tensor((0..<k).map { Float(min($0 + 1, k - $0)) }, shape: [1, k, 1])
            var sum = try Tensor.zeros([n, frames, c.expressionDim])
            var weight = try Tensor.zeros([1, frames, 1])
            for s in starts {
                let index = try Tensor((s..<(s + k)).map { Int64($0) })
                sum = try sum.indexAdd(1, index, run(clips.narrow(0, s, k)) * ramp)
                weight = try weight.indexAdd(1, index, ramp)
            }
            return try sum / weight
        }
        return try (0..<n).map { try result.select(0, $0) }
    }
}

extension ModelFile {
    /// The shipped EmoA2E (transformer, MiniLM prompts).
    public static let emoA2E = ModelFile(path: "emoa2e/emoa2e_minilm_transformer.safetensors", environment: "TGDM_EMOA2E_WEIGHTS",
                                         installedBy: "the repository (scripts/emoa2e/train_default.sh reproduces it)")
}

extension EmoA2E {
    /// The shipped model with its text encoder (all-MiniLM-L6-v2, installed by scripts/text/install_minilm.sh).
    public static func loadDefault(resources: ModelResources = .default) throws -> EmoA2E {
        let url: URL
        do { url = try resources.url(for: .emoA2E) } catch let e as ModelResources.Error { throw EmoA2EError(e.description) }
        return try load(weights: url, resources: resources)
    }
}
