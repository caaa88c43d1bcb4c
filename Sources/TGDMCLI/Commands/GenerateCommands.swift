import ArgumentParser
import Audio2Expression
import FaceModel
import Foundation
import Media
import Pipelines
import Torch

struct ReenactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reenact",
        abstract: "Image-driven reenactment: the source's appearance with the driving image's expression, pose and gaze.",
        discussion: "Coefficients of each image come from a sidecar NAME.coeffs.json next to it when present, else from the face found in it.")

    @Option(help: "Source portrait (PNG/JPEG).") var source: String
    @Option(help: "Driving image.") var driving: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "reenact.png"
    @Option(help: "Also write a comparison grid (source | driver | I_3d | TGDM | output).") var grid: String?
    @Option(help: "Also save ρ̂, the coefficients the output was generated from (JSON; NAME.coeffs.json is what `tgdm eval folder` reads).") var saveCoeffs: String?
    @OptionGroup var generation: GenerationOptions

    func run() throws {
        try runImageJob(generation: generation, source: source, other: driving, output: output, grid: grid, saveCoeffs: saveCoeffs) { p, s, d in
            (.reenact(source: s, driver: .image(d)), "source ρ: \(s.coefficientSource); driver ρ: \(d.coefficientSource)")
        }
    }
}

struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video", abstract: "Video-driven reenactment (window k = 1) to an MP4 (the driving video's sound muxed in).")

    @Option(help: "Source portrait.") var source: String
    @Option(help: "Driving video.") var driving: String
    @Option(help: "Coefficients of the driving frames (JSON/safetensors, one row per frame); default: a sidecar or tracking.") var drivingCoeffs: String?
    @Option(help: "At most this many frames.") var maxFrames: Int?
    @Flag(help: "Write source | driver | I_3d | result side by side instead of the result alone.") var sideBySide = false
    @Option(help: "Also save ρ̂ per frame (JSON).") var saveCoeffs: String?
    @Option(name: .shortAndLong, help: "Output MP4.") var output: String = "video.mp4"
    @OptionGroup var generation: GenerationOptions

    func run() throws {
        try runReportingErrors {
            try requireExtension(output, ["mp4"], "the output is an MP4")
            let p = try generation.makePipeline()
            let config = generation.configuration(for: p)
            let s = try p.portrait(inputURL(source), configuration: config, faceIndex: generation.faceIndex)
            let driver = VideoDriver(url: try inputURL(driving), coefficients: try drivingCoeffs.map(inputURL), maxFrames: maxFrames)
            let summary = try p.run(.reenact(source: s, driver: .video(driver)), configuration: config,
                                    into: VideoFileSink(url: outputURL(output), layout: sideBySide ? .sideBySide : .result,
                                                        height: sideBySide ? generation.size ?? 256 : nil),
                                    progress: ProgressReporter().handler)
            if let c = saveCoeffs { try summary.coefficients.save(to: outputURL(c)) }
            print("wrote \(output) (\(summary.frames) frames; driving motion: \(summary.motionOrigin))")
        }
    }
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
    @Option(help: "Head motion from the speech's prosody: nods on stressed syllables, the voice's rise and fall, a seeded sway (0 = still).") var headMotion: Double = 1
    @Option(help: "Spontaneous blinks a minute (0 = none; 17 is the resting rate, 26 in conversation).") var blinkRate: Double = BlinkModel.restingRate
    @Option(help: "The largest glance away from the source's gaze, degrees (0 = none).") var gazeShift: Double = GazeShifts.defaultDegrees
    @Flag(help: "Write source | I_3d | result side by side instead of the result alone.") var sideBySide = false
    @Option(help: "Also save the generated coefficients ρ̂ (JSON).") var saveCoeffs: String?
    @Option(name: .shortAndLong, help: "Output MP4.") var output: String = "talk.mp4"
    @OptionGroup var generation: GenerationOptions

    func validate() throws {
        guard (1...3).contains(intensity) else { throw ValidationError("--intensity must be in 1...3") }
        guard headMotion.isFinite, (0...10).contains(headMotion) else { throw ValidationError("--head-motion must be in 0...10") }
        guard blinkRate.isFinite, BlinkModel.rateRange.contains(blinkRate) else {
            throw ValidationError("--blink-rate must be in \(BlinkModel.rateRange.lowerBound)...\(BlinkModel.rateRange.upperBound)")
        }
        guard gazeShift.isFinite, GazeShifts.degreeRange.contains(gazeShift) else {
            throw ValidationError("--gaze-shift must be in \(GazeShifts.degreeRange.lowerBound)...\(GazeShifts.degreeRange.upperBound)")
        }
        guard (audio == nil) != (text == nil) else { throw ValidationError("give either --audio or --text") }
    }

    func run() throws {
        try runReportingErrors { try requireExtension(output, ["mp4"], "the output is an MP4"); try withSpeech(audio: audio, text: text) { speech in
            let p = try generation.makePipeline()
            if let a2e { p.setEmoA2E(try EmoA2E.load(weights: inputURL(a2e))) }
            let config = generation.configuration(for: p)
            let s = try p.portrait(inputURL(source), configuration: config, faceIndex: generation.faceIndex)
            let driver = SpeechDriver(audio: speech, emotion: emotion, intensity: intensity, headMotion: headMotion, blinkRate: blinkRate,
                                      gazeShift: gazeShift)
            let summary = try p.run(.reenact(source: s, driver: .speech(driver)), configuration: config,
                                    into: VideoFileSink(url: outputURL(output), layout: sideBySide ? .sideBySide : .result,
                                                        height: sideBySide ? generation.size ?? 256 : nil),
                                    progress: ProgressReporter().handler)
            if let c = saveCoeffs { try summary.coefficients.save(to: outputURL(c)) }
            print("wrote \(output) (\(summary.frames) frames, emotion \"\(emotion)\", intensity \(intensity))")
        } }
    }
}

