import ArgumentParser
import FaceModel
import Foundation
import Media
import Pipelines
import SyntheticFaces

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset", abstract: "Make and inspect training data.", subcommands: [SynthCommand.self, PreviewCommand.self])

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
        @Option(help: "train | test | all") var split: String = "train"
        @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "dataset.png"

        func run() throws {
            try runReportingErrors {
                guard let sp = SyntheticPairDataset.Split(rawValue: split) else { throw ValidationError("split must be train, test or all") }
                let ds = try SyntheticPairDataset(url: URL(fileURLWithPath: dataset), split: sp)
                var tiles: [Tensor] = []
                let stride = Swift.max(1, ds.count / Swift.max(count, 1))
                for k in 0..<Swift.min(count, ds.count) {
                    let e = try ds.example(at: (k * stride + k * 7) % ds.count)
                    tiles += [e.source, e.render, e.target]
                }
                try ImageGrid.save(tiles, columns: 6, to: outputURL(output))
                print("wrote \(output) (\(ds.count) pairs in the \(split) split)")
            }
        }
    }
}
