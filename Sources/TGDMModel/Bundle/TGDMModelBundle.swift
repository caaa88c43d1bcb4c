import Diffusion
import Foundation
import Torch

extension ModelFile {
    /// The bundled TGDM generator: texAtt + the 3DMM-warped source at its input, sampled by DDIM 25 from the
    /// warped source noised to strength 0.3 (7 denoising steps; issues #10 and #14).
    public static let tgdm = ModelFile(path: "tgdm/tgdm_synth64_warp.safetensors", environment: "TGDM_MODEL",
                                       installedBy: "the repository (scripts/train_tgdm.sh reproduces it)")
    /// The texAtt generator without the warp input (the default before issue #10; the pipeline benchmark's "before").
    public static let tgdmTexAtt = ModelFile(path: "tgdm/tgdm_synth64.safetensors", environment: "TGDM_TEXATT_MODEL",
                                             installedBy: "the repository (scripts/train_tgdm.sh reproduces it)")
}

/// A TGDM generator as a file describes it: the network with its weights, the noise schedule it was trained
/// with and the sampler it is meant to be sampled with (diffusers' `model_index.json` + `scheduler_config.json`
/// in one safetensors metadata block). Trainer checkpoints and exported model files load the same way.
///
/// Metadata keys: `model_config` (TGDMConfig JSON, required), `noise_schedule` (NoiseSchedule.Linear JSON;
/// absent = the paper's T = 1000 linear schedule), `default_sampler` (SamplerConfiguration JSON; absent =
/// `TGDMModelBundle.standardSampler`), `default_start_strength` (image-to-image start from the warped source;
/// absent = from pure noise), `format`.
public struct TGDMModelBundle {
    public enum Weights: String, Sendable { case ema, raw }

    public let model: TGDMUNet
    public let schedule: NoiseSchedule
    /// How this model is sampled unless the caller says otherwise.
    public let defaultSampler: SamplerConfiguration
    /// Image-to-image start strength the model is meant to be used with (nil: sample from pure noise).
    public var defaultStartStrength: Double? { metadata["default_start_strength"].flatMap(Double.init) }
    /// The file's metadata (with `step` also for trainer checkpoints, where it is a tensor).
    public let metadata: [String: String]
    public var config: TGDMConfig { model.config }

    /// The sampler for files that name none: DDIM, 50 steps, η = 1. Measured best for the models this project
    /// trains at CPU budgets (deterministic DDIM gives colour blobs, DPM-Solver++ saturates; docs/RESULTS.md).
    public static let standardSampler = SamplerConfiguration(kind: .ddim, steps: 50, eta: 1)

    public init(model: TGDMUNet, schedule: NoiseSchedule, defaultSampler: SamplerConfiguration = standardSampler,
                metadata: [String: String] = [:]) {
        self.model = model
        self.schedule = schedule
        self.defaultSampler = defaultSampler
        self.metadata = metadata
    }

