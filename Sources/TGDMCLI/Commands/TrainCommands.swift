import ArgumentParser
import Audio2Expression
import Datasets
import Diffusion
import FaceModel
import Foundation
import Media
import Metrics
import SyntheticFaces
import TGDMModel
import TextEncoder
import Torch

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the networks of the paper.", subcommands: [TrainTGDMCommand.self, TrainA2ECommand.self])
}

enum ModelPreset: String, ExpressibleByArgument, CaseIterable {
    case tiny32, small64, small128, paper256

    func config(variant: TGDMConfig.Variant, temporalRadius: Int, sourceWarp: Bool = false) -> TGDMConfig {
        var c: TGDMConfig
        switch self {
        case .tiny32: c = TGDMConfig(imageSize: 32, baseChannels: 32, channelMultipliers: [1, 2, 2], blocksPerStage: 1, texAttFactors: [2, 4])
        case .small64: c = .small64
        case .small128: c = .small128
        case .paper256: c = .paper256
        }
        c.variant = variant
        c.coefficientDim = Coefficients.count
        c.temporalRadius = temporalRadius
        c.sourceWarp = sourceWarp
        return c
    }
}

/// What the generator learns (Sec. 4.3 reenactment, or Sec. 4.4 swapping).
enum TrainingTask: String, ExpressibleByArgument, CaseIterable {
    /// Source and target frames of one identity.
    case reenact
    /// Reconstruct a frame from its own face-masked picture (Sec. 4.4).
    case swap
}

extension SyntheticPairDataset.Split: ExpressibleByArgument {}

