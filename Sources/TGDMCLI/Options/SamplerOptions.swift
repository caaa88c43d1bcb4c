import ArgumentParser
import Diffusion
import Foundation
import Pipelines
import TGDMModel
import Torch

extension SamplerConfiguration.Kind: ExpressibleByArgument {}
extension TGDMConfig.Variant: ExpressibleByArgument {}
extension OutputFraming: ExpressibleByArgument {}
extension OutputComposition: ExpressibleByArgument {}

/// The sampler flags of every command that samples TGDM. Flags left out keep the model's own default sampler
/// (stored in the model file; DDIM 50 steps, η = 1 for the bundled model).
struct SamplerOptions: ParsableArguments {
    @Option(help: "Sampler: ddim, ddpm or dpm-solver++ (default: the model's).") var sampler: SamplerConfiguration.Kind?
    @Option(help: "Sampling steps (ddpm: up to 1000, the paper's setting; default: the model's).") var steps: Int?
    @Option(help: "DDIM η: 1 = stochastic, 0 = deterministic (default: the model's).") var eta: Double?

    /// The model's default with the given flags applied, or nil when no flag was given.
    func configuration(default base: SamplerConfiguration) -> SamplerConfiguration? {
        guard sampler != nil || steps != nil || eta != nil else { return nil }
        var c = base
        if let sampler, sampler != base.kind {
            c = SamplerConfiguration(kind: sampler, steps: base.steps, eta: sampler == .ddim ? base.eta : 0)
        }
        if let steps { c.steps = steps }
        if let eta { c.eta = eta }
        return c
    }

    func validate() throws {
        if let steps, !(1...1000).contains(steps) { throw ValidationError("--steps must be in 1...1000") }
        if let eta, !(eta.isFinite && (0...1).contains(eta)) { throw ValidationError("--eta must be in [0, 1]") }
    }
}

/// Options of every command that runs the generator on pictures.
struct GenerationOptions: ParsableArguments {
    @Option(help: "TGDM model file (default: the bundled \(ModelFile.tgdm)).") var model: String?
    @OptionGroup var sampling: SamplerOptions
    @Option(help: "Frames denoised together.") var batch: Int = 8
    @Option(help: "Side of the face square in pixels (default: with --crop-only 256; in the whole picture, the photo's own resolution up to --max-face).")
    var size: Int?
    @Option(help: "The largest face square composed at the photo's own resolution; larger faces are composed at this size.")
    var maxFace: Int = 1024
    @Flag(help: "Return the face crop instead of the whole picture with the face pasted back.") var cropOnly = false
    @Option(help: "Which face when a picture has several (0 = the largest).") var faceIndex: Int = 0
    @Option(help: "warp: the source warped by the 3DMM where it is valid, the generator elsewhere; generator: the generator alone.")
    var composition: OutputComposition = .warp
    @Option(help: "Start from the warped source noised to this fraction of the sampler's steps (0–1; default: the model's).")
    var strength: Double?
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (1...256).contains(batch) else { throw ValidationError("--batch must be in 1...256") }
        if let size, !(16...2048).contains(size) { throw ValidationError("--size must be in 16...2048") }
        guard (64...2048).contains(maxFace) else { throw ValidationError("--max-face must be in 64...2048") }
        guard faceIndex >= 0 else { throw ValidationError("--face-index must be ≥ 0") }
        if let s = strength, !(s > 0 && s <= 1) { throw ValidationError("--strength must be in (0, 1]") }
    }

    func makePipeline() throws -> TalkingFacePipeline {
        try runtime.apply()
        return try TalkingFacePipeline(model: model.map(inputURL))
    }

    func configuration(for pipeline: TalkingFacePipeline) -> PipelineConfiguration {
        var c = PipelineConfiguration()
        c.sampler = sampling.configuration(default: pipeline.bundle.defaultSampler)
        c.seed = runtime.seed
        c.batchSize = batch
        c.outputSize = size
        c.maxFaceSize = maxFace
        c.framing = cropOnly ? .crop : .fullFrame
        c.composition = composition
        c.startStrength = strength
        return c
    }
}
