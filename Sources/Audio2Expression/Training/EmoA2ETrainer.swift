import Torch
import Foundation

/// Optimisation settings (paper Sec. 5: Adam, lr 2e-4, random K = 32 windows; batch 128 there).
public struct EmoA2ETrainingConfig: Codable, Equatable, Sendable {
    public var steps: Int = 2000
    public var batchSize: Int = 16
    public var learningRate: Double = 2e-4
    public var reconstructionWeight: Double = 100
    public var landmarkWeight: Double = 0.1
    /// Global gradient-norm clip; 0 turns it off.
    public var gradientClip: Double = 1.0
    public var seed: UInt64 = 0
    /// Save a checkpoint every this many steps (0: only at the end) when `checkpointPath` is set.
    public var checkpointEvery: Int = 0
    public var checkpointPath: String? = nil
    public var logEvery: Int = 100
    /// Stop early (and checkpoint) once this much wall time has passed.
    public var maxWallSeconds: Double? = nil

    public init(steps: Int = 2000, batchSize: Int = 16, learningRate: Double = 2e-4, reconstructionWeight: Double = 100,
                landmarkWeight: Double = 0.1, gradientClip: Double = 1.0, seed: UInt64 = 0, checkpointEvery: Int = 0,
                checkpointPath: String? = nil, logEvery: Int = 100, maxWallSeconds: Double? = nil) {
        self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate
        self.reconstructionWeight = reconstructionWeight; self.landmarkWeight = landmarkWeight; self.gradientClip = gradientClip
        self.seed = seed; self.checkpointEvery = checkpointEvery; self.checkpointPath = checkpointPath
        self.logEvery = logEvery; self.maxWallSeconds = maxWallSeconds
    }

    func validate() throws {
        guard steps >= 0, batchSize > 0, batchSize <= 4096, learningRate > 0, learningRate.isFinite,
              reconstructionWeight >= 0, landmarkWeight >= 0, gradientClip >= 0, checkpointEvery >= 0, logEvery >= 0 else {
            throw EmoA2EError("invalid training config \(self)")
        }
    }
}

/// One logged step.
public struct EmoA2ETrainingLog: Sendable {
    public let step: Int
    public let loss: Double
    public let reconstruction: Double
    public let landmark: Double?
    public let seconds: Double
}

/// Trains an `EmoA2EModel` with Adam on random windows of an `EmoA2EDataset` (or any window source, e.g. a
/// prepared corpus); checkpoints (model + optimiser + step, safetensors written atomically) make a run
/// resumable with identical batches.
///
/// Data parallel (`enableDataParallel`): `config.batchSize` is the global batch; the windows of step k are
/// drawn exactly as on one process and rank r trains on the r-th contiguous shard, gradients averaged by
/// all-reduce. Dropout masks differ per rank (rank 0 keeps the single-process seed). Rank 0 writes checkpoints.
public final class EmoA2ETrainer {
    public static let checkpointFormat = "emoa2e-checkpoint-v1"

    public let model: EmoA2EModel
    public let source: EmoA2EWindowSource
    /// The in-memory dataset, when training from one.
    public var dataset: EmoA2EDataset? { source as? EmoA2EDataset }
    public let config: EmoA2ETrainingConfig
    public let landmarks: LandmarkProjector?
    public let optimizer: AdamW
    public private(set) var step = 0
    private let loss: EmoA2ELoss
    public private(set) var dataParallel: DataParallel?
    public var isMainProcess: Bool { dataParallel?.group.isMain ?? true }

    public convenience init(model: EmoA2EModel, dataset: EmoA2EDataset, config: EmoA2ETrainingConfig, landmarks: LandmarkProjector? = nil) throws {
        try self.init(model: model, source: dataset, config: config, landmarks: landmarks)
    }

    public init(model: EmoA2EModel, source: EmoA2EWindowSource, config: EmoA2ETrainingConfig, landmarks: LandmarkProjector? = nil) throws {
        try config.validate()
        guard source.config == model.config else {
            throw EmoA2EError("dataset config \(source.config) differs from the model's \(model.config)")
        }
        guard source.sequenceCount > 0 else { throw EmoA2EError("the dataset is empty") }
        self.model = model
        self.source = source
        self.config = config
        self.landmarks = landmarks
        // Adam: AdamW without weight decay.
        optimizer = try AdamW(module: model, config: AdamW.Config(learningRate: config.learningRate, weightDecay: 0))
        loss = EmoA2ELoss(reconstructionWeight: config.reconstructionWeight, landmarkWeight: config.landmarkWeight)
    }

    /// Trains as one rank of `group` from now on (rank 0's weights are copied to every rank; call after `resume`).
    public func enableDataParallel(_ group: ProcessGroup) throws {
        guard config.batchSize % group.worldSize == 0 else {
            throw EmoA2EError("the batch size \(config.batchSize) is the global batch and must be a multiple of the \(group.worldSize) processes")
        }
        try group.requireAgreement([Double(step), Double(source.sequenceCount)], what: "the step and the number of sequences")
        let dp = try DataParallel(parameters: model.namedParameters(), group: group)
        try dp.broadcastFromMain(model.namedTensors().map(\.1))
        dataParallel = dp
    }

