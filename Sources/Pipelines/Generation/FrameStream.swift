import Diffusion
import FaceModel
import Foundation
import Media
import TGDMModel
import Torch

/// What a sink learns before the first frame.
public struct StreamInfo {
    public let frameCount: Int
    public let fps: Double
    public let audio: URL?
    /// The source face crop (reenactment) or the identity's crop (swap), for side-by-side panels.
    public let sourcePanel: RGBImage?
}

/// The frames of one job, generated chunk by chunk on demand: memory holds ρ̂ of every frame (261 floats each)
/// and one chunk of images, whatever the length. Everything that is the same for every chunk is prepared once:
/// Φ_E of the source (one image, shared by the batch), ρ̂ and its temporal windows, the sampler, the source
/// crops the warp samples.
public final class FrameStream {
    public let rho: Coefficients
    public let motion: DrivingMotion
    public var count: Int { rho.batch }
    public var info: StreamInfo {
        StreamInfo(frameCount: count, fps: motion.fps, audio: motion.audio, sourcePanel: sourcePanel)
    }

    private let pipeline: TalkingFacePipeline
    private let sourceFeatures: SourceFeatures
    private let composer: FrameComposer
    private let origin: WarpOrigin?
    /// z_id for swap models, 1 × identityDim.
    private let identity: Tensor?
    /// The warp's source side, prepared on the first chunk.
    private var warpSource: FaceWarper.Source?
    /// The source's mouth colours and lip opening, measured on the first chunk (reenactment).
    private var mouthSource: (palette: MouthPalette, opening: Float)?
    /// The origin's crop at the field size, read by the warp's source side and the mouth palette: sampled once.
    private var originCrop: Tensor?
    private let configuration: PipelineConfiguration
    private let sampler: SamplerConfiguration
    private let progress: PipelineProgressHandler?
    private let sourcePanel: RGBImage?
    private var driverFrames: VideoReader?
    private var nextFrame = 0

    init(pipeline: TalkingFacePipeline, rho: Coefficients, texture: Tensor, origin: WarpOrigin?, identity: Tensor?, motion: DrivingMotion,
         composer: FrameComposer, configuration: PipelineConfiguration, progress: PipelineProgressHandler?) throws {
        self.pipeline = pipeline
        self.rho = rho
        self.motion = motion
        self.composer = composer
        self.origin = origin
        self.identity = identity
        self.configuration = configuration
        self.progress = progress
        let bundle = pipeline.bundle
        var s = configuration.sampler ?? bundle.defaultSampler
        s.seed = configuration.seed
        s.sharedNoise = configuration.sharedNoise
        sampler = s
        try s.validate(trainTimesteps: bundle.schedule.trainTimesteps)
        let model = pipeline.generator
        if model.config.sourceWarp, origin == nil { throw PipelineError.model("this model reads the warped source, which this job has none of") }
        sourceFeatures = try Torch.noGrad { try model.encodeSource(texture.to(model.device)) }
        sourcePanel = try RGBImage(tensor: (origin?.image ?? texture).squeeze(0))
        if let v = motion.video {
            driverFrames = try VideoReader(url: v.url)
        }
        _ = progress?(.frames(done: 0, total: rho.batch))
    }

    deinit { driverFrames?.close() }

    /// The largest side at which the 3DMM correspondence is rasterized; larger squares sample it (it is smooth inside the
    /// face, so what a finer rasterization adds is sharper mask edges, which the composite feathers anyway). A 626² face
    /// talked as fast with the field at 256 as at 512 (the composite's own cost dominates), so the sharper one.
    static let maxFieldSize = 512

    /// `origin`'s crop (ρ's own, not the composite square) at `size`, sampled on first use.
    private func originCrop(_ origin: WarpOrigin, size: Int) throws -> Tensor {
        if let c = originCrop { return c }
        let c = try origin.portrait.image(size: size)
        originCrop = c
        return c
    }

