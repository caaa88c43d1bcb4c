import ArgumentParser
import Foundation
import Media
import Pipelines

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The whole pipeline on the bundled models and Samples/: image, video and audio+emotion driving, and face swapping.")

    @Option(help: "Folder with source.png, driving.png, target.png, driving_video.mp4 (+ .coeffs.json sidecars).") var samples: String = "Samples"
    @Option(help: "What the speech says (spoken by espeak-ng).")
    var text: String = "Hello! I am a talking face made by a diffusion model."
    @Option(help: "Emotion prompt for the talking part.") var emotion: String = "happy"
    @Option(help: "Emotion intensity, 1...3.") var intensity: Double = 2
    @Option(name: .shortAndLong, help: "Output folder.") var output: String = "out/demo"
    @OptionGroup var generator: GeneratorOptions

    func run() throws {
        try runReportingErrors {
            let start = Date()
            let dir = outputURL(output)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let s = URL(fileURLWithPath: samples)
            let p = try generator.makePipeline()
            let a2e = try loadEmoA2E(nil)
            var written: [String] = []
            func out(_ name: String) -> URL { written.append(name); return dir.appendingPathComponent(name) }

            print("[1/4] image-driven reenactment")
            let source = try p.portrait(url: s.appendingPathComponent("source.png"))
            let driver = try p.portrait(url: s.appendingPathComponent("driving.png"))
            try p.driveWithImage(source: source, driver: driver, output: out("reenact.png"), grid: out("reenact_grid.png"))

            print("[2/4] video-driven reenactment (window k = 1)")
            try p.driveWithVideo(source: source, video: s.appendingPathComponent("driving_video.mp4"), output: out("video.mp4"), outputSize: 192)

            print("[3/4] audio + text emotion: \"\(emotion)\" at intensity \(intensity)")
            let wav = out("speech.wav")
            _ = try SpeechSynthesizer.synthesize(text, to: wav)
            try p.driveWithAudio(source: source, audio: wav, a2e: a2e, emotion: emotion, intensity: intensity, output: out("talk.mp4"), outputSize: 192)

            print("[4/4] face swapping")
            let target = try p.portrait(url: s.appendingPathComponent("target.png"))
            try p.swap(source: source, target: target, output: out("swap.png"), grid: out("swap_grid.png"))

            print(String(format: "done in %.0f s; wrote to %@:", Date().timeIntervalSince(start), dir.path))
            for w in written { print("  \(w)") }
        }
    }
}
