import Diffusion
import Foundation
import Media
import Torch

/// The losses of one training step, kept for the loss curve and the checkpoint.
public struct LossRecord: Equatable, Sendable {
    public let total: Double
    public let simple: Double
    /// nil while the image losses are switched off.
    public let reconstruction: Double?
    public let perceptual: Double?
}

/// Trains a `TGDMUNet` on any `PairDataset`: sample t and ε, build Z_t = √ᾱ_t I_d + √(1-ᾱ_t) ε (Eq. 2),
/// predict ε_θ(Z_t, Φ_E(I_s), I_3d, ρ̂, t), minimise Eq. 21 with AdamW, clip gradients, update the EMA.
/// Every step's randomness is a function of (seed, step), and checkpoints hold the model, EMA, optimiser,
/// gate and step, so `loadCheckpoint` + `train` continues a killed run exactly.
///
/// Data parallel (`enableDataParallel`): `config.batchSize` is the global batch; each of N processes trains on
/// its 1/N shard of the same global batch the single process would draw, with the same timesteps and noise
/// rows, and gradients averaged by all-reduce; so N processes follow one process's trajectory up to float
/// rounding, and a checkpoint resumes on any N that divides the batch. Rank 0 logs and writes files.
public final class TGDMTrainer<Dataset: PairDataset> {
    public let model: TGDMUNet
    public let dataset: Dataset
    public let config: TGDMTrainingConfig
    public let schedule: NoiseSchedule
    public let loss: TGDMLoss
    public let optimizer: AdamW
    public let ema: EMA
    public let device: Device
    /// Where checkpoints and PNGs go (nil: nowhere).
    public let outputDirectory: URL?
    public private(set) var step = 0
    public private(set) var history: [LossRecord] = []
    /// Receives progress lines (stdout by default).
    public var log: (String) -> Void = { print($0) }

    private var sampler: ShardedBatchSampler
    /// Set by `enableDataParallel`.
    public private(set) var dataParallel: DataParallel?
    /// Rank 0 (or the only process) logs and writes checkpoints and pictures.
    public var isMainProcess: Bool { dataParallel?.group.isMain ?? true }
    private var intervalStart = Date()
    private var intervalSteps = 0

    public init(model: TGDMUNet, dataset: Dataset, config: TGDMTrainingConfig, schedule: NoiseSchedule,
                outputDirectory: URL? = nil, device: Device = .cpu) throws {
        try config.validate()
        guard dataset.count > 0 else { throw TGDMError.invalidInput("the dataset is empty") }
        self.model = model
        self.dataset = dataset
        self.config = config
        self.schedule = schedule
        self.outputDirectory = outputDirectory
        self.device = device
        try model.to(device)
        loss = try TGDMLoss(config: config.loss, schedule: schedule)
        optimizer = try AdamW(module: model, config: .init(learningRate: config.learningRate, weightDecay: config.weightDecay))
        ema = try EMA(module: model, decay: config.emaDecay)
        sampler = try ShardedBatchSampler(datasetCount: dataset.count, globalBatchSize: config.batchSize,
                                          permutation: ShardedBatchSampler.seededPermutation(count: dataset.count) { [seed = config.seed] in
                                              Self.derivedSeed(seed, 1, $0)
                                          })
    }

    /// Trains as one rank of `group` from now on: rank 0's model and EMA are copied to every rank, the ranks
    /// check that they stand at the same step, and each step uses this rank's shard of the global batch.
    /// Call after `loadCheckpoint` when resuming (every rank reads the same checkpoint file).
    public func enableDataParallel(_ group: ProcessGroup, bucketBytes: Int = DataParallel.defaultBucketBytes) throws {
        guard config.batchSize % group.worldSize == 0 else {
            throw TGDMError.invalidConfig("the batch size \(config.batchSize) is the global batch and must be a multiple of the \(group.worldSize) processes")
        }
        try group.requireAgreement([Double(step), Double(history.count), Double(dataset.count)] + loss.gate.state,
                                   what: "the step, loss history, dataset size and image-loss gate (do all ranks read the same run folder and data?)")
        let dp = try DataParallel(parameters: model.namedParameters(), group: group, bucketBytes: bucketBytes)
        try dp.broadcastFromMain(model.namedTensors().map(\.1) + ema.shadow.map(\.1))
        sampler = try ShardedBatchSampler(datasetCount: dataset.count, globalBatchSize: config.batchSize, rank: group.rank,
                                          worldSize: group.worldSize, permutation: sampler.permutation)
        dataParallel = dp
    }

