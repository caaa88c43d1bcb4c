import ArgumentParser
import Audio2Expression
import Diffusion
import FaceModel
import Foundation
import Media
import Pipelines
import TextEncoder

/// Options of every command that runs the TGDM generator.
struct GeneratorOptions: ParsableArguments {
    @Option(help: "TGDM model (default: the bundled Models/\(ModelFiles.tgdm)).") var model: String?
    @Option(help: "Sampler: ddim, ddpm or dpm-solver++.") var sampler: SamplerConfiguration.Kind = .ddim
    @Option(help: "Sampling steps (ddpm: up to 1000, the paper's setting).") var steps: Int = 50
    @Option(help: "DDIM η (1 = stochastic, best for the bundled model; 0 = deterministic).") var eta: Double = 1
    @Option(help: "Frames denoised together.") var batch: Int = 8
    @OptionGroup var runtime: RuntimeOptions

    func makePipeline() throws -> TalkingFacePipeline {
        runtime.apply()
        let url = try model.map { URL(fileURLWithPath: $0) } ?? ModelFiles.locate(ModelFiles.tgdm)
        var o = GenerationOptions()
        o.sampler = SamplerConfiguration(kind: sampler, steps: steps, eta: eta, seed: runtime.seed)
        o.batchSize = max(1, batch)
        let p = try TalkingFacePipeline(checkpoint: url, renderer: FaceRenderer.makeDefault(), options: o)
        var bars: [String: ProgressBar] = [:]
        p.progress = { stage, done, total in
            if stage.hasPrefix("denoise") { return stopRequested == 0 }   // per-step: only honour Ctrl-C
            let bar = bars[stage] ?? ProgressBar(stage, total: total)
            bars[stage] = bar
            bar.update(done)
            if done >= total { bars[stage] = nil }   // the next job with this stage gets a fresh bar
            return stopRequested == 0
        }
        installStopHandler()
        return p
    }
}

struct ReenactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reenact",
        abstract: "Image-driven reenactment: the source's appearance with the driving image's expression, pose and gaze.",
        discussion: "Coefficients of each image come from a sidecar NAME.coeffs.json next to it when present, else from fitting the face model.")

    @Option(help: "Source portrait (PNG/JPEG).") var source: String
    @Option(help: "Driving image.") var driving: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "reenact.png"
    @Option(help: "Also write a comparison grid (source | driver | I_3d | result).") var grid: String?
    @OptionGroup var generator: GeneratorOptions

    func run() throws {
        try runReportingErrors {
            let p = try generator.makePipeline()
            let s = try p.portrait(url: URL(fileURLWithPath: source))
            let d = try p.portrait(url: URL(fileURLWithPath: driving))
            try p.driveWithImage(source: s, driver: d, output: outputURL(output), grid: grid.map(outputURL))
            print("wrote \(output) (source ρ: \(s.coefficientSource); driver ρ: \(d.coefficientSource))")
        }
    }
}

struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video", abstract: "Video-driven reenactment (window k = 1) to an MP4.")

    @Option(help: "Source portrait.") var source: String
    @Option(help: "Driving video.") var driving: String
    @Option(help: "Coefficients of the driving frames (JSON/safetensors, one row per frame); default: track the video.") var drivingCoeffs: String?
    @Option(help: "At most this many frames.") var maxFrames: Int?
    @Option(help: "Panel size in the MP4 (upscaled from the model size).") var outSize: Int = 256
    @Flag(help: "Only the result, not source | driver | I_3d | result.") var resultOnly = false
    @Option(name: .shortAndLong, help: "Output MP4.") var output: String = "video.mp4"
    @OptionGroup var generator: GeneratorOptions

    func run() throws {
        try runReportingErrors {
            let p = try generator.makePipeline()
            let s = try p.portrait(url: URL(fileURLWithPath: source))
            let n = try p.driveWithVideo(source: s, video: URL(fileURLWithPath: driving), coefficients: drivingCoeffs.map { URL(fileURLWithPath: $0) },
                                         output: outputURL(output), sideBySide: !resultOnly, maxFrames: maxFrames, outputSize: outSize)
            print("wrote \(output) (\(n) frames)")
        }
    }
}

/// Loads the bundled EmoA2E with the text encoder it was trained with.
func loadEmoA2E(_ path: String?) throws -> EmoA2E {
    let url = try path.map { URL(fileURLWithPath: $0) } ?? ModelFiles.locate(ModelFiles.emoA2E)
    // The config in the file says whether the model reads emotion prompts (and so needs the text encoder).
    guard let json = try Safetensors.load(url).metadata["emoa2e.config"] else {
        throw ValidationError("\(url.lastPathComponent) is not an EmoA2E weights file")
    }
    let config = try JSONDecoder().decode(EmoA2EConfig.self, from: Data(json.utf8))
    let encoder: EmotionTextEncoder? = config.emotionConditioned ? try MiniLMEmotionEncoder.installed() : nil
    return try EmoA2E.load(weights: url, textEncoder: encoder)
}

