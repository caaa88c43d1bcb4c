import ArgumentParser
import Audio2Expression
import Benchmarks
import FaceModel
import FaceAnalysis
import Foundation
import Media
import TGDMModel
import TextEncoder
import Torch

struct SpeakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speak",
        abstract: "Synthesise speech with espeak-ng to a 16 kHz WAV (demo and test audio), printing phoneme timings.")

    @Argument(help: "Text to speak.")
    var text: String

    @Option(help: "espeak-ng voice (e.g. en, en-us, en+f3).")
    var voice: String = "en"

    @Option(help: "Words per minute.")
    var rate: Int = 165

    @Option(help: "Pitch 0-99.")
    var pitch: Int = 50

    @Flag(help: "Print the phoneme segments.")
    var phonemes = false

    @Option(name: .shortAndLong, help: "Output WAV.")
    var output: String = "speech.wav"

    func run() throws {
        try runReportingErrors {
            var o = SpeechSynthesizer.Options()
            o.voice = voice; o.rate = rate; o.pitch = pitch
            let r = try SpeechSynthesizer.synthesize(text, options: o, to: outputURL(output))
            print(String(format: "wrote %@ (%.2f s, %d phonemes)", output, r.duration, r.phonemes.count))
            if phonemes {
                for p in r.phonemes { print(String(format: "%7.3f %7.3f  %@", p.start, p.end, p.phoneme)) }
            }
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures and ratios (build with -c release for meaningful numbers).")

    @Argument(help: "\(BenchmarkSuite.allCases.map(\.rawValue).joined(separator: " | ")) | all")
    var suites: [String] = ["all"]

    @Option(help: "Repetitions per measurement (engine).")
    var iterations: Int = 10

    @Option(help: "Frames per pipeline measurement.")
    var frames: Int = 16

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            let chosen = try suites.flatMap { name -> [BenchmarkSuite] in
                if name == "all" { return BenchmarkSuite.allCases }
                guard let s = BenchmarkSuite(rawValue: name) else {
                    throw ValidationError("unknown suite '\(name)' (\(BenchmarkSuite.allCases.map(\.rawValue).joined(separator: ", ")), all)")
                }
                return [s]
            }
            var options = BenchmarkOptions()
            options.iterations = iterations
            options.pipelineFrames = frames
            for s in chosen {
                print("== \(s.rawValue)")
                try s.run(options: options) { print($0) }
            }
        }
    }
}

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show the engine, devices and the model files found.")

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            print("libtorch threads: \(Torch.numThreads), CUDA devices: \(Torch.cudaDeviceCount), best device: \(Device.best)")
            let resources = ModelResources.default
            for file in [ModelFile.faceModel, .tgdm, .emoA2E, .miniLM] {
                let found = (try? resources.url(for: file).path) ?? "missing (\(file.installedBy))"
                print("\(file): \(found)")
            }
            let model = try MorphableModel.loadDefault()
            print("face model: \(model.vertexCount) vertices, \(model.triangleCount) triangles, expression modes: \(model.expressionNames.prefix(8).joined(separator: ", "))…")
            let tgdm = try TGDMModelBundle.loadDefault()
            let s = tgdm.defaultSampler
            print("TGDM: \(tgdm.config.variant.rawValue) \(tgdm.config.imageSize)², window k = \(tgdm.config.temporalRadius), \(tgdm.model.parameterCount) parameters; default sampler \(s.kind.rawValue) \(s.steps) steps, η \(s.eta)")
        }
    }
}
