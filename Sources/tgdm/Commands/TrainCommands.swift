import ArgumentParser
import Diffusion
import Foundation
import Media
import Pipelines
import SyntheticFaces
import TGDMModel
import Audio2Expression
import TextEncoder

/// Set by SIGINT/SIGTERM so a training loop can stop after its step and write a checkpoint.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

func installStopHandler() {
    signal(SIGINT) { _ in stopRequested = 1 }
    signal(SIGTERM) { _ in stopRequested = 1 }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the networks of the paper.", subcommands: [TrainTGDMCommand.self, TrainA2ECommand.self])
}

enum ModelPreset: String, ExpressibleByArgument, CaseIterable {
    case tiny32, small64, small128, paper256

    func config(variant: TGDMConfig.Variant) -> TGDMConfig {
        var c: TGDMConfig
        switch self {
        case .tiny32: c = TGDMConfig(imageSize: 32, baseChannels: 32, channelMultipliers: [1, 2, 2], blocksPerStage: 1, texAttFactors: [2, 4])
        case .small64: c = .small64
        case .small128: c = .small128
        case .paper256: c = .paper256
        }
        c.variant = variant
        return c
    }
}

extension TGDMConfig.Variant: ExpressibleByArgument {}
extension SamplerConfiguration.Kind: ExpressibleByArgument {}

struct TrainTGDMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tgdm",
        abstract: "Train the TGDM generator on source/target pairs (10·L_simple + L_rec + L_p, image losses gated at L_simple < 0.05).",
        discussion: "Interrupt with Ctrl-C at any time: the step in progress finishes and a checkpoint is written; run the same command again to resume.")

    @Option(help: "Dataset made by `tgdm dataset synth`.") var data: String = "data/synth64.safetensors"
    @Option(help: "Model size preset (\(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))).") var preset: ModelPreset = .small64
    @Option(help: "texAtt (ours) or a Table 2 ablation: imageConcat, featureConcat, noRender.") var variant: TGDMConfig.Variant = .texAtt
    @Option(help: "reenact (source and target frames of one identity) or swap (Sec. 4.4: reconstruct a frame from its face-masked self).")
    var task: String = "reenact"
    @Option(help: "Total optimisation steps.") var steps: Int = 2000
    @Option(help: "Batch size.") var batch: Int = 8
    @Option(help: "Learning rate (the paper: 2e-4).") var lr: Double = 2e-4
    @Option(help: "EMA decay of the sampling weights.") var emaDecay: Double = 0.999
    @Option(help: "Log every N steps.") var logEvery: Int = 25
    @Option(help: "Checkpoint every N steps.") var checkpointEvery: Int = 250
    @Option(help: "Loss curve and sample grid every N steps (0 = only at the end).") var artifactEvery: Int = 500
    @Option(help: "Preview sampler steps (DDIM).") var previewSteps: Int = 25
    @Option(help: "Stop after this many minutes of wall time (a checkpoint is written).") var maxMinutes: Double?
    @Option(help: "Run folder (checkpoint.safetensors, loss.png, samples-*.png).") var out: String = "runs/tgdm"
    @Flag(help: "Start over even if the run folder has a checkpoint.") var fresh = false
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runReportingErrors {
            runtime.apply()
            installStopHandler()
            guard task == "reenact" || task == "swap" else { throw ValidationError("--task must be reenact or swap") }
            let url = URL(fileURLWithPath: data)
            if task == "swap" {
                try train(SyntheticSwapDataset(url: url, split: .train), size: try SyntheticPairDataset(url: url, split: .train).config.size)
            } else {
                let d = try SyntheticPairDataset(url: url, split: .train)
                try train(d, size: d.config.size)
            }
        }
    }

    func train<D: PairDataset>(_ dataset: D, size: Int) throws {
        var modelConfig = preset.config(variant: variant)
        guard modelConfig.imageSize == size else {
            throw ValidationError("preset \(preset.rawValue) is \(modelConfig.imageSize)² but the dataset is \(size)²")
        }
        modelConfig.coefficientDim = 261
        var tc = TGDMTrainingConfig()
        tc.batchSize = batch; tc.learningRate = lr; tc.emaDecay = emaDecay; tc.seed = runtime.seed
        tc.logEvery = logEvery; tc.checkpointEvery = checkpointEvery; tc.artifactEvery = artifactEvery
        tc.preview = SamplerConfiguration(kind: .ddim, steps: previewSteps, seed: 0)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let model = try TGDMUNet(config: modelConfig)
        let trainer = try TGDMTrainer(model: model, dataset: dataset, config: tc, schedule: try NoiseSchedule(), outputDirectory: dir)
        let ckpt = dir.appendingPathComponent("checkpoint.safetensors")
        if !fresh, FileManager.default.fileExists(atPath: ckpt.path) {
            try trainer.loadCheckpoint(from: ckpt)
            print("resuming \(ckpt.path) at step \(trainer.step)")
        }
        print("TGDM \(task) \(variant.rawValue) \(modelConfig.imageSize)², \(model.parameterCount) parameters, \(dataset.count) training pairs, batch \(batch)")
        let deadline = maxMinutes.map { Date().addingTimeInterval($0 * 60) }
        try trainer.train(until: steps) {
            if stopRequested != 0 { return false }
            if let d = deadline, Date() > d { return false }
            return true
        }
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
    @Option(help: "train | test | all") var split: String = "test"
    @Option(help: "Number of pairs.") var count: Int = 8
    @Option(help: "First pair index.") var start: Int = 0
    @Option(help: "Sampler: ddim, ddpm or dpm-solver++.") var sampler: SamplerConfiguration.Kind = .ddim
    @Option(help: "Sampling steps.") var steps: Int = 50
    @Option(help: "DDIM η (1 = stochastic, best for the bundled model; 0 = deterministic).") var eta: Double = 1
    @Flag(help: "Show the TexAtt attention of the centre pixel of the 1/16-scale features (paper Fig. 7) as an extra column.")
    var attention = false
    @OptionGroup var runtime: RuntimeOptions
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "samples.png"

    func run() throws {
        try runReportingErrors {
            runtime.apply()
            guard let sp = SyntheticPairDataset.Split(rawValue: split) else { throw ValidationError("split must be train, test or all") }
            let ds = try SyntheticPairDataset(url: URL(fileURLWithPath: data), split: sp)
            guard count > 0, start >= 0, start < ds.count else { throw ValidationError("pairs \(start)..<\(start + count) outside 0..<\(ds.count)") }
            let n = Swift.min(count, ds.count - start)
            // Spread the pairs over the split so several identities appear.
            let stride = Swift.max(1, (ds.count - start) / n)
            let batch = try ds.batch(indices: (0..<n).map { start + $0 * stride })
            let model = try TGDMCheckpoint.loadModel(from: URL(fileURLWithPath: checkpoint))
            let s = TGDMSampler(model: model, schedule: try NoiseSchedule())
            let bar = ProgressBar("sample", total: steps)
            let config = SamplerConfiguration(kind: sampler, steps: steps, eta: eta, seed: runtime.seed)
            let out = try s.generate(source: batch.source, render: batch.render, coefficients: batch.coefficients, config: config) { i, _ in
                bar.update(i); return stopRequested == 0
            }
            var tiles: [Tensor] = [], labels: [String] = []
            for i in 0..<n {
                tiles += [try batch.source.select(0, i), try batch.render.select(0, i), try out.select(0, i), try batch.target.select(0, i)]
                labels += ["source", "I_3d", "TGDM", "target"]
            }
            var columns = 4
            if attention {
                columns = 5
                let maps = try s.attentionMaps(noisy: out, timestep: 100, source: batch.source, render: batch.render, coefficients: batch.coefficients)
                guard let key = maps.keys.sorted().first(where: { $0.contains("middle") }) ?? maps.keys.sorted().last, let m = maps[key] else {
                    throw ValidationError("this model has no TexAtt attention (variant \(model.config.variant.rawValue))")
                }
                // m: B×(HW)×(HW) over the source positions; take the query at the centre of the feature map.
                let hw = m.size(-1), side = Int(Double(hw).squareRoot())
                var withMaps: [Tensor] = [], withLabels: [String] = []
                for i in 0..<n {
                    let row = try m.select(0, i).reshape([hw, hw]).select(0, (side / 2) * side + side / 2).reshape([1, 1, side, side])
                    let norm = try row / (row.max().item() + 1e-12)
                    let big = try F.interpolate(norm, size: (ds.config.size, ds.config.size)).squeeze(0).expand([3, ds.config.size, ds.config.size])
                    let overlay = try batch.source.select(0, i) * 0.5 + big * 1.0 - 0.5
                    withMaps += Array(tiles[(4 * i)..<(4 * i + 4)]) + [overlay]
                    withLabels += Array(labels[(4 * i)..<(4 * i + 4)]) + ["attention"]
                }
                tiles = withMaps; labels = withLabels
            }
            try ImageGrid.save(tiles, columns: columns, to: outputURL(output), labels: labels)
            print("wrote \(output) (\(n) \(split) pairs, \(sampler.rawValue) \(steps) steps)")
        }
    }
}