struct TalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "talk",
        abstract: "Audio-driven talking face with a text emotion prompt and a continuous intensity, to an MP4 with the audio muxed in.")

    @Option(help: "Source portrait.") var source: String
    @Option(help: "Speech audio (any format ffmpeg reads).") var audio: String?
    @Option(help: "Or text to speak with espeak-ng.") var text: String?
    @Option(help: "Emotion prompt: a word, a phrase, or styles joined with '+' (e.g. \"happy+surprised\").") var emotion: String = "neutral"
    @Option(help: "Intensity η, continuous in 1...3.") var intensity: Double = 1
    @Option(help: "EmoA2E weights (default: the bundled model).") var a2e: String?
    @Option(help: "Head sway amplitude (0 = still).") var headMotion: Double = 1
    @Option(help: "Panel size in the MP4.") var outSize: Int = 256
    @Flag(help: "Only the result, not source | I_3d | result.") var resultOnly = false
    @Option(help: "Also save the predicted coefficients (JSON).") var saveCoeffs: String?
    @Option(name: .shortAndLong, help: "Output MP4.") var output: String = "talk.mp4"
    @OptionGroup var generator: GeneratorOptions

    func run() throws {
        try runReportingErrors {
            guard (1...3).contains(intensity) else { throw ValidationError("--intensity must be in 1...3") }
            let audioURL = try speechInput(audio: audio, text: text, output: output)
            let p = try generator.makePipeline()
            let model = try loadEmoA2E(a2e)
            let s = try p.portrait(url: URL(fileURLWithPath: source))
            let motion = try p.driveWithAudio(source: s, audio: audioURL, a2e: model, emotion: emotion, intensity: intensity,
                                              output: outputURL(output), headMotion: headMotion, sideBySide: !resultOnly, outputSize: outSize)
            if let c = saveCoeffs { try motion.save(to: outputURL(c)) }
            print("wrote \(output) (\(motion.batch) frames, emotion \"\(emotion)\", intensity \(intensity))")
        }
    }
}

/// The audio to use: a given file, or `text` spoken by espeak-ng next to the output.
func speechInput(audio: String?, text: String?, output: String) throws -> URL {
    if let a = audio { return URL(fileURLWithPath: a) }
    guard let t = text, !t.isEmpty else { throw ValidationError("give --audio or --text") }
    let wav = outputURL(output).deletingPathExtension().appendingPathExtension("wav")
    _ = try SpeechSynthesizer.synthesize(t, to: wav)
    return wav
}

struct A2ECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "a2e",
        abstract: "EmoA2E only: speech + emotion prompt + intensity → expression coefficients (JSON), with an optional rendered preview MP4.")

    @Option(help: "Speech audio.") var audio: String?
    @Option(help: "Or text to speak with espeak-ng.") var text: String?
    @Option(help: "Emotion prompt.") var emotion: String = "neutral"
    @Option(help: "Intensity η in 1...3.") var intensity: Double = 1
    @Option(help: "Identity coefficients (a coefficients file; default: the mean face).") var identity: String?
    @Option(help: "EmoA2E weights.") var weights: String?
    @Option(help: "Rendered preview MP4 (the 3DMM face, audio muxed in).") var preview: String?
    @Option(name: .shortAndLong, help: "Output coefficients (.json or .safetensors).") var output: String = "coeffs.json"

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            guard (1...3).contains(intensity) else { throw ValidationError("--intensity must be in 1...3") }
            let audioURL = try speechInput(audio: audio, text: text, output: output)
            let model = try loadEmoA2E(weights)
            var base = try Coefficients(illumination: Tensor(SphericalHarmonics.frontalLight()))
            if let i = identity { base = try Coefficients.load(from: URL(fileURLWithPath: i)).frame(0) }
            let clips = try MFCCClips(rowsPerClip: model.config.mfccRowsPerFrame, fps: 25).clips(audio: audioURL)
            let beta = try model.predict(mfccClips: clips, identity: base.identity,
                                         emotion: model.config.emotionConditioned ? emotion : nil, intensity: intensity)
            let n = beta.size(0)
            let c = try Coefficients(base.tensor.expand([n, Coefficients.count]).contiguous()).replacing(.expression, with: beta)
            try c.save(to: outputURL(output))
            print("wrote \(output) (\(n) frames at 25 fps)")
            if let pv = preview {
                let renderer = try FaceRenderer.makeDefault()
                let writer = try VideoWriter(url: outputURL(pv), width: 256, height: 256, fps: 25, audio: audioURL)
                let bar = ProgressBar("render", total: n)
                for i in 0..<n {
                    let img = try Torch.noGrad { try renderer.render(c.frame(i), width: 256, height: 256).image }
                    try writer.write(tensor: img.squeeze(0))
                    bar.update(i + 1)
                }
                try writer.finish()
                print("wrote \(pv)")
            }
        }
    }
}

struct SwapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap", abstract: "Face swapping: the source's identity (face shape) on the target, keeping everything else of the target.")

    @Option(help: "Identity source image.") var source: String
    @Option(help: "Target image.") var target: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "swap.png"
    @Option(help: "Also write a comparison grid.") var grid: String?
    @Flag(help: "The --model was trained with `--task swap` (its texture input is the face-masked target).") var swapModel = false
    @OptionGroup var generator: GeneratorOptions

    func run() throws {
        try runReportingErrors {
            let p = try generator.makePipeline()
            let s = try p.portrait(url: URL(fileURLWithPath: source))
            let t = try p.portrait(url: URL(fileURLWithPath: target))
            try p.swap(source: s, target: t, output: outputURL(output), grid: grid.map(outputURL), maskedTexture: swapModel)
            print("wrote \(output)")
        }
    }
}
