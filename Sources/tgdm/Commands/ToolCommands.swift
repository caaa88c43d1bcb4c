import ArgumentParser
import FaceModel
import FaceAnalysis
import Foundation
import Media

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

/// The real photo and its committed variants (rotated, small face, two faces), when run from the checkout.
func realPhotos() -> [URL] {
    let variants = ["rotated", "small", "two_faces"].map { "Tests/FaceAnalysisTests/Fixtures/mediapipe/\($0).png" }
    return (["Samples/astronaut.png"] + variants).filter { FileManager.default.fileExists(atPath: $0) }.map { URL(fileURLWithPath: $0) }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures and ratios (build with -c release for meaningful numbers).")

    @Argument(help: "engine | media | face | analysis | fitting | all")
    var suite: String = "all"

    @Option(help: "Iterations per measurement (engine).")
    var iterations: Int = 10

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            let log: (String) -> Void = { print($0) }
            let suites = suite == "all" ? ["engine", "media", "face"] : [suite]
            for s in suites {
                print("== \(s)")
                switch s {
                case "engine": try EngineBenchmark.run(iterations: iterations, log: log)
                // media
                case "face": try FaceBenchmark.run(log: log)
                case "analysis": try AnalysisBenchmark.run(imageFiles: realPhotos(), log: log)
                case "fitting":
                    try FittingBenchmark.run(log: log)
                    try FittingBenchmark.runPhotos(realPhotos(), log: log)
                default: throw ValidationError("unknown suite '\(s)' (engine, media, face, analysis, fitting, all)")
                }
            }
        }
    }
}

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show the engine, devices and bundled model files.")

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            print("libtorch threads: \(Torch.numThreads), CUDA devices: \(Torch.cudaDeviceCount), best device: \(Device.best)")
            let model = try MorphableModel.loadDefault()
            print("face model: \(try MorphableModel.defaultModelURL().path)")
            print("  \(model.vertexCount) vertices, \(model.triangleCount) triangles, expression modes: \(model.expressionNames.prefix(8).joined(separator: ", "))…")
        }
    }
}
