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
    @OptionGroup var generation: GenerationOptions

    func validate() throws {
        guard (1...3).contains(intensity) else { throw ValidationError("--intensity must be in 1...3") }
    }

    func run() throws {
        try runReportingErrors {
            let start = Date()
            let dir = outputURL(output)
            let s = URL(fileURLWithPath: samples)
            // Inputs first: a missing sample must not leave an empty output folder behind.
            for name in ["source.png", "driving.png", "target.png", "driving_video.mp4"] {
                _ = try inputURL(s.appendingPathComponent(name).path)
            }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let p = try generation.makePipeline()
            let config = generation.configuration(for: p)
            let progress = ProgressReporter().handler
            var written: [String] = []
            func out(_ name: String) -> URL { written.append(name); return dir.appendingPathComponent(name) }

            print("[1/4] image-driven reenactment")
            let source = try p.portrait(inputURL(s.appendingPathComponent("source.png").path), configuration: config)
            let driver = try p.portrait(inputURL(s.appendingPathComponent("driving.png").path), configuration: config)
            try p.run(.reenact(source: source, driver: .image(driver)), configuration: config,
                      into: ImageFileSink(url: out("reenact.png"), grid: out("reenact_grid.png")), progress: progress)

            print("[2/4] video-driven reenactment (window k = 1)")
            let video = VideoDriver(url: try inputURL(s.appendingPathComponent("driving_video.mp4").path))
            try p.run(.reenact(source: source, driver: .video(video)), configuration: config,
                      into: VideoFileSink(url: out("video.mp4"), layout: .sideBySide, height: 192), progress: progress)

            print("[3/4] audio + text emotion: \"\(emotion)\" at intensity \(intensity)")
            let wav = out("speech.wav")
            _ = try SpeechSynthesizer.synthesize(text, to: wav)
            try p.run(.reenact(source: source, driver: .speech(SpeechDriver(audio: wav, emotion: emotion, intensity: intensity))),
                      configuration: config, into: VideoFileSink(url: out("talk.mp4"), layout: .sideBySide, height: 192), progress: progress)

            print("[4/4] face swapping")
            let target = try p.portrait(inputURL(s.appendingPathComponent("target.png").path), configuration: config)
            try p.run(.swap(identity: source, target: target, maskedTexture: false), configuration: config,
                      into: ImageFileSink(url: out("swap.png"), grid: out("swap_grid.png")), progress: progress)

            print(String(format: "done in %.0f s; wrote to %@:", Date().timeIntervalSince(start), dir.path))
            for w in written { print("  \(w)") }
        }
    }
}