    // MARK: randomness

    /// SplitMix64 of (seed, stream, k): independent seeds per step and per epoch.
    static func derivedSeed(_ seed: UInt64, _ stream: UInt64, _ k: Int) -> UInt64 {
        var z = seed &+ stream &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(k) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The dataset indices of step `k` (the global batch of all ranks): consecutive slices of per-epoch
    /// random permutations.
    public func batchIndices(forStep k: Int) throws -> [Int] { try sampler.globalIndices(forStep: k) }

    // MARK: training

    /// One optimisation step. Returns the loss terms of the batch.
    @discardableResult
    public func trainStep() throws -> TGDMLossTerms {
        if let dp = dataParallel { return try dataParallelStep(dp) }
        model.train()
        let batch = try dataset.batch(indices: batchIndices(forStep: step)).to(device)
        guard batch.coefficients.size(1) == model.config.conditionInputDim else {
            throw TGDMError.invalidInput("dataset coefficients have \(batch.coefficients.size(1)) entries, the model expects \(model.config.conditionInputDim)")
        }
        let g = Generator(seed: Self.derivedSeed(config.seed, 2, step))
        let b = batch.size
        let timesteps = try Tensor.randint(0, schedule.trainTimesteps, [b], generator: g)
        let noise = try Tensor.randn(batch.target.shape, generator: g).to(device)
        let noisy = try schedule.addNoise(x0: batch.target, noise: noise, timesteps: timesteps)

        try optimizer.zeroGrad()
        let prediction = try model.predictNoise(noisy: noisy, timesteps: timesteps.to(device), source: model.encodeSource(batch.source),
                                                render: batch.render, coefficients: batch.coefficients, warp: batch.warp,
                                                identity: batch.identity).noise
        let terms = try loss(predictedNoise: prediction, noise: noise, noisy: noisy, target: batch.target, timesteps: timesteps)
        try terms.total.backward()
        let norm = try clipGradNorm(model.parameters(), maxNorm: config.gradientClip)
        if norm.isFinite {
            try optimizer.update()
            try ema.update(from: model, decay: ema.warmedUpDecay(step: step))
        } else {
            log("step \(step + 1): gradient norm is \(norm); update skipped")
        }
        step += 1
        history.append(LossRecord(total: try terms.total.item(), simple: terms.simple, reconstruction: terms.reconstruction, perceptual: terms.perceptual))
        return terms
    }

    /// One data-parallel step: this rank's shard of the global batch, the global batch's timesteps and noise
    /// rows for it, the gate fed with the mean L_simple of all ranks, gradients averaged before clipping.
    func dataParallelStep(_ dp: DataParallel) throws -> TGDMLossTerms {
        model.train()
        let rank = dp.group.rank, world = dp.group.worldSize
        let batch = try dataset.batch(indices: sampler.indices(forStep: step)).to(device)
        guard batch.coefficients.size(1) == model.config.conditionInputDim else {
            throw TGDMError.invalidInput("dataset coefficients have \(batch.coefficients.size(1)) entries, the model expects \(model.config.conditionInputDim)")
        }
        let b = batch.size
        guard b * world == config.batchSize else { throw TGDMError.invalidInput("the dataset returned \(b) examples for a shard of \(config.batchSize / world)") }
        // Draw for the global batch exactly as one process would, then keep this rank's rows.
        let g = Generator(seed: Self.derivedSeed(config.seed, 2, step))
        let allTimesteps = try Tensor.randint(0, schedule.trainTimesteps, [config.batchSize], generator: g)
        let allNoise = try Tensor.randn([config.batchSize] + Array(batch.target.shape.dropFirst()), generator: g)
        let timesteps = try allTimesteps.narrow(0, rank * b, b).contiguous()
        let noise = try allNoise.narrow(0, rank * b, b).contiguous().to(device)
        let noisy = try schedule.addNoise(x0: batch.target, noise: noise, timesteps: timesteps)

        try optimizer.zeroGrad()
        let prediction = try model.predictNoise(noisy: noisy, timesteps: timesteps.to(device), source: model.encodeSource(batch.source),
                                                render: batch.render, coefficients: batch.coefficients, warp: batch.warp,
                                                identity: batch.identity).noise
        let terms = try loss(predictedNoise: prediction, noise: noise, noisy: noisy, target: batch.target, timesteps: timesteps, observeGate: false)
        try terms.total.backward()
        // Equal shards: the mean of the ranks' means is the global batch's mean.
        let mean = try dp.group.allReduce([try terms.total.item(), terms.simple, terms.reconstruction ?? 0, terms.perceptual ?? 0])
            .map { $0 / Double(world) }
        loss.observeGate(simple: mean[1])
        try dp.averageGradients()
        let norm = try clipGradNorm(model.parameters(), maxNorm: config.gradientClip)
        if norm.isFinite {
            try optimizer.update()
            try ema.update(from: model, decay: ema.warmedUpDecay(step: step))
        } else if isMainProcess {
            log("step \(step + 1): gradient norm is \(norm); update skipped")
        }
        step += 1
        let record = LossRecord(total: mean[0], simple: mean[1], reconstruction: terms.reconstruction.map { _ in mean[2] },
                                perceptual: terms.perceptual.map { _ in mean[3] })
        history.append(record)
        return TGDMLossTerms(total: terms.total, simple: record.simple, reconstruction: record.reconstruction, perceptual: record.perceptual)
    }

    /// Trains until `step == totalSteps`, logging, checkpointing and writing PNGs at the configured intervals.
    /// `shouldContinue` is asked after every step (return false to stop early; a checkpoint is written).
    /// Data parallel: only rank 0 logs and writes, and the ranks stop together when any of them asks to.
    public func train(until totalSteps: Int, shouldContinue: (() -> Bool)? = nil) throws {
        intervalStart = Date()
        intervalSteps = 0
        let main = isMainProcess
        while step < totalSteps {
            let terms = try trainStep()
            intervalSteps += 1
            if main, config.logEvery > 0, step % config.logEvery == 0 || step == totalSteps { log(progressLine(terms, totalSteps: totalSteps)) }
            if main, config.checkpointEvery > 0, step % config.checkpointEvery == 0, let dir = outputDirectory {
                try saveCheckpoint(to: dir.appendingPathComponent("checkpoint.safetensors"))
            }
            if main, config.artifactEvery > 0, step % config.artifactEvery == 0, outputDirectory != nil { try writeArtifacts() }
            if let shouldContinue {
                var stop = !shouldContinue()
                if let dp = dataParallel { stop = try dp.group.anyTrue(stop) }
                if stop {
                    if main, let dir = outputDirectory { try saveCheckpoint(to: dir.appendingPathComponent("checkpoint.safetensors")) }
                    if main { log("stopped at step \(step)") }
                    return
                }
            }
        }
    }

    func progressLine(_ terms: TGDMLossTerms, totalSteps: Int) -> String {
        let elapsed = Date().timeIntervalSince(intervalStart)
        let rate = elapsed > 0 ? Double(intervalSteps) / elapsed : 0
        intervalStart = Date()
        intervalSteps = 0
        let recent = history.suffix(max(config.logEvery, 1))
        let meanTotal = recent.map(\.total).reduce(0, +) / Double(recent.count)
        let meanSimple = recent.map(\.simple).reduce(0, +) / Double(recent.count)
        func fmt(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "off" }
        let gate = loss.gate.runningAverage.map { String(format: "%.4f", $0) } ?? "-"
        return String(format: "step %d/%d | loss %.4f (simple %.4f, rec %@, perceptual %@) | avg L_simple %@ | %.2f it/s",
                      step, totalSteps, meanTotal, meanSimple, fmt(terms.reconstruction), fmt(terms.perceptual), gate, rate)
    }

    // MARK: checkpoints

    public static var checkpointFormat: String { "tgdm-trainer-checkpoint-v1" }

    /// Model, EMA, optimiser, step, gate and loss history in one safetensors file, written atomically.
    public func saveCheckpoint(to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (k, v) in model.stateDict() { tensors["model.\(k)"] = v }
        for (k, v) in ema.stateDict() { tensors["ema.\(k)"] = v }
        for (k, v) in try optimizer.stateDict() { tensors["optimizer.\(k)"] = v }
        tensors["trainer.step"] = try Tensor([Int64(step)])
        tensors["trainer.gate"] = try Tensor(loss.gate.state)
        if !history.isEmpty {
            let rows = history.flatMap { [$0.total, $0.simple, $0.reconstruction ?? .nan, $0.perceptual ?? .nan] }
            tensors["trainer.history"] = try Tensor(rows, shape: [history.count, 4])
        }
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        var metadata = try TGDMModelBundle.describing(config: model.config, schedule: schedule, sampler: TGDMModelBundle.standardSampler)
        metadata["format"] = Self.checkpointFormat
        metadata["training_config"] = String(decoding: try json.encode(config), as: UTF8.self)
        try Safetensors.save(tensors, metadata: metadata, to: url)
    }

    /// Restores a checkpoint written by `saveCheckpoint` for a model with the same config.
    public func loadCheckpoint(from url: URL) throws {
        let file = try Safetensors.load(url)
        guard file.metadata["format"] == Self.checkpointFormat else {
            throw TGDMError.checkpoint("\(url.lastPathComponent) is not a TGDM trainer checkpoint")
        }
        let saved = try TGDMModelBundle.modelConfig(file.metadata)
        guard saved == model.config else {
            throw TGDMError.checkpoint("\(url.lastPathComponent) was trained with a different model config (\(saved.variant), \(saved.imageSize)², base \(saved.baseChannels))")
        }
        func group(_ prefix: String) -> [String: Tensor] {
            var d: [String: Tensor] = [:]
            for (k, v) in file.tensors where k.hasPrefix(prefix) { d[String(k.dropFirst(prefix.count))] = v }
            return d
        }
        guard let stepTensor = file.tensors["trainer.step"], let gateTensor = file.tensors["trainer.gate"] else {
            throw TGDMError.checkpoint("\(url.lastPathComponent) lacks trainer.step or trainer.gate")
        }
        try model.load(group("model."), strict: true)
        try ema.load(group("ema."))
        try optimizer.load(group("optimizer."))
        try loss.restoreGate(gateTensor.toArray(Double.self))
        let restoredStep = Int(try stepTensor.item())
        guard restoredStep >= 0 else { throw TGDMError.checkpoint("negative step \(restoredStep)") }
        var restoredHistory: [LossRecord] = []
        if let h = file.tensors["trainer.history"] {
            guard h.rank == 2, h.size(1) == 4 else { throw TGDMError.checkpoint("trainer.history has shape \(h.shape)") }
            let v = try h.toArray(Double.self)
            for r in 0..<h.size(0) {
                let row = Array(v[(4 * r)..<(4 * r + 4)])
                restoredHistory.append(LossRecord(total: row[0], simple: row[1], reconstruction: row[2].isNaN ? nil : row[2],
                                                  perceptual: row[3].isNaN ? nil : row[3]))
            }
        }
        step = restoredStep
        history = restoredHistory
        sampler.reset()
    }

    // MARK: artifacts

    /// Writes loss.png and samples-stepNNNNNNN.png (rows: source | I_3d | generated | target).
    public func writeArtifacts() throws {
        guard let dir = outputDirectory else { return }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try lossCurve().write(to: dir.appendingPathComponent("loss.png"))
        try writePreview(to: dir.appendingPathComponent(String(format: "samples-step%07d.png", step)))
    }

    public func lossCurve() throws -> RGBImage {
        var series = [LossCurvePlot.Series(name: "L_simple", values: history.map(\.simple), color: (30, 90, 200)),
                      LossCurvePlot.Series(name: "total", values: history.map(\.total), color: (200, 40, 40))]
        if history.contains(where: { $0.reconstruction != nil }) {
            series.append(.init(name: "L_rec", values: history.map { $0.reconstruction ?? .nan }, color: (40, 160, 60)))
        }
        return try LossCurvePlot.render(series)
    }

    /// Samples the first `previewCount` examples with the EMA weights (the EMA warms up, see
    /// `EMA.warmedUpDecay`, so it is usable from the first step; the raw weights only before any step).
    public func writePreview(to url: URL) throws {
        let count = min(config.previewCount, dataset.count)
        let batch = try dataset.batch(indices: Array(0..<count))
        let useEMA = step > 0
        let sampler: TGDMSampler
        if useEMA {
            let averaged = try TGDMUNet(config: model.config)
            try ema.copy(to: averaged)
            try averaged.to(device)
            sampler = TGDMSampler(model: averaged, schedule: schedule)
        } else {
            sampler = TGDMSampler(model: model, schedule: schedule)
        }
        let generated = try sampler.generate(source: batch.source, render: batch.render, coefficients: batch.coefficients, warp: batch.warp,
                                             identity: batch.identity, config: config.preview)
        var tiles: [Tensor] = [], labels: [String] = []
        for i in 0..<count {
            tiles += [try batch.source.select(0, i), try batch.render.select(0, i), try generated.select(0, i).to(.cpu), try batch.target.select(0, i)]
            labels += ["source", "I_3d", useEMA ? "ema \(step)" : "raw \(step)", "target"]
        }
        try ImageGrid.save(tiles, columns: 4, to: url, labels: labels)
    }
}
