import ArgumentParser
import Diffusion
import Foundation
import Media
import Pipelines
import SyntheticFaces
import TGDMModel

/// Set by SIGINT/SIGTERM so a training loop can stop after its step and write a checkpoint.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

func installStopHandler() {
    signal(SIGINT) { _ in stopRequested = 1 }
    signal(SIGTERM) { _ in stopRequested = 1 }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the networks of the paper.", subcommands: [TrainTGDMCommand.self])
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
            let dataset = try SyntheticPairDataset(url: URL(fileURLWithPath: data), split: .train)
            var modelConfig = preset.config(variant: variant)
            guard modelConfig.imageSize == dataset.config.size else {
                throw ValidationError("preset \(preset.rawValue) is \(modelConfig.imageSize)² but the dataset is \(dataset.config.size)²")
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
            print("TGDM \(variant.rawValue) \(modelConfig.imageSize)², \(model.parameterCount) parameters, \(dataset.count) training pairs, batch \(batch)")
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
}