struct TrainA2ECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "a2e",
        abstract: "Train EmoA2E on synthetic speech (espeak-ng) with viseme and emotion targets; compares Transformer, GRU and MLP at one budget.")

    @Option(help: "Steps per backbone.") var steps: Int = 2000
    @Option(help: "Batch size.") var batch: Int = 16
    @Option(help: "Backbones to train, comma separated (transformer,gru,mlp).") var backbones: String = "transformer,gru,mlp"
    @Option(help: "Run folder (checkpoints, report.json).") var out: String = "runs/emoa2e"
    @Option(help: "Where to write the transformer's weights for inference (empty: don't).") var ship: String = ""
    @Option(help: "Seed.") var seed: UInt64 = 2024

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            var c = EmoA2ERecipeConfig()
            c.training.steps = steps
            c.training.batchSize = batch
            c.backbones = try backbones.split(separator: ",").map { name in
                guard let b = EmoA2EBackbone(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("unknown backbone '\(name)' (transformer, gru, mlp)")
                }
                return b
            }
            c.outputDirectory = out
            c.shippedWeightsPath = ship.isEmpty ? nil : ship
            c.seed = seed
            let report = try EmoA2ERecipe.run(config: c, textEncoder: MiniLMEmotionEncoder.installed(), faceModel: .loadDefault())
            for b in report.backbones {
                print(String(format: "%@: held-out mouth LMD %.3f (unseen voice %.3f), %d steps in %.0f s",
                             b.backbone.rawValue, b.heldOutLMD, b.heldOutLMDUnseenVoice, b.steps, b.trainingSeconds))
            }
        }
    }
}
