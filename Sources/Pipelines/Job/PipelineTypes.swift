import Diffusion
import FaceModel
import Foundation
import Media

/// Why a job failed. Every case carries a message a person can act on (the CLI prints it as one line).
public enum PipelineError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An input file is missing, unreadable or unusable.
    case invalidInput(String)
    /// No face was found where one is needed.
    case noFace(String)
    /// A model file is missing or does not fit the job.
    case model(String)
    /// The progress handler asked to stop.
    case cancelled

    public var description: String {
        switch self {
        case .invalidInput(let m), .noFace(let m), .model(let m): return m
        case .cancelled: return "cancelled"
        }
    }
}

/// Typed progress of a job (in the style of ml-stable-diffusion's `Progress`): what stage, how far.
public enum PipelineProgress: Equatable, Sendable {
    public enum Analysis: String, Sendable {
        case sourcePortrait = "source portrait"
        case drivingImage = "driving image"
        case drivingVideo = "driving video"
        case speech = "speech"
        case swapTarget = "swap target"
    }

    /// Coefficients of a portrait or of a driver are being estimated (`done` of `total` units).
    case analyzing(Analysis, done: Int, total: Int)
    /// One denoising step of the frames `frames` (of `totalFrames`) finished.
    case denoising(step: Int, steps: Int, frames: Range<Int>, totalFrames: Int)
    /// Frames generated so far.
    case frames(done: Int, total: Int)
    /// Output frames written.
    case writing(done: Int, total: Int)
}

/// Return false to cancel the job (it then throws `PipelineError.cancelled`).
public typealias PipelineProgressHandler = (PipelineProgress) -> Bool

/// How the output frame is framed.
public enum OutputFraming: String, Codable, Sendable, CaseIterable {
    /// The whole source (or swap target) picture with the generated face pasted back.
    case fullFrame = "full"
    /// Only the square face crop, at `PipelineConfiguration.outputSize` (256 unless set).
    case crop
}

/// How the output face is made.
public enum OutputComposition: String, Codable, Sendable, CaseIterable {
    /// The source warped by the 3DMM correspondence at the output size wherever it is valid, the generator's
    /// output (brought to the output size, colours matched) only where it is not: mouth interior,
    /// disocclusions (issue #10). The person, hair and background stay the source's.
    case warp
    /// The generator's output alone, upscaled (the paper's pipeline at the model's size).
    case generator
}

/// Per-call settings of a generation (a plain value, like ml-stable-diffusion's `Configuration`).
public struct PipelineConfiguration: Sendable {
    /// nil: the model's own default sampler (`TGDMModelBundle.defaultSampler`).
    public var sampler: SamplerConfiguration?
    /// Seed of the sampler's noise (replaces the sampler's own seed): same seed, same output.
    public var seed: UInt64 = 0
    /// Frames denoised together (memory vs speed).
    public var batchSize = 8
    /// Side of the face square in which the output is composed, in pixels. nil (the default): with `.crop` framing
    /// 256; with `.fullFrame` the picture's own resolution — the pixel-aligned square around the face crop, one
    /// picture pixel per pixel, at most `maxFaceSize` — so the warped photo keeps its own detail and is pasted back
    /// without resampling (issue #21). A number fixes the side (the square is then resampled into the picture).
    public var outputSize: Int?
    /// The largest side of the face square at the picture's own resolution (larger faces are composed at this size).
    public var maxFaceSize = 1024
    public var framing: OutputFraming = .fullFrame
    /// Every frame of a job shares its noise (temporal stability; see `NoiseSource`).
    public var sharedNoise = true
    public var composition: OutputComposition = .warp
    /// Start sampling from the warped source (I_3d where it is not valid) noised to this fraction of the plan
    /// (image-to-image, SDEdit; 1 = from pure noise); nil: the model's default (`TGDMModelBundle.defaultStartStrength`).
    public var startStrength: Double?
    /// Landmark-fit iterations for each later frame of a tracked driving video (warm-started from the previous frame).
    public var trackIterations = 60

    public init() {}

    /// The square of the picture (`crop`'s picture) in which the face is composed (see `outputSize`).
    public func compositeSquare(for crop: CropTransform) -> CropTransform {
        if let outputSize { return crop.resized(to: outputSize) }
        if framing == .crop { return crop.resized(to: 256) }
        let native = crop.nativeSquare(maxSize: maxFaceSize)
        // A face smaller than this in the picture is composed larger and shrunk into it: below it the warp's masks and
        // the drawn mouth have too few pixels to be smooth.
        return native.cropSize < 128 ? crop.resized(to: 128) : native
    }

    public func validate() throws {
        guard (1...256).contains(batchSize) else { throw PipelineError.invalidInput("batch size must be in 1...256, got \(batchSize)") }
        if let outputSize, !(16...2048).contains(outputSize) {
            throw PipelineError.invalidInput("output size must be in 16...2048, got \(outputSize)")
        }
        guard (64...2048).contains(maxFaceSize) else { throw PipelineError.invalidInput("max face size must be in 64...2048, got \(maxFaceSize)") }
        guard (1...10_000).contains(trackIterations) else { throw PipelineError.invalidInput("track iterations must be in 1...10000") }
        if let s = startStrength, !(s > 0 && s <= 1) { throw PipelineError.invalidInput("start strength must be in (0, 1], got \(s)") }
    }
}

/// A driving video: its frames' coefficients come from `coefficients` (one row per frame), a sidecar
/// `NAME.coeffs.json` next to it, or tracking.
public struct VideoDriver: Sendable {
    public var url: URL
    public var coefficients: URL?
    public var maxFrames: Int?
    public init(url: URL, coefficients: URL? = nil, maxFrames: Int? = nil) {
        self.url = url
        self.coefficients = coefficients
        self.maxFrames = maxFrames
    }
}

/// Speech with an emotion prompt and an intensity η (EmoA2E, Sec. 4.2).
public struct SpeechDriver: Sendable {
    public var audio: URL
    public var emotion: String
    /// η, continuous in 1...3.
    public var intensity: Double
    /// Amplitude of a gentle natural head sway (0 = still).
    public var headMotion: Double
    /// Spontaneous blinks a minute (`BlinkModel`; 0 = none), drawn from the job's seed.
    public var blinkRate: Double
    /// The largest gaze shift, degrees (`GazeShifts`; 0 = the eyes hold the source's gaze).
    public var gazeShift: Double
    public var fps: Double
    public init(audio: URL, emotion: String = "neutral", intensity: Double = 1, headMotion: Double = 1,
                blinkRate: Double = BlinkModel.restingRate, gazeShift: Double = GazeShifts.defaultDegrees, fps: Double = 25) {
        self.audio = audio
        self.emotion = emotion
        self.intensity = intensity
        self.headMotion = headMotion
        self.blinkRate = blinkRate
        self.gazeShift = gazeShift
        self.fps = fps
    }
}

/// What drives the source portrait (paper Fig. 2).
public enum Driver {
    case image(Portrait)
    case video(VideoDriver)
    case speech(SpeechDriver)
    /// Driving coefficients ρ_d given directly (e.g. written by `tgdm a2e`), one row per frame.
    case motion(Coefficients, fps: Double)
}

/// One generation request.
public enum GenerationJob {
    /// Reenactment: the source's appearance with the driver's expression, pose and gaze.
    case reenact(source: Portrait, driver: Driver)
    /// Face swapping (Sec. 4.4): the identity of `identity` on `target`, everything else the target's.
    case swap(identity: Portrait, target: Portrait, maskedTexture: Bool)
}