    /// The next chunk of frames, or nil when all were generated.
    public func next() throws -> [GeneratedFrame]? {
        guard nextFrame < count else { return nil }
        let start = nextFrame, b = min(configuration.batchSize, count - nextFrame)
        let model = pipeline.generator
        let frames = try rho.frames(start, b)
        var renders = try pipeline.renderGeometry(frames)
        // The 3DMM correspondence of this chunk at the output size, and what the generator reads of it.
        let strength = configuration.startStrength ?? pipeline.bundle.defaultStartStrength
        let needsWarp = configuration.composition == .warp || model.config.sourceWarp || strength != nil
        var field: FaceWarpField? = nil, warped: Tensor? = nil, modelWarp: Tensor? = nil
        let size = composer.size, fieldSize = min(size, Self.maxFieldSize)
        if needsWarp, let origin {
            // Rasterized in ρ's crops at the field size, then evaluated over the composite square (issue #21).
            let source = try warpSource ?? pipeline.warper().prepare(source: origin.coefficients, size: fieldSize,
                                                                     image: originCrop(origin, size: fieldSize))
            warpSource = source
            let f = try pipeline.warper().field(source: source, target: frames)
            let square = try f.reframed(size: size, target: composer.crop.resized(to: fieldSize).mapping(from: composer.square),
                                        source: origin.square.mapping(from: origin.portrait.crop.resized(to: fieldSize)))
            field = square
            warped = try Torch.noGrad { try square.warp(origin.image, detail: origin.detail) }
            let small = try f.resized(to: pipeline.modelSize)
            modelWarp = try Torch.noGrad { try small.generatorInput(origin.modelImage) }
        }
        // The drawn mouth interior (reenactment): in the composite, and in I_3d so the generator starts from it.
        var mouth: MouthLayer? = nil, mouthOverride: [Float]? = nil
        if field != nil, let origin, composer.swapTarget == nil {
            let interior = try pipeline.mouthInterior()
            let source = try mouthSource ?? (interior.palette(image: originCrop(origin, size: fieldSize), coefficients: origin.coefficients),
                                             interior.opening(origin.coefficients)[0])
            mouthSource = source
            // Drawn in ρ̂'s crop at the square's resolution, then laid over the square (colour and coverage in one pass).
            let drawn = try interior.layer(frames, size: size, palette: source.palette)
            let laid = try composer.toSquare(Tensor.cat([drawn.colour, drawn.coverage], dim: 1))
            let layer = MouthLayer(colour: try laid.narrow(1, 0, 3), coverage: try laid.narrow(1, 3, 1), opening: drawn.opening)
            mouth = layer
            // Lips opened wider than the source's (by 4–10 % of the mouth width): the drawn interior, not the stretched
            // one. Below that the warp keeps the photo's own lips, which the model's lip contour only approximates.
            mouthOverride = layer.opening.map { min(max(($0 - source.opening - 0.04) / 0.06, 0), 1) }
            // Drawn at the generator's size itself, so its input does not depend on the output size.
            let small = try interior.layer(frames, size: pipeline.modelSize, palette: source.palette)
            renders = try Torch.noGrad { try renders * (1.0 - small.coverage) + small.colour * small.coverage }
        }
        let conditioning = try Torch.noGrad {
            try model.prepare(source: sourceFeatures, render: model.config.usesRender ? renders.to(model.device) : nil,
                              coefficients: model.config.conditionInput(rho.tensor, isSequence: motion.isSequence,
                                                                        rows: start..<(start + b)).to(model.device),
                              warp: model.config.sourceWarp ? modelWarp?.to(model.device) : nil,
                              identity: identity?.to(model.device))
        }
        var config = sampler
        // Shared noise: every chunk starts from the same draw. Otherwise each chunk gets its own seed.
        if !config.sharedNoise { config.seed = sampler.seed &+ UInt64(start) }
        var startPoint = SamplingStart.noise
        if let strength, strength < 1, let w = modelWarp {
            // Image-to-image (SDEdit) from the warped source, I_3d where the warp is not valid: the generator only
            // has to refine a picture that is already nearly right, in a fraction of the steps.
            startPoint = try TGDMSampler.warpStart(warp: w.to(model.device), render: renders.to(model.device), strength: strength)
        }
        let total = count
        let faces: Tensor
        do {
            faces = try TGDMSampler(bundle: pipeline.bundle).generate(conditioning: conditioning, configuration: config, start: startPoint) { step, steps in
                self.progress?(.denoising(step: step, steps: steps, frames: start..<(start + b), totalFrames: total)) ?? true
            }.to(.cpu)
        } catch DiffusionError.cancelled {
            throw PipelineError.cancelled
        }
        let crops = try composer.compositeCrops(faces: faces, warped: warped, field: field, mouth: mouth, mouthOverride: mouthOverride)
        var out: [GeneratedFrame] = []
        for i in 0..<b {
            let driver: RGBImage?
            if let reader = driverFrames { driver = try reader.nextFrame() } else { driver = try motion.image.map { $0.frame } }
            out.append(GeneratedFrame(index: start + i, output: try composer.picture(crop: crops.select(0, i)), face: try faces.select(0, i),
                                      render: try renders.select(0, i), warped: try warped?.select(0, i), driver: driver))
        }
        nextFrame += b
        if let p = progress, !p(.frames(done: nextFrame, total: total)) { throw PipelineError.cancelled }
        return out
    }
}
