import Audio2Expression
import Diffusion
import FaceAnalysis
import FaceModel
import Foundation
import Media
import TGDMModel
import TextEncoder
import Torch

/// Multimodal-driven talking-face generation (paper Fig. 2): driver → ρ_d, recombination
/// ρ̂ = {α_s, β_d, δ_s, γ_s, p_d, ω_d}, rendering I_3d = R(ρ̂), then TGDM denoising conditioned on the
/// source texture (TexAtt), I_3d (input concat) and ρ̂ (AdaIN); face swapping through the same generator.
///
/// Models are loaded once and shared by every job (EmoA2E and its text encoder on the first speech job).
/// A job runs as `frames(for:configuration:progress:)`, a stream of frame chunks with bounded memory, or
/// `generate` (all frames collected) / `run` (frames handed to a `FrameSink`, e.g. an MP4 writer).
public final class TalkingFacePipeline {
    public let bundle: TGDMModelBundle
    public let renderer: FaceRenderer
    public let resources: ModelResources
    public let portraits: PortraitLoader
    private var loadedEmoA2E: EmoA2E?
    private var loadedWarper: FaceWarper?
    private var loadedMouthInterior: MouthInterior?
    private var loadedIdentityEncoder: FaceIdentityEncoder?

    public var generator: TGDMUNet { bundle.model }
    /// The generator's square resolution.
    public var modelSize: Int { generator.config.imageSize }
    /// The crop size at which coefficients are estimated.
    public var analysisSize: Int { modelSize }

    public init(bundle: TGDMModelBundle, renderer: FaceRenderer, resources: ModelResources = .default) {
        self.bundle = bundle
        self.renderer = renderer
        self.resources = resources
        portraits = PortraitLoader(renderer: renderer)
    }

    /// The pipeline of a model file (default: the bundled model) with the default face model.
    public convenience init(model: URL? = nil, resources: ModelResources = .default) throws {
        let bundle: TGDMModelBundle
        do {
            bundle = try model.map { try TGDMModelBundle.load(from: $0) } ?? TGDMModelBundle.loadDefault(resources: resources)
        } catch let e as ModelResources.Error {
            throw PipelineError.model("\(e)")
        } catch let e as TGDMError {
            throw PipelineError.model("\(e)")
        }
        self.init(bundle: bundle, renderer: try FaceRenderer(model: MorphableModel.loadDefault()), resources: resources)
    }

    /// EmoA2E with its text encoder, loaded on first use.
    public func emoA2E() throws -> EmoA2E {
        if let m = loadedEmoA2E { return m }
        let m = try EmoA2E.loadDefault(resources: resources)
        loadedEmoA2E = m
        return m
    }

    /// The 3DMM correspondence of the pipeline's face model.
    public func warper() throws -> FaceWarper {
        if let w = loadedWarper { return w }
        let w = try FaceWarper(model: renderer.model)
        loadedWarper = w
        return w
    }

    /// The drawn mouth interior of the pipeline's face model.
    public func mouthInterior() throws -> MouthInterior {
        if let m = loadedMouthInterior { return m }
        let m = try MouthInterior(renderer: renderer)
        loadedMouthInterior = m
        return m
    }

    /// The identity embedding z_id of a portrait's largest face (dlib 128-d, the stand-in for CurricularFace), for
    /// swap models (Sec. 4.4): 1 × 128.
    public func identityEmbedding(of portrait: Portrait) throws -> Tensor {
        if loadedIdentityEncoder == nil { loadedIdentityEncoder = try FaceIdentityEncoder.pretrained() }
        guard let face = try portraits.estimator().analyzer.detect(portrait.frame).first else {
            throw PipelineError.noFace("no face found in \(portrait.name) for its identity embedding")
        }
        return try Tensor(loadedIdentityEncoder!.embedding(of: portrait.frame, box: face.box), shape: [1, 128])
    }

    /// Uses `model` for speech jobs instead of the bundled EmoA2E.
    public func setEmoA2E(_ model: EmoA2E) { loadedEmoA2E = model }

    /// Loads a picture as a portrait (coefficients: given, sidecar, or fitted to the face found in it).
    public func portrait(_ url: URL, coefficients: Coefficients? = nil, configuration: PipelineConfiguration = PipelineConfiguration(),
                         faceIndex: Int = 0) throws -> Portrait {
        try portraits.load(url, coefficients: coefficients, analysisSize: analysisSize, faceIndex: faceIndex)
    }

    /// Renders I_3d for coefficients at the generator's size: N×3×S×S, the plain 3DMM face on black (no gaze:
    /// ω reaches TGDM through AdaIN, Sec. 4.3).
    public func renderGeometry(_ c: Coefficients) throws -> Tensor {
        try Torch.noGrad { try renderer.render(c, width: modelSize, height: modelSize).image }
    }

    // MARK: jobs

