import ArgumentParser
import FaceModel
import Foundation
import Media
import SyntheticFaces
import TGDMModel
import Torch

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate trained networks and export shippable model files.",
        subcommands: [EvalTGDMCommand.self, ExportTGDMCommand.self])
}

struct EvalTGDMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tgdm",
        abstract: "Score a TGDM checkpoint on held-out pairs: PSNR, LPIPS-style distance, Exp and Angle errors (Table 2).",
        discussion: """
        Samples each pair's target with fixed seeds (batch b uses seed + b), then fits expression and pose back from \
        the generated and the real target images with CoefficientFitter. Prints a table; writes the JSON report and a \
        PNG grid (source | I_3d | generated | target).
        """)

    @Option(help: "Trainer checkpoint or exported model (.safetensors).") var checkpoint: String
    @Option(help: "Dataset made by `tgdm dataset synth`.") var data: String = "data/synth64.safetensors"
    @Option(help: "train | test | all") var split: SyntheticPairDataset.Split = .test
    @Option(help: "Number of pairs (spread evenly over the split).") var count: Int = 24
    @OptionGroup var sampling: SamplerOptions
    @Option(help: "Sampling batch size.") var batch: Int = 8
    @Option(help: "CoefficientFitter steps per image (0 skips Exp/Angle).") var fitIterations: Int = 60
    @Flag(help: "Use the raw weights instead of the EMA.") var raw = false
    @Flag(help: "Do not score the copy-the-source baseline.") var noBaseline = false
    @Option(help: "Pairs in the PNG grid.") var gridPairs: Int = 8
    @Option(help: "PNG grid (default: the report path with .png).") var grid: String?
    @Option(name: .shortAndLong, help: "JSON report.") var output: String = "report.json"
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runReportingErrors {
            try runtime.apply()
            let bundle = try TGDMModelBundle.load(from: inputURL(checkpoint), weights: raw ? .raw : .ema)
            let pairs = try SyntheticPairDataset(url: inputURL(data), split: split)
            let dataset = try SyntheticTrainingPairs(source: pairs, model: bundle.config, seed: runtime.seed, dataset: inputURL(data))
            var config = TGDMEvaluationConfig()
            config.count = count
            var sampler = sampling.configuration(default: bundle.defaultSampler) ?? bundle.defaultSampler
            sampler.seed = runtime.seed
            config.sampler = sampler
            config.batchSize = batch
            config.motionFit = fitIterations > 0 ? MotionFitSettings(iterations: fitIterations) : nil
            config.sourceBaseline = !noBaseline
            config.gridPairs = gridPairs
            let evaluator = try TGDMEvaluator(config: config, faceModel: fitIterations > 0 ? try MorphableModel.loadDefault() : nil)
            print("evaluating \(bundle.config.variant.rawValue) \(bundle.config.imageSize)² on \(Swift.min(count, dataset.count)) of \(dataset.count) \(split.rawValue) pairs, \(sampler.kind.rawValue) \(sampler.steps) steps, η \(sampler.eta)")
            let (report, samples) = try evaluator.evaluate(bundle: bundle, dataset: dataset) { line in
                FileHandle.standardError.write(Data("\r\(line)   ".utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
            let url = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try report.write(to: url)
            let gridURL = URL(fileURLWithPath: grid ?? (output.hasSuffix(".json") ? String(output.dropLast(5)) : output) + ".png")
            if gridPairs > 0 {
                let tiles = samples.gridTiles(maxPairs: gridPairs)
                let labels = (0..<(tiles.count / 4)).flatMap { _ in ["source", "I_3d", "generated", "target"] }
                try ImageGrid.save(tiles, columns: 4, to: gridURL, labels: labels)
            }
            print(report.table())
            for note in report.notes { print("- \(note)") }
            print(String(format: "%.0f s; report %@%@", report.seconds, output, gridPairs > 0 ? ", grid \(gridURL.path)" : ""))
        }
    }
}

struct ExportTGDMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a small model file from a trainer checkpoint: EMA weights (float32) and metadata only.")

    @Option(help: "Trainer checkpoint.") var checkpoint: String
    @Option(name: .shortAndLong, help: "Output .safetensors.") var output: String = "Models/tgdm/tgdm_synth64.safetensors"
    @Option(help: "A note stored in the metadata (e.g. what it was trained on).") var note: String?
    @Option(help: "Default sampler steps stored in the file (default: the standard sampler's).") var steps: Int?
    @Option(help: "Default image-to-image start strength stored in the file (the model is then sampled from the warped source).")
    var startStrength: Double?

    func run() throws {
        try runReportingErrors {
            if let s = startStrength, !(s > 0 && s <= 1) { throw ValidationError("--start-strength must be in (0, 1]") }
            if let n = steps, !(1...1000).contains(n) { throw ValidationError("--steps must be in 1...1000") }
            var notes = note.map { ["note": $0] } ?? [:]
            if let s = startStrength { notes["default_start_strength"] = String(s) }
            let bytes = try TGDMModelExport.writeEMAOnly(checkpoint: inputURL(checkpoint), to: URL(fileURLWithPath: output), notes: notes,
                                                        steps: steps)
            let bundle = try TGDMModelBundle.load(from: URL(fileURLWithPath: output))
            print(String(format: "wrote %@ (%.2f MB, %d parameters; loads with TGDMModelBundle.load)", output, Double(bytes) / 1e6, bundle.model.parameterCount))
        }
    }
}