struct TrainTGDMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tgdm",
        abstract: "Train the TGDM generator on source/target pairs (10·L_simple + L_rec + L_p, image losses gated at L_simple < 0.05).",
        discussion: "Interrupt with Ctrl-C at any time: the step in progress finishes and a checkpoint is written; run the same command again to resume.")

    @Option(help: "Dataset made by `tgdm dataset synth`, or a corpus folder made by `tgdm dataset prepare`.") var data: String = "data/synth64.safetensors"
    @Option(help: "Model size preset (\(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))).") var preset: ModelPreset = .small64
    @Option(help: "texAtt (ours) or a Table 2 ablation: imageConcat, featureConcat, noRender.") var variant: TGDMConfig.Variant = .texAtt
    @Option(help: "reenact (source and target frames of one identity) or swap (Sec. 4.4: reconstruct a frame from its face-masked self).")
    var task: TrainingTask = .reenact
    @Option(help: "Temporal window radius k of ρ̂ (Sec. 4.2; 1 = the paper's video window, 0 = one frame).") var window: Int = 0
    @Flag(help: "Also feed the 3DMM-warped source and its validity mask at the input (issue #10; reenact task only).") var warp = false
    @Flag(help: "Condition on the identity embedding z_id (dlib, 128-d) as the paper's swap model does (swap task only).") var identity = false
    @Option(help: "Total optimisation steps.") var steps: Int = 2000
    @Option(help: "Perceptual loss L_p: random (fixed random VGG16 features; the shipped models) or lpips (the published LPIPS-VGG16, the paper's).")
    var perceptual: PerceptualChoice = .random
    @Option(help: "Batch size (the global batch: --nproc processes train on equal shards of it).") var batch: Int = 8
    @Option(help: "Learning rate (the paper: 2e-4).") var lr: Double = 2e-4
    @Option(help: "EMA decay of the sampling weights.") var emaDecay: Double = 0.999
    @Option(help: "Log every N steps.") var logEvery: Int = 25
    @Option(help: "Checkpoint every N steps.") var checkpointEvery: Int = 250
    @Option(help: "Loss curve and sample grid every N steps (0 = only at the end).") var artifactEvery: Int = 500
    @Option(help: "Preview sampler steps (DDIM, η = 1).") var previewSteps: Int = 25
    @Option(help: "Stop after this many minutes of wall time (a checkpoint is written).") var maxMinutes: Double?
    @Option(help: "Run folder (checkpoint.safetensors, loss.png, samples-*.png).") var out: String = "runs/tgdm"
    @Flag(help: "Start over even if the run folder has a checkpoint.") var fresh = false
    @Option(help: "Start a new run from this model's weights (fine-tuning; a wider input layer gets zeros for its new channels).")
    var initFrom: String?
    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        guard (0...4).contains(window) else { throw ValidationError("--window must be in 0...4") }
        guard steps >= 0, (1...4096).contains(batch), lr > 0, (0..<1).contains(emaDecay) else {
            throw ValidationError("--steps ≥ 0, --batch in 1...4096, --lr > 0 and --ema-decay in [0, 1) are required")
        }
        guard (1...1000).contains(previewSteps) else { throw ValidationError("--preview-steps must be in 1...1000") }
        if warp, task == .swap { throw ValidationError("--warp is for the reenact task (a swap source is the face-masked target itself)") }
        if identity, task != .swap { throw ValidationError("--identity is for the swap task") }
        if variant == .plain, !warp { throw ValidationError("the plain variant needs --warp (it has no other source input)") }
        guard batch % distributed.nproc == 0 else { throw ValidationError("--batch \(batch) is the global batch and must be a multiple of --nproc \(distributed.nproc)") }
    }

    func run() throws {
        try runReportingErrors {
            if try distributed.launchLocalRanksIfRequested(threads: runtime.threads) { return }
            try runtime.apply()
            let device = try distributed.trainingDevice(localRank: DistributedOptions.localRank)
            let group = try distributed.joinGroup(device: device)
            let url = try inputURL(data)
            var modelConfig = preset.config(variant: variant, temporalRadius: window, sourceWarp: warp)
            if identity { modelConfig.identityDim = 128 }
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
                guard !warp, !identity else {
                    throw ValidationError("--warp and --identity train on the synthetic dataset for now (a prepared corpus has no warps or z_id yet)")
                }
                let corpus = try PreparedCorpus(url: url)
                let dataset = try CorpusPairDataset(corpus: corpus, imageSize: modelConfig.imageSize, temporalRadius: window, seed: runtime.seed,
                                                    renderer: FaceRenderer(model: .loadDefault()), swap: task == .swap)
                try train(dataset, modelConfig: modelConfig, device: device, group: group,
                          about: "\(corpus.entries.count) segments of \(corpus.manifest.layout.rawValue) corpus \(url.lastPathComponent)")
            } else {
                let pairs: SyntheticPairSource = task == .swap ? try SyntheticSwapDataset(url: url, split: .train)
                                                               : try SyntheticPairDataset(url: url, split: .train)
                guard modelConfig.imageSize == pairs.size else {
                    throw ValidationError("preset \(preset.rawValue) is \(modelConfig.imageSize)² but the dataset is \(pairs.size)²")
                }
                let dataset = try SyntheticTrainingPairs(source: pairs, model: modelConfig, seed: runtime.seed, dataset: url)
                try train(dataset, modelConfig: modelConfig, device: device, group: group, about: "synthetic")
            }
        }
    }

    func train<D: PairDataset>(_ dataset: D, modelConfig: TGDMConfig, device: Device, group: ProcessGroup?, about: String) throws {
        let main = group?.isMain ?? true
        var tc = TGDMTrainingConfig()
        tc.batchSize = batch; tc.learningRate = lr; tc.emaDecay = emaDecay; tc.seed = runtime.seed
        tc.logEvery = logEvery; tc.checkpointEvery = checkpointEvery; tc.artifactEvery = artifactEvery
        tc.preview.steps = previewSteps
        if perceptual == .lpips { tc.loss.perceptualNetwork = .lpips(backbone: LPIPS.Backbone.vgg16.rawValue) }
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let model = try TGDMUNet(config: modelConfig)
        let ckpt = dir.appendingPathComponent("checkpoint.safetensors")
        let resuming = !fresh && FileManager.default.fileExists(atPath: ckpt.path)
        if let initFrom, !resuming {
            let start = try model.warmStart(from: TGDMModelBundle.load(from: inputURL(initFrom)).model)
            if main {
                print("initialised from \(initFrom): \(start.copied.count) tensors copied, \(start.widened.count) widened (\(start.widened.joined(separator: ", "))), \(start.skipped.count) new")
            }
        }
        let trainer = try TGDMTrainer(model: model, dataset: dataset, config: tc, schedule: try NoiseSchedule(.paper), outputDirectory: dir, device: device)
        if case .lpips(let backbone) = tc.loss.perceptualNetwork {
            let net = try LPIPS(backbone: LPIPS.Backbone(rawValue: backbone) ?? .vgg16)
            try net.to(device)
            trainer.loss.perceptualProvider = { try net($0, $1) }
        }
        if resuming {
            try trainer.loadCheckpoint(from: ckpt)
            if main { print("resuming \(ckpt.path) at step \(trainer.step)") }
        }
        if let group {
            try trainer.enableDataParallel(group)
            if main { print("data parallel: \(group.worldSize) processes, \(batch / group.worldSize) examples each per step, \(group.backend.rawValue) on \(device)") }
        }
        if main {
            print("TGDM \(task.rawValue) \(variant.rawValue)\(warp ? "+warp" : "")\(identity ? "+z_id" : "") \(modelConfig.imageSize)², window k = \(window), \(model.parameterCount) parameters, \(dataset.count) training pairs (\(about)), batch \(batch)")
        }
        let deadline = maxMinutes.map { Date().addingTimeInterval($0 * 60) }
        try trainer.train(until: steps) {
            if stopRequested != 0 { return false }
            if let d = deadline, Date() > d { return false }
            return true
        }
        guard main else { return }
        try trainer.saveCheckpoint(to: ckpt)
        try trainer.writeArtifacts()
        print("checkpoint \(ckpt.path) at step \(trainer.step); loss curve and samples in \(dir.path)")
    }
}

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample a trained TGDM on dataset pairs and write a grid: source | I_3d | generated | target.")

    @Option(help: "Checkpoint (trainer checkpoint or bundled weights).") var checkpoint: String
    @Option(help: "Dataset made by `tgdm dataset synth`.") var data: String = "data/synth64.safetensors"
    @Option(help: "train | test | all") var split: SyntheticPairDataset.Split = .test
    @Option(help: "Number of pairs.") var count: Int = 8
    @Option(help: "First pair index.") var start: Int = 0
    @OptionGroup var sampling: SamplerOptions
    @Flag(help: "Show the TexAtt attention of the centre pixel of the deepest features (paper Fig. 7) as an extra column.")
    var attention = false
    @OptionGroup var runtime: RuntimeOptions
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "samples.png"

    func run() throws {
        try runReportingErrors {
            try runtime.apply()
            let bundle = try TGDMModelBundle.load(from: inputURL(checkpoint))
            let pairs = try SyntheticPairDataset(url: inputURL(data), split: split)
            let ds = try SyntheticTrainingPairs(source: pairs, model: bundle.config, seed: runtime.seed, dataset: inputURL(data))
            guard count > 0, start >= 0, start < ds.count else { throw ValidationError("pairs \(start)..<\(start + count) outside 0..<\(ds.count)") }
            let n = Swift.min(count, ds.count - start)
            // Spread the pairs over the split so several identities appear.
            let stride = Swift.max(1, (ds.count - start) / n)
            let batch = try ds.batch(indices: (0..<n).map { start + $0 * stride })
            let s = TGDMSampler(bundle: bundle)
            var config = sampling.configuration(default: bundle.defaultSampler) ?? bundle.defaultSampler
            config.seed = runtime.seed
            let bar = ProgressBar("sample", total: config.steps)
            let out = try s.generate(source: batch.source, render: batch.render, coefficients: batch.coefficients, warp: batch.warp, config: config) { i, _ in
                bar.update(i); return stopRequested == 0
            }
            var overlays: [Tensor]? = nil
            if attention {
                let maps = try s.attentionMaps(noisy: out, timestep: 100, source: batch.source, render: batch.render,
                                               coefficients: batch.coefficients, warp: batch.warp)
                guard let o = try AttentionOverlay.centreQuery(maps: maps, sources: batch.source) else {
                    throw ValidationError("this model has no TexAtt attention (variant \(bundle.config.variant.rawValue))")
                }
                overlays = o
            }
            var tiles: [Tensor] = [], labels: [String] = []
            for i in 0..<n {
                tiles += [try batch.source.select(0, i), try batch.render.select(0, i), try out.select(0, i), try batch.target.select(0, i)]
                labels += ["source", "I_3d", "TGDM", "target"]
                if let o = overlays { tiles.append(o[i]); labels.append("attention") }
            }
            try ImageGrid.save(tiles, columns: overlays == nil ? 4 : 5, to: outputURL(output), labels: labels)
            print("wrote \(output) (\(n) \(split.rawValue) pairs, \(config.kind.rawValue) \(config.steps) steps)")
        }
    }
}

