import ArgumentParser
import Foundation
import Media
import Pipelines

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The whole pipeline on the bundled models and Samples/: a real photo driven by an image, a video and speech with an emotion, and a face swap between two real photos.")

    @Option(help: "Folder with astronaut.png and grace_hopper.jpg (real photos), driving.png and driving_video.mp4 (+ .coeffs.json sidecars).")
    var samples: String = "Samples"
    @Option(help: "The portrait to animate (a file in the samples folder or any path).") var source: String = "astronaut.png"
    @Option(help: "The identity put on the source's face in the swap.") var identity: String = "grace_hopper.jpg"
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

            func sample(_ name: String) throws -> URL {
                try inputURL(FileManager.default.fileExists(atPath: name) ? name : s.appendingPathComponent(name).path)
            }
            let source = try p.portrait(sample(self.source), configuration: config)
            print("source \(source.name): ρ \(source.coefficientSource)")
            print("[1/4] image-driven reenactment")
            let driver = try p.portrait(sample("driving.png"), configuration: config)
            try p.run(.reenact(source: source, driver: .image(driver)), configuration: config,
                      into: ImageFileSink(url: out("reenact.png"), grid: out("reenact_grid.png")), progress: progress)

            print("[2/4] video-driven reenactment (window k = 1)")
            let video = VideoDriver(url: try sample("driving_video.mp4"))
            try p.run(.reenact(source: source, driver: .video(video)), configuration: config,
                      into: TeeSink([VideoFileSink(url: out("video.mp4")),
                                     VideoFileSink(url: out("video_side_by_side.mp4"), layout: .sideBySide, height: 256)]), progress: progress)

            print("[3/4] audio + text emotion: \"\(emotion)\" at intensity \(intensity)")
            let wav = out("speech.wav")
            _ = try SpeechSynthesizer.synthesize(text, to: wav)
            try p.run(.reenact(source: source, driver: .speech(SpeechDriver(audio: wav, emotion: emotion, intensity: intensity))),
                      configuration: config, into: TeeSink([VideoFileSink(url: out("talk.mp4")),
                                                            VideoFileSink(url: out("talk_side_by_side.mp4"), layout: .sideBySide, height: 256)]),
                      progress: progress)

            print("[4/4] face swapping: \(identity) onto \(source.name)")
            let identityPortrait = try p.portrait(sample(identity), configuration: config)
            try p.run(.swap(identity: identityPortrait, target: source, maskedTexture: false), configuration: config,
                      into: ImageFileSink(url: out("swap.png"), grid: out("swap_grid.png")), progress: progress)

            print(String(format: "done in %.0f s; wrote to %@:", Date().timeIntervalSince(start), dir.path))
            for w in written { print("  \(w)") }
        }
    }
}
