import ArgumentParser
import Evaluation
import Metrics
import FaceModel
import Foundation
import Media
import SyntheticFaces
import TGDMModel
import Torch

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate trained networks, image folders and videos (the paper's metrics); export shippable model files.",
        subcommands: [EvalTGDMCommand.self, EvalFolderCommand.self, EvalVideoCommand.self, EvalExpressionsCommand.self, EvalSharpnessCommand.self, EvalTalkCommand.self, ExportTGDMCommand.self])
}

extension MotionReadout: ExpressibleByArgument {}
extension PairedEvaluator.BackgroundReference: ExpressibleByArgument {}

struct EvalTGDMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tgdm",
        abstract: "Score a TGDM checkpoint on held-out synthetic pairs: PSNR, SSIM, LPIPS, Exp/Angle/Gaze, identity, LMD, FID/KID (Tables 1/2).",
        discussion: """
        Samples each pair's target with fixed seeds (batch b uses seed + b), then measures the generated images (and, \
        with --composite, the pipeline's warp composite) against the real targets with the published networks. Motion is \
        read back with the photometric fitter (--motion photometric) or Face Mesh + LandmarkFitter (--motion landmarks); \
        the real target row is that readout's noise floor. Prints a table; writes the JSON report and a PNG grid.
        """)

    @Option(help: "Trainer checkpoint or exported model (.safetensors).") var checkpoint: String
    @Option(help: "Dataset made by `tgdm dataset synth`.") var data: String = "data/synth64.safetensors"
    @Option(help: "train | test | all") var split: SyntheticPairDataset.Split = .test
    @Option(help: "Number of pairs (spread evenly over the split).") var count: Int = 24
    @OptionGroup var sampling: SamplerOptions
    @Option(help: "Sampling batch size.") var batch: Int = 8
    @Option(help: "Exp/Angle/Gaze readout: landmarks (Face Mesh + LandmarkFitter at 256²) | photometric (the fitter with the known identity and texture) | none.") var motion: MotionReadout = .landmarks
    @Option(help: "Photometric fitter steps per image (--motion photometric); 0 skips Exp/Angle/Gaze with any readout.") var fitIterations: Int = 60
    @Option(help: "LPIPS backbone: vgg16 (the paper's) or alex.") var lpips: String = "vgg16"
    @Flag(help: "Also score the pipeline's output crop: the 3DMM-warped source where valid, the generator where not.") var composite = false
    @Flag(help: "Skip identity, landmark distances and face-found (Face Mesh, dlib).") var noFaceMetrics = false
    @Flag(help: "Skip FID and KID.") var noFid = false
    @Option(help: "Start from the warped source noised to this fraction of the steps (image-to-image; default: the model's).") var strength: Double?
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
            config.motion = fitIterations <= 0 ? .none : motion
            config.motionFit = MotionFitSettings(iterations: max(1, fitIterations))
            config.lpips = lpips
            config.composite = composite
            config.faceMetrics = !noFaceMetrics
            config.setMetrics = !noFid
            config.sourceBaseline = !noBaseline
            if let s = strength, !(s > 0 && s <= 1) { throw ValidationError("--strength must be in (0, 1]") }
            config.startStrength = strength ?? bundle.defaultStartStrength
            config.gridPairs = gridPairs
            let needsModel = config.motion == .photometric || composite
            let evaluator = try TGDMEvaluator(config: config, faceModel: needsModel ? try MorphableModel.loadDefault() : nil)
            print("evaluating \(bundle.config.variant.rawValue)\(bundle.config.sourceWarp ? "+warp" : "")\(bundle.config.identityDim > 0 ? "+z_id" : "") \(bundle.config.imageSize)² on \(Swift.min(count, dataset.count)) of \(dataset.count) \(split.rawValue) pairs, \(sampler.kind.rawValue) \(sampler.steps) steps, η \(sampler.eta)\(config.startStrength.map { ", from the warp at strength \($0)" } ?? "")")
            let (report, samples) = try evaluator.evaluate(bundle: bundle, dataset: dataset,
                                                           sourceCoefficients: { try pairs.sample(at: $0).sourceCoefficients }) { line in
                FileHandle.standardError.write(Data("\r\(line)        ".utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
            let url = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try report.write(to: url)
            let gridURL = URL(fileURLWithPath: grid ?? (output.hasSuffix(".json") ? String(output.dropLast(5)) : output) + ".png")
            if gridPairs > 0 {
                let tiles = samples.gridTiles(maxPairs: gridPairs)
                let labels = (0..<(tiles.count / samples.columns)).flatMap { _ in samples.labels }
                try ImageGrid.save(tiles, columns: samples.columns, to: gridURL, labels: labels)
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
    @Option(name: .shortAndLong, help: "Output .safetensors.") var output: String
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

/// The metric switches of `tgdm eval folder` and `tgdm eval video`.
struct PairedMetricOptions: ParsableArguments {
    @Flag(help: "Skip Exp/Angle/Gaze (Face Mesh + LandmarkFitter per image, the slow part).") var noMotion = false
    @Flag(help: "Skip identity, LMD, background change and flicker.") var noFaceMetrics = false
    @Flag(help: "Skip the emotion classifier.") var noEmotion = false
    @Flag(help: "Skip PSNR, SSIM and LPIPS.") var noPixels = false
    @Flag(help: "Skip FID and KID.") var noFid = false
    @Option(help: "LPIPS backbone: vgg16 (the paper's) or alex.") var lpips: String = "vgg16"
    @Option(help: "Background kept from: auto (the source when it has the output's size, else the reference), source, reference (swaps).") var background: PairedEvaluator.BackgroundReference = .auto
    @Option(help: "The emotion the generated faces should show (angry, disgust, fear, happy, sad, surprise, neutral): emotion accuracy.") var emotion: String?
    @Option(name: .shortAndLong, help: "JSON report.") var output: String?
    @OptionGroup var runtime: RuntimeOptions

    func evaluator() throws -> PairedEvaluator {
        try runtime.apply()
        var o = PairedEvaluator.Options()
        o.motion = !noMotion
        o.faceMetrics = !noFaceMetrics
        o.emotion = !noEmotion
        o.pixelMetrics = !noPixels
        o.setMetrics = !noFid
        o.background = background
        guard let backbone = LPIPS.Backbone(rawValue: lpips) else { throw ValidationError("--lpips must be vgg16 or alex") }
        o.lpips = backbone
        if let emotion {
            guard let e = Emotion.allCases.first(where: { $0.name == emotion.lowercased() }) else {
                throw ValidationError("--emotion must be one of \(Emotion.allCases.map(\.name).joined(separator: ", "))")
            }
            o.emotionLabel = e
        }
        return try PairedEvaluator(options: o)
    }

    func finish(_ report: PairedEvaluationReport) throws {
        FileHandle.standardError.write(Data("\n".utf8))
        if let output { try report.write(to: URL(fileURLWithPath: output)) }
        print(report.markdown())
        print(String(format: "%d frame%@ in %.0f s%@", report.frames, report.frames == 1 ? "" : "s", report.seconds, output.map { "; report \($0)" } ?? ""))
    }
}

func progressLine(_ line: String) { FileHandle.standardError.write(Data("\r\(line)        ".utf8)) }

struct EvalFolderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folder",
        abstract: "Score generated images against references of the same file name: the paper's Table 1/3/4 columns as available.",
        discussion: """
        Pairs DIR/NAME.png (or .jpg) with the reference and source of the same name (--source may also be one image for \
        all). ρ̂ is read from NAME.coeffs.json next to a generated image (e.g. written by --save-coeffs). Prints Markdown \
        tables (mean ± std (n)); -o writes the JSON report with per-image numbers.
        """)

    @Option(help: "Folder of generated images.") var generated: String
    @Option(help: "Folder of reference images (ground truth or driving images), same names.") var reference: String?
    @Option(help: "Identity source: a folder (same names) or one image.") var source: String?
    @OptionGroup var metrics: PairedMetricOptions

    func run() throws {
        try runReportingErrors {
            let evaluator = try metrics.evaluator()
            let report = try evaluator.evaluateFolders(generated: inputURL(generated), reference: reference.map(inputURL),
                                                       source: source.map(inputURL), progress: progressLine)
            try metrics.finish(report)
        }
    }
}

struct EvalVideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Score a generated video frame by frame against a reference video: Table 1/3 columns, flicker and the lip-sync proxy.",
        discussion: """
        Frames are paired by index. The lip-sync proxy (no SyncNet weights are installable) correlates the audio's \
        loudness with the mouth opening; the audio is --audio or the generated video's own track. ρ̂ per frame from \
        --coeffs or NAME.coeffs.json next to the generated video.
        """)

    @Option(help: "Generated video.") var generated: String
    @Option(help: "Reference video (ground truth or the driving video).") var reference: String?
    @Option(help: "Identity source image.") var source: String?
    @Option(help: "Audio for the lip-sync proxy (default: the generated video's audio track).") var audio: String?
    @Option(help: "ρ̂ per frame (coefficients .json/.safetensors, one row per frame).") var coeffs: String?
    @Option(help: "At most this many frames.") var maxFrames: Int?
    @OptionGroup var metrics: PairedMetricOptions

    func run() throws {
        try runReportingErrors {
            let evaluator = try metrics.evaluator()
            let report = try evaluator.evaluateVideos(generated: inputURL(generated), reference: reference.map(inputURL),
                                                      source: source.map(inputURL), audio: audio.map(inputURL),
                                                      coefficients: coeffs.map(inputURL), maxFrames: maxFrames, progress: progressLine)
            try metrics.finish(report)
        }
    }
}
