import ArgumentParser
import FaceModel
import Foundation
import Media
import SyntheticFaces
import Torch

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset", abstract: "Make and inspect training data.", subcommands: [SynthCommand.self, PreviewCommand.self, SamplesCommand.self, PrepareCommand.self])

    struct SynthCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "synth",
            abstract: "Generate the synthetic face benchmark: identities with detail the 3DMM lacks, under varied motion.")

        @Option(help: "Image size.") var size: Int = 64
        @Option(help: "Number of identities.") var identities: Int = 400
        @Option(help: "Frames per identity.") var frames: Int = 8
        @Option(help: "Held-out identities (the last ones).") var testIdentities: Int = 40
        @Option(help: "Seed.") var seed: UInt64 = 0
        @Option(name: .shortAndLong, help: "Output .safetensors file.") var output: String = "data/synth64.safetensors"

        func run() throws {
            try runReportingErrors {
                Torch.configureThreads()
                let cfg = SyntheticDatasetConfig(size: size, identities: identities, framesPerIdentity: frames,
                                                 testIdentities: testIdentities, seed: seed)
                let bar = ProgressBar("synth", total: identities)
                try SyntheticDataset.generate(cfg, model: .loadDefault(), to: outputURL(output)) { i, _ in bar.update(i) }
                print("wrote \(output): \(identities * frames) frames of \(identities) identities at \(size)²")
            }
        }
    }

    struct PreviewCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "preview", abstract: "Write a PNG grid of dataset pairs: source | I_3d of the target | target.")

        @Argument(help: "Dataset .safetensors file.") var dataset: String
        @Option(help: "Number of pairs.") var count: Int = 8
        @Option(help: "train | test | all") var split: SyntheticPairDataset.Split = .train
        @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "dataset.png"

        func run() throws {
            try runReportingErrors {
                let ds = try SyntheticPairDataset(url: inputURL(dataset), split: split)
                var tiles: [Tensor] = []
                let stride = Swift.max(1, ds.count / Swift.max(count, 1))
                for k in 0..<Swift.min(count, ds.count) {
                    let e = try ds.sample(at: (k * stride + k * 7) % ds.count)
                    tiles += [e.source, e.render, e.target]
                }
                try ImageGrid.save(tiles, columns: 6, to: outputURL(output))
                print("wrote \(output) (\(ds.count) pairs in the \(split.rawValue) split)")
            }
        }
    }
}

struct SamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "samples",
        abstract: "Write demo inputs from held-out synthetic identities: source.png, driving.png, target.png, driving_video.mp4, each with NAME.coeffs.json.")

    @Option(help: "Image size of the written files.") var size: Int = 256
    @Option(help: "Frames of the driving video (25 fps).") var frames: Int = 50
    @Option(help: "Identity seed (use one not in the training set).") var seed: UInt64 = 9001
    @Option(name: .shortAndLong, help: "Output folder.") var output: String = "Samples"

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            let model = try MorphableModel.loadDefault()
            let r = try SyntheticFaceRenderer(model: model, size: size)
            let dir = outputURL(output)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            func person(_ k: Int) throws -> SyntheticIdentity { try SyntheticIdentity.make(index: k, seed: seed, model: model, anchors: r.anchors) }
            func save(_ frame: SyntheticFrame, _ name: String) throws {
                try RGBImage(tensor: frame.image).write(to: dir.appendingPathComponent("\(name).png"))
                try Coefficients(frame.coefficients).save(to: dir.appendingPathComponent("\(name).coeffs.json"))
            }
            var rng = SplitMix64(dataSeed: seed)
            let src = try r.frames(identity: person(0), motions: [.neutral])[0]
            try save(src, "source")
            var drive = MotionSample.random(&rng, jawIndex: r.jawIndex)
            drive.pose[1] = -0.35
            try save(try r.frames(identity: person(1), motions: [drive])[0], "driving")
            try save(try r.frames(identity: person(3), motions: [MotionSample.random(&rng, jawIndex: r.jawIndex)])[0], "target")
            let motions = MotionSample.sequence(frames: frames, seed: seed, model: model)
            let writer = try VideoWriter(url: dir.appendingPathComponent("driving_video.mp4"), width: size, height: size, fps: 25)
            var rows: [Tensor] = []
            let bar = ProgressBar("driving video", total: frames)
            for start in stride(from: 0, to: frames, by: 8) {
                let chunk = try r.frames(identity: person(2), motions: Array(motions[start..<Swift.min(frames, start + 8)]))
                for f in chunk { try writer.write(tensor: f.image); rows.append(f.coefficients) }
                bar.update(Swift.min(frames, start + 8))
            }
            try writer.finish()
            try Coefficients(Tensor.stack(rows)).save(to: dir.appendingPathComponent("driving_video.coeffs.json"))
            print("wrote source, driving, target (PNG + coefficients) and driving_video.mp4 (\(frames) frames) to \(dir.path)")
        }
    }
}