/// The body of the single-image commands (reenact, swap): the source portrait (its `--face-index` face), the
/// other picture, one job into a PNG (and grid), ρ̂ saved on request.
func runImageJob(generation: GenerationOptions, source: String, other: String, output: String, grid: String?, saveCoeffs: String?,
                 job: (TalkingFacePipeline, Portrait, Portrait) throws -> (GenerationJob, String)) throws {
    try runReportingErrors {
        try requireExtension(output, ["png", "jpg", "jpeg"], "the output is an image")
        let p = try generation.makePipeline()
        let config = generation.configuration(for: p)
        let s = try p.portrait(inputURL(source), configuration: config, faceIndex: generation.faceIndex)
        let o = try p.portrait(inputURL(other), configuration: config)
        let (j, note) = try job(p, s, o)
        let summary = try p.run(j, configuration: config, into: ImageFileSink(url: outputURL(output), grid: grid.map(outputURL)),
                                progress: ProgressReporter().handler)
        if let c = saveCoeffs { try summary.coefficients.save(to: outputURL(c)) }
        print("wrote \(output) (\(note))")
    }
}

/// Runs `body` with the audio to use: a given file, or `text` spoken by espeak-ng into a temporary WAV that is
/// removed afterwards (it is muxed into the video; nothing is left beside the output, even on failure).
func withSpeech<R>(audio: String?, text: String?, _ body: (URL) throws -> R) throws -> R {
    if let a = audio { return try body(inputURL(a)) }
    guard let t = text, !t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("give --audio or --text") }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-speech-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let wav = dir.appendingPathComponent("speech.wav")
    _ = try SpeechSynthesizer.synthesize(t, to: wav)
    return try body(wav)
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
    @Option(help: "EmoA2E weights (default: the bundled model).") var weights: String?
    @Option(help: "Rendered preview MP4 (the 3DMM face, audio muxed in).") var preview: String?
    @Option(name: .shortAndLong, help: "Output coefficients (.json or .safetensors).") var output: String = "coeffs.json"

    func validate() throws {
        guard (1...3).contains(intensity) else { throw ValidationError("--intensity must be in 1...3") }
        guard (audio == nil) != (text == nil) else { throw ValidationError("give either --audio or --text") }
    }

    func run() throws {
        try runReportingErrors { try withSpeech(audio: audio, text: text) { speech in
            Torch.configureThreads()
            installStopHandler()
            // Output paths are checked before the work, so a bad one cannot fail after the coefficients are written.
            let out = outputURL(output)
            try requireExtension(output, ["json", "safetensors"], "coefficient files are .json or .safetensors")
            if let pv = preview { try requireExtension(pv, ["mp4"], "the preview is an MP4") }
            let model = try weights.map { try EmoA2E.load(weights: inputURL($0)) } ?? EmoA2E.loadDefault()
            var base = try Coefficients(illumination: Tensor(SphericalHarmonics.frontalLight()))
            if let i = identity { base = try Coefficients.load(from: inputURL(i)).frame(0) }
            let c = try SpeechMotion.coefficients(audio: speech, base: base, a2e: model, emotion: emotion, intensity: intensity, headMotion: 0)
            try c.save(to: out)
            print("wrote \(output) (\(c.batch) frames at 25 fps)")
            if let pv = preview {
                let renderer = try FaceRenderer.makeDefault()
                let writer = try VideoWriter(url: outputURL(pv), width: 256, height: 256, fps: 25, audio: speech)
                do {
                    let bar = ProgressBar("render", total: c.batch)
                    for i in 0..<c.batch {
                        guard stopRequested == 0 else { throw PipelineError.cancelled }
                        let img = try Torch.noGrad { try renderer.render(c.frame(i), width: 256, height: 256).image }
                        try writer.write(tensor: img.squeeze(0))
                        bar.update(i + 1)
                    }
                    try writer.finish()
                } catch {
                    writer.cancel()
                    try? FileManager.default.removeItem(at: out)   // a failed command leaves nothing behind
                    throw error
                }
                print("wrote \(pv)")
            }
        } }
    }
}

struct SwapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap", abstract: "Face swapping: the source's identity (face shape) on the target, keeping everything else of the target.")

    @Option(help: "Identity source image.") var source: String
    @Option(help: "Target image.") var target: String
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String = "swap.png"
    @Option(help: "Also write a comparison grid.") var grid: String?
    @Flag(help: "The --model was trained with `--task swap` (its texture input is the face-masked target); implied by a model with z_id.") var swapModel = false
    @Option(help: "Also save ρ̂ (JSON).") var saveCoeffs: String?
    @OptionGroup var generation: GenerationOptions

    func run() throws {
        try runImageJob(generation: generation, source: source, other: target, output: output, grid: grid, saveCoeffs: saveCoeffs) { p, s, t in
            (.swap(identity: s, target: t, maskedTexture: swapModel),
             p.generator.config.identityDim > 0 ? "swap model with z_id" : "3DMM recombination and warp")
        }
    }
}