struct TrainA2ECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "a2e",
        abstract: "Train EmoA2E: on synthetic speech (espeak-ng) comparing Transformer, GRU and MLP at one budget, or with --data on a prepared corpus.",
        discussion: "With --data (a folder made by `tgdm dataset prepare`) one backbone trains on the corpus's MFCC clips and fitted expressions, resumable from OUT/checkpoint.safetensors, on --nproc processes if asked.")

    static let recipe = EmoA2ERecipeConfig()
    @Option(help: "Steps per backbone.") var steps: Int = recipe.training.steps
    @Option(help: "Batch size (with --nproc: the global batch).") var batch: Int = recipe.training.batchSize
    @Option(help: "Backbones to train, comma separated (transformer,gru,mlp); with --data the first one.") var backbones: String = "transformer,gru,mlp"
    @Option(help: "Run folder (checkpoints, report.json).") var out: String = recipe.outputDirectory
    @Option(help: "Where to write the transformer's weights for inference (empty: don't).") var ship: String = ""
    @Option(help: "Seed.") var seed: UInt64 = recipe.seed
    @Option(help: "Compute threads (default: all cores).") var threads: Int?
    @Option(help: "A prepared corpus folder (`tgdm dataset prepare`); without it the synthetic recipe runs.") var data: String?
    @Option(help: "Learning rate (with --data).") var lr: Double = recipe.training.learningRate
    @Option(help: "Checkpoint every N steps (with --data).") var checkpointEvery: Int = 250
    @Option(help: "Frames per training window K (with --data; the paper: 32).") var windowFrames: Int = recipe.model.windowFrames
    @Flag(help: "With --data: start over even if the run folder has a checkpoint.") var fresh = false
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        if distributed.nproc > 1, data == nil {
            throw ValidationError("--nproc needs --data (a prepared corpus); the synthetic recipe runs on one process")
        }
        guard batch % distributed.nproc == 0 else { throw ValidationError("--batch \(batch) must be a multiple of --nproc \(distributed.nproc)") }
        guard (2...512).contains(windowFrames) else { throw ValidationError("--window-frames must be in 2...512") }
    }

    func parsedBackbones() throws -> [EmoA2EBackbone] {
        try backbones.split(separator: ",").map { name in
            guard let b = EmoA2EBackbone(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown backbone '\(name)' (transformer, gru, mlp)")
            }
            return b
        }
    }

    func run() throws {
        try runReportingErrors {
            if let data {
                if try distributed.launchLocalRanksIfRequested(threads: threads) { return }
                try trainOnCorpus(try inputURL(data))
                return
            }
            Torch.configureThreads(threads)
            installStopHandler()
            var c = Self.recipe
            c.training.steps = steps
            c.training.batchSize = batch
            c.backbones = try parsedBackbones()
            c.outputDirectory = out
            c.shippedWeightsPath = ship.isEmpty ? nil : ship
            c.seed = seed
            let start = Date()
            let report = try EmoA2ERecipe.run(config: c, textEncoder: MiniLMEmotionEncoder.installed(), faceModel: .loadDefault()) {
                print(String(format: "[%6.0f s] ", Date().timeIntervalSince(start)) + $0)
            }
            for b in report.backbones {
                print(String(format: "%@: held-out mouth LMD %.3f (unseen voice %.3f), %d steps in %.0f s",
                             b.backbone.rawValue, b.heldOutLMD, b.heldOutLMDUnseenVoice, b.steps, b.trainingSeconds))
            }
        }
    }

    /// One backbone on a prepared corpus, data parallel when launched as ranks.
    func trainOnCorpus(_ url: URL) throws {
        if let t = threads, !(1...1024).contains(t) { throw ValidationError("--threads must be in 1...1024") }
        Torch.configureThreads(threads)
        Torch.manualSeed(seed)
        let device = try distributed.trainingDevice(localRank: DistributedOptions.localRank)
        guard device == .cpu else { throw ValidationError("EmoA2E trains on the CPU (it is small); drop --device") }
        let group = try distributed.joinGroup(device: device)
        let main = group?.isMain ?? true
        let corpus = try PreparedCorpus(url: url)
        let encoder = try MiniLMEmotionEncoder.installed()
        var mc = Self.recipe.model
        mc.backbone = try parsedBackbones().first ?? .transformer
        mc.windowFrames = windowFrames
        mc.emotionDim = encoder.embeddingWidth
        mc.textEncoder = encoder.identifier
        mc.mfccRowsPerFrame = corpus.manifest.config.mfccRowsPerFrame
        mc.mfccCoefficients = corpus.manifest.config.mfccCoefficients
        let source = try CorpusSequences(corpus: corpus, config: mc) { try encoder.embed($0) }
        let model = try EmoA2EModel(config: mc, generator: Generator(seed: seed))
        try model.setMFCCStatistics(from: source.mfccSample())
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ckpt = dir.appendingPathComponent("checkpoint.safetensors")
        var tc = EmoA2ETrainingConfig(steps: steps, batchSize: batch, learningRate: lr, seed: seed, checkpointEvery: checkpointEvery,
                                      checkpointPath: ckpt.path, logEvery: 50)
        tc.maxWallSeconds = nil
        let trainer = try EmoA2ETrainer(model: model, source: source, config: tc, landmarks: MorphableModelLandmarks(model: .loadDefault()))
        if !fresh, FileManager.default.fileExists(atPath: ckpt.path) {
            try trainer.resume(from: ckpt)
            if main { print("resuming \(ckpt.path) at step \(trainer.step)") }
        }
        if let group {
            try trainer.enableDataParallel(group)
            if main { print("data parallel: \(group.worldSize) processes, \(batch / group.worldSize) windows each per step") }
        }
        if main {
            print("EmoA2E \(mc.backbone.rawValue), \(model.parameterCount) parameters, \(source.sequenceCount) sequences of \(corpus.manifest.layout.rawValue) corpus \(url.lastPathComponent), batch \(batch)")
        }
        let start = Date()
        try trainer.run { entry in
            if main {
                print(String(format: "step %d/%d | loss %.4f (rec %.5f, lm %.3f) | %.0f s", entry.step, steps, entry.loss, entry.reconstruction,
                             entry.landmark ?? 0, entry.seconds))
            }
        }
        guard main else { return }
        let weights = dir.appendingPathComponent("emoa2e_\(mc.backbone.rawValue).safetensors")
        try trainer.exportWeights(to: weights, metadata: ["corpus": corpus.manifest.input, "steps": String(trainer.step)])
        if !ship.isEmpty { try trainer.exportWeights(to: URL(fileURLWithPath: ship), metadata: ["steps": String(trainer.step)]) }
        print(String(format: "wrote %@ after %d steps (%.0f s)", weights.path, trainer.step, Date().timeIntervalSince(start)))
    }
}

/// `tgdm train tgdm --perceptual`.
enum PerceptualChoice: String, ExpressibleByArgument {
    case random, lpips
}