    /// Prepares `job` and returns its frames as a stream of chunks (`configuration.batchSize` frames each).
    public func frames(for job: GenerationJob, configuration: PipelineConfiguration = PipelineConfiguration(),
                       progress: PipelineProgressHandler? = nil) throws -> FrameStream {
        try configuration.validate()
        switch job {
        case .reenact(let source, let driver):
            let motion = try self.motion(for: driver, source: source, configuration: configuration, progress: progress)
            let rho = try Coefficients.reenact(source: source.coefficients, driver: motion.coefficients)
            let square = configuration.compositeSquare(for: source.crop)
            let composer = FrameComposer(canvas: source.frame, crop: source.crop, square: square, framing: configuration.framing,
                                         composition: configuration.composition, swapTarget: nil)
            let origin = try WarpOrigin(source, square: square, modelSize: modelSize)
            return try FrameStream(pipeline: self, rho: rho, texture: origin.modelImage, origin: origin, identity: nil, motion: motion,
                                   composer: composer, configuration: configuration, progress: progress)
        case .swap(let identity, let target, let masked):
            let rho = try Coefficients.swap(source: identity.coefficients, target: target.coefficients)
            var texture = try target.image(size: modelSize)
            // A swap model (trained by the paradigm of Sec. 4.4) sees the target with its face masked out, the
            // mouth interior left visible ("Small" mask), and the identity embedding of the identity source.
            let swapModel = generator.config.identityDim > 0
            if masked || swapModel {
                let mouth = try warper().field(source: target.coefficients, target: target.coefficients, size: modelSize).mouth
                texture = try FaceMasking.maskFace(image: texture, render: renderGeometry(target.coefficients), keep: mouth)
            }
            let zid = swapModel ? try identityEmbedding(of: identity) : nil
            let motion = DrivingMotion(coefficients: target.coefficients, fps: 25, audio: nil, isSequence: false, video: nil,
                                       image: target, origin: target.coefficientSource)
            // The identity's face is warped onto the swapped geometry; everything else stays the target's.
            let square = configuration.compositeSquare(for: target.crop)
            var composer = FrameComposer(canvas: target.frame, crop: target.crop, square: square, framing: configuration.framing,
                                         composition: configuration.composition,
                                         swapTarget: try FaceCropper.crop(target.frame, transform: square).toTensor())
            composer.swapModel = masked || swapModel
            // The identity's crop at the square's resolution: the warp samples it wherever the identity's face lands.
            let origin = try WarpOrigin(identity, square: identity.crop.resized(to: square.cropSize), modelSize: modelSize)
            return try FrameStream(pipeline: self, rho: rho, texture: texture, origin: origin, identity: zid, motion: motion, composer: composer,
                                   configuration: configuration, progress: progress)
        }
    }

    /// Every frame of `job`, collected (for single images and short clips).
    public func generate(_ job: GenerationJob, configuration: PipelineConfiguration = PipelineConfiguration(),
                         progress: PipelineProgressHandler? = nil) throws -> GenerationResult {
        let stream = try frames(for: job, configuration: configuration, progress: progress)
        var frames: [GeneratedFrame] = []
        while let chunk = try stream.next() { frames += chunk }
        return GenerationResult(frames: frames, fps: stream.motion.fps, audio: stream.motion.audio, coefficients: stream.rho)
    }

    /// Streams every frame of `job` into `sink` and finishes it (the sink is cancelled on any error).
    @discardableResult
    public func run(_ job: GenerationJob, configuration: PipelineConfiguration = PipelineConfiguration(), into sink: FrameSink,
                    progress: PipelineProgressHandler? = nil) throws -> GenerationSummary {
        do {
            let stream = try frames(for: job, configuration: configuration, progress: progress)
            try sink.begin(stream.info)
            var written = 0
            while let chunk = try stream.next() {
                for frame in chunk {
                    try sink.write(frame)
                    written += 1
                    if let p = progress, !p(.writing(done: written, total: stream.count)) { throw PipelineError.cancelled }
                }
            }
            try sink.finish()
            return GenerationSummary(frames: written, fps: stream.motion.fps, coefficients: stream.rho, motionOrigin: stream.motion.origin)
        } catch {
            sink.cancel()
            throw error
        }
    }
}

/// One generated frame.
public struct GeneratedFrame {
    public let index: Int
    /// The output picture, framed as configured (full frame or face crop).
    public let output: RGBImage
    /// The generator's face crop, 3×S×S in [-1, 1] at the model's size.
    public let face: Tensor
    /// I_3d, 3×S×S.
    public let render: Tensor
    /// The source warped to this frame at the output size (nil without the warp composition), 3×S×S.
    public let warped: Tensor?
    /// The driving picture of this frame (driving image or video frame), when there is one.
    public let driver: RGBImage?
}

public struct GenerationResult {
    public let frames: [GeneratedFrame]
    public let fps: Double
    public let audio: URL?
    /// ρ̂ of every frame.
    public let coefficients: Coefficients
}

public struct GenerationSummary {
    public let frames: Int
    public let fps: Double
    public let coefficients: Coefficients
    public let motionOrigin: String
}