    /// Loads a trainer checkpoint or an exported model file, with its EMA weights by default.
    public static func load(from url: URL, weights: Weights = .ema) throws -> TGDMModelBundle {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TGDMError.checkpoint("no TGDM model at \(url.path) (train one with `tgdm train tgdm`; the bundled one is \(ModelFile.tgdm))")
        }
        let file = try Safetensors.load(url)
        let config = try modelConfig(file.metadata)
        let model = try buildWithinFileBudget(file, name: url.lastPathComponent) { try TGDMUNet(config: config) }
        let prefix = weights == .ema ? "ema." : "model."
        var state: [String: Tensor] = [:]
        for (k, v) in file.tensors where k.hasPrefix(prefix) { state[String(k.dropFirst(prefix.count))] = v }
        guard !state.isEmpty else { throw TGDMError.checkpoint("\(url.lastPathComponent) has no '\(prefix)' weights") }
        try model.load(state, strict: true)
        model.eval()
        var metadata = file.metadata
        if let step = file.tensors["trainer.step"] { metadata["step"] = String(Int(try step.item())) }   // trainer checkpoints
        return TGDMModelBundle(model: model, schedule: try schedule(file.metadata), defaultSampler: try sampler(file.metadata),
                               metadata: metadata)
    }

    /// Writes the model as a shippable file: its weights as `ema.*` float32 tensors and the describing metadata
    /// (config, schedule, default sampler) plus `extra`, in the `TGDMModelExport.format`.
    public func save(to url: URL, metadata extra: [String: String] = [:]) throws {
        var tensors: [String: Tensor] = [:]
        for (k, v) in model.stateDict() { tensors["ema.\(k)"] = try v.detach().to(.cpu).to(.float32).contiguous() }
        var metadata = extra
        for (k, v) in try Self.describing(config: config, schedule: schedule, sampler: defaultSampler) { metadata[k] = v }
        if metadata["default_start_strength"] == nil, let s = defaultStartStrength { metadata["default_start_strength"] = String(s) }
        metadata["format"] = TGDMModelExport.format
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Safetensors.save(tensors, metadata: metadata, to: url)
    }

    /// The bundled model (`ModelFile.tgdm`).
    public static func loadDefault(resources: ModelResources = .default) throws -> TGDMModelBundle {
        try load(from: resources.url(for: .tgdm))
    }

    /// Builds a network from a file's metadata with at most twice the file's weight bytes (+ 64 MB) of new tensors
    /// (float16 weights become float32): a crafted config asking for a far larger network than its weights could
    /// fill fails here, before it can allocate gigabytes, instead of at the strict load.
    public static func buildWithinFileBudget<M>(_ file: Safetensors.File, name: String, _ build: () throws -> M) throws -> M {
        let weightBytes = file.tensors.values.reduce(0) { $0 + $1.count * $1.dtype.byteSize }
        do {
            return try Torch.withCreationBudget(bytes: 2 * weightBytes + (64 << 20), build)
        } catch let e as TorchError where e.message.contains("creation budget") {
            throw TGDMError.checkpoint("\(name): its model_config describes a network far larger than the \(weightBytes) bytes of weights it holds")
        }
    }

    // MARK: metadata

    static func decode<T: Decodable>(_ type: T.Type, _ key: String, _ metadata: [String: String]) throws -> T? {
        guard let json = metadata[key] else { return nil }
        do { return try JSONDecoder().decode(T.self, from: Data(json.utf8)) } catch {
            throw TGDMError.checkpoint("unreadable '\(key)' metadata: \(error)")
        }
    }

    public static func modelConfig(_ metadata: [String: String]) throws -> TGDMConfig {
        guard let config = try decode(TGDMConfig.self, "model_config", metadata) else {
            throw TGDMError.checkpoint("the file has no model_config metadata (not a TGDM model)")
        }
        return config
    }

    public static func schedule(_ metadata: [String: String]) throws -> NoiseSchedule {
        try NoiseSchedule(decode(NoiseSchedule.Linear.self, "noise_schedule", metadata) ?? .paper)
    }

    public static func sampler(_ metadata: [String: String]) throws -> SamplerConfiguration {
        try decode(SamplerConfiguration.self, "default_sampler", metadata) ?? standardSampler
    }

    /// The metadata that describes a model: config, schedule and default sampler.
    public static func describing(config: TGDMConfig, schedule: NoiseSchedule, sampler: SamplerConfiguration) throws -> [String: String] {
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        func encode<T: Encodable>(_ v: T) throws -> String { String(decoding: try json.encode(v), as: UTF8.self) }
        var m = ["model_config": try encode(config), "default_sampler": try encode(sampler)]
        if let linear = schedule.linear { m["noise_schedule"] = try encode(linear) }
        return m
    }
}

extension TGDMUNet {
    /// What `warmStart(from:)` did.
    public struct WarmStart: Sendable {
        public var copied: [String] = []
        /// Parameters copied into the first input channels of a wider input convolution (new channels zero).
        public var widened: [String] = []
        /// Parameters of this model the other one does not have, or has with another shape: left as initialised.
        public var skipped: [String] = []
    }

    /// Starts from another model's weights (fine-tuning): every parameter with the same path and shape is
    /// copied; a wider input convolution (e.g. a `sourceWarp` model started from one without the warp input)
    /// takes the other's weights for its first channels and zeros for the new ones, so at the first step the
    /// new model computes exactly what the old one did and learns to use the new inputs.
    @discardableResult
    public func warmStart(from other: TGDMUNet) throws -> WarmStart {
        let theirs = other.stateDict()
        var mine = stateDict()
        var report = WarmStart()
        for (name, value) in mine.sorted(by: { $0.key < $1.key }) {
            guard let source = theirs[name] else { report.skipped.append(name); continue }
            if source.shape == value.shape {
                mine[name] = source
                report.copied.append(name)
            } else if value.rank == 4, source.rank == 4, value.size(0) == source.size(0), value.size(1) > source.size(1),
                      Array(value.shape.dropFirst(2)) == Array(source.shape.dropFirst(2)) {
                let extra = try Tensor.zeros([value.size(0), value.size(1) - source.size(1)] + Array(value.shape.dropFirst(2)))
                mine[name] = try Tensor.cat([source.to(value.dtype), extra], dim: 1)
                report.widened.append(name)
            } else {
                report.skipped.append(name)
            }
        }
        try load(mine, strict: true)
        return report
    }
}