    /// One optimisation step on a fresh batch; returns the loss before the update (data parallel: the mean over ranks).
    @discardableResult
    public func trainStep() throws -> EmoA2ELoss.Value {
        model.train()
        // Batches and dropout masks depend only on (seed, step): resuming replays the same run.
        var rng = SplitMix64(seed: config.seed &* 1_000_003 &+ UInt64(step))
        Torch.manualSeed(config.seed &+ UInt64(step) &* 7919)
        let b: EmoA2EBatch
        if let dp = dataParallel {
            let all = source.drawWindows(count: config.batchSize, rng: &rng)
            let n = config.batchSize / dp.group.worldSize, r = dp.group.rank
            b = try source.batch(windows: Array(all[(r * n)..<((r + 1) * n)]))
            if r > 0 { Torch.manualSeed((config.seed &+ UInt64(step) &* 7919) ^ (UInt64(r) &* 0x9E37_79B9_7F4A_7C15)) }
        } else {
            b = try source.batch(size: config.batchSize, rng: &rng)
        }
        try optimizer.zeroGrad()
        var value = try loss(predicted: model(mfcc: b.mfcc, identity: b.identity, emotion: b.emotion, intensity: b.intensity),
                             target: b.expression, identity: b.identity, projector: landmarks)
        let total = try value.total.item()
        guard total.isFinite else { throw EmoA2EError("loss became \(total) at step \(step)") }
        try value.total.backward()
        if let dp = dataParallel {
            let world = Double(dp.group.worldSize)
            let mean = try dp.group.allReduce([total, value.reconstruction, value.landmark ?? 0]).map { $0 / world }
            try dp.averageGradients()
            value = EmoA2ELoss.Value(total: try Tensor(scalar: Float(mean[0])), reconstruction: mean[1], landmark: value.landmark.map { _ in mean[2] })
        }
        if config.gradientClip > 0 { try clipGradNorm(model.parameters(), maxNorm: config.gradientClip) }
        try optimizer.update()
        step += 1
        return value
    }

    /// Trains until `config.steps` (counting steps done before a resume) or the wall-time budget.
    @discardableResult
    public func run(progress: (EmoA2ETrainingLog) -> Void = { _ in }) throws -> [EmoA2ETrainingLog] {
        let start = Date()
        var logs: [EmoA2ETrainingLog] = []
        while step < config.steps {
            let v = try trainStep()
            let elapsed = Date().timeIntervalSince(start)
            if config.logEvery > 0 && (step % config.logEvery == 0 || step == config.steps) || step == 1 {
                let entry = EmoA2ETrainingLog(step: step, loss: try v.total.item(), reconstruction: v.reconstruction,
                                              landmark: v.landmark, seconds: elapsed)
                logs.append(entry)
                progress(entry)
            }
            if isMainProcess, let path = config.checkpointPath, config.checkpointEvery > 0, step % config.checkpointEvery == 0 {
                try saveCheckpoint(to: URL(fileURLWithPath: path))
            }
            if let budget = config.maxWallSeconds {
                var stop = elapsed >= budget
                if let dp = dataParallel { stop = try dp.group.anyTrue(stop) }   // the ranks stop at the same step
                if stop { break }
            }
        }
        if isMainProcess, let path = config.checkpointPath { try saveCheckpoint(to: URL(fileURLWithPath: path)) }
        return logs
    }

    /// Model (`model.*`), optimiser (`optimizer.*`) and step, with both configs in the metadata.
    public func saveCheckpoint(to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (k, t) in model.stateDict() { tensors["model." + k] = t }
        for (k, t) in try optimizer.stateDict() { tensors["optimizer." + k] = t }
        let trainingJSON = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        try Safetensors.save(tensors, metadata: [
            "format": Self.checkpointFormat, "emoa2e.config": try model.config.json(), "training.config": trainingJSON,
            "step": String(step),
        ], to: url)
    }

    /// Restores model, optimiser and step from `saveCheckpoint`; the model config must match.
    public func resume(from url: URL) throws {
        let file = try Safetensors.load(url)
        guard file.metadata["format"] == Self.checkpointFormat, let json = file.metadata["emoa2e.config"],
              let stepText = file.metadata["step"], let savedStep = Int(stepText), savedStep >= 0 else {
            throw EmoA2EError("\(url.lastPathComponent) is not an EmoA2E training checkpoint")
        }
        guard try EmoA2EConfig.from(json: json) == model.config else {
            throw EmoA2EError("\(url.lastPathComponent) was trained with a different model config")
        }
        var modelState: [String: Tensor] = [:], optimState: [String: Tensor] = [:]
        for (k, t) in file.tensors {
            if k.hasPrefix("model.") { modelState[String(k.dropFirst(6))] = t }
            else if k.hasPrefix("optimizer.") { optimState[String(k.dropFirst(10))] = t }
            else { throw EmoA2EError("\(url.lastPathComponent): unexpected tensor '\(k)'") }
        }
        try model.load(modelState, strict: true)
        try optimizer.load(optimState)
        step = savedStep
    }

    /// Writes inference weights only (no optimiser state), as `EmoA2E.load(weights:)` reads them.
    public func exportWeights(to url: URL, dtype: DType = .float32, metadata extra: [String: String] = [:]) throws {
        try EmoA2E.saveWeights(model, to: url, dtype: dtype, metadata: extra)
    }
}
