import Diffusion
import FaceModel
import Foundation
import Media
import TGDMModel

public struct PipelineError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A source or driving face at the generator's resolution, with its 3DMM coefficients ρ.
public struct Portrait {
    /// 1×3×S×S in [-1, 1].
    public let image: Tensor
    public let coefficients: Coefficients
    /// How ρ was obtained: "sidecar <file>", "given" or "fitted (<n> iterations)".
    public let coefficientSource: String
}

/// How the pipeline samples.
public struct GenerationOptions: Sendable {
    /// DDIM with 50 steps and η = 1 (stochastic) by default: for the bundled, briefly trained model this is
    /// far better than deterministic DDIM (η = 0) or DPM-Solver++; `.ddpm` with 1000 steps is the paper's sampler.
    public var sampler = SamplerConfiguration(kind: .ddim, steps: 50, eta: 1, seed: 0)
    /// Frames denoised together (memory vs speed).
    public var batchSize = 8
    /// Analysis-by-synthesis iterations when coefficients must be estimated from an image.
    public var fitIterations = 150
    /// Iterations for each later video frame, started from the previous frame's fit.
    public var trackIterations = 40
    public init() {}
}

/// Multimodal-driven talking-face generation (paper Fig. 2): driver → ρ_d, recombination
/// ρ̂ = {α_s, β_d, δ_s, γ_s, p_d, ω_d}, rendering I_3d = R(ρ̂), then TGDM denoising conditioned on the
/// source texture (TexAtt), I_3d (input concat) and ρ̂ (AdaIN).
public final class TalkingFacePipeline {
    public let renderer: FaceRenderer
    public let generator: TGDMUNet
    public let sampler: TGDMSampler
    public var options: GenerationOptions
    /// Called with (stage, done, total); return false to cancel (the job then throws `CancellationError`).
    public var progress: ((String, Int, Int) -> Bool)?

    public var size: Int { generator.config.imageSize }

    public init(checkpoint: URL, renderer: FaceRenderer, options: GenerationOptions = GenerationOptions()) throws {
        guard FileManager.default.fileExists(atPath: checkpoint.path) else {
            throw PipelineError("no TGDM model at \(checkpoint.path) (train one with `tgdm train tgdm`, or run scripts/setup.sh for the bundled model)")
        }
        generator = try TGDMCheckpoint.loadModel(from: checkpoint)
        generator.eval()
        self.renderer = renderer
        self.options = options
        sampler = TGDMSampler(model: generator, schedule: try NoiseSchedule())
    }

    // MARK: portraits and coefficients

    /// Loads an image as a portrait. Coefficients come from `coefficients`, else from a sidecar file next
    /// to the image (`name.coeffs.json` or `.safetensors`), else from fitting the face model to the image.
    public func portrait(url: URL, coefficients: Coefficients? = nil) throws -> Portrait {
        let image = try RGBImage(contentsOf: url)
        if let c = coefficients { return try portrait(image: image, coefficients: c, source: "given") }
        for ext in ["coeffs.json", "coeffs.safetensors"] {
            let side = url.deletingPathExtension().appendingPathExtension(ext)
            if FileManager.default.fileExists(atPath: side.path) {
                return try portrait(image: image, coefficients: try Coefficients.load(from: side).frame(0), source: "sidecar \(side.lastPathComponent)")
            }
        }
        return try portrait(image: image, coefficients: nil, source: "")
    }

    /// With known coefficients the image is used as it is (centre square). Otherwise the face is found
    /// with the Haar-cascade detector and cropped FOMM-style (a square around the face), falling back to the
    /// centre square when no face is found, and ρ is fitted to the crop.
    public func portrait(image: RGBImage, coefficients: Coefficients?, source: String) throws -> Portrait {
        if let c = coefficients { return Portrait(image: try Self.squareTensor(image, size: size), coefficients: c, coefficientSource: source) }
        var framed = image, how = "centre square"
        if let box = try FaceDetector().detectBest(image) {
            framed = try FaceCropper.crop(image, box: box, size: max(size, 64)).crop
            how = "face crop \(box)"
        }
        let t = try Self.squareTensor(framed, size: size)
        let fit = try fitCoefficients(t, initial: nil, iterations: options.fitIterations)
        return Portrait(image: t, coefficients: fit, coefficientSource: "fitted (\(options.fitIterations) iterations, \(how))")
    }

    /// Centre-crops to a square and resizes to `size`: 1×3×size×size in [-1, 1].
    public static func squareTensor(_ image: RGBImage, size: Int) throws -> Tensor {
        let side = min(image.width, image.height)
        let square = try image.cropped(x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side)
        return try (side == size ? square : square.resized(width: size, height: size)).toTensor()
    }

    /// Estimates ρ of a face image by analysis-by-synthesis through the differentiable renderer.
    public func fitCoefficients(_ image: Tensor, initial: Coefficients?, iterations: Int) throws -> Coefficients {
        var o = CoefficientFitter.Options()
        o.iterations = iterations
        o.size = image.size(-1)
        return try CoefficientFitter(renderer: renderer, options: o).fit(image: image, initial: initial).coefficients
    }

    // MARK: generation

    /// Renders I_3d for coefficients: N×3×S×S, the plain 3DMM face on black (no gaze: ω reaches TGDM through AdaIN).
    public func renderGeometry(_ c: Coefficients) throws -> Tensor {
        try Torch.noGrad { try renderer.render(c, width: size, height: size).image }
    }

    /// The coefficient vectors TGDM reads: ρ̂ itself, or the k = 1 temporal window (frames i−1…i+1,
    /// Sec. 4.2) when the model was trained with windows. A single-frame model driven by video gets the
    /// window's average instead, the same smoothing in the only form it can read.
    func conditioning(_ rho: Coefficients, temporal: Bool) throws -> Tensor {
        let dim = generator.config.coefficientDim
        if dim == 3 * Coefficients.count { return try rho.flattenedWindows(radius: 1) }
        guard dim == Coefficients.count else { throw PipelineError("the model expects \(dim) coefficients per frame") }
        if temporal && rho.batch > 2 { return try rho.windows(radius: 1).mean(dim: 1) }
        return rho.tensor
    }

    /// Generates one frame per row of `motion` for the source: ρ̂ = reenact(source, motion).
    public func generate(source: Portrait, motion: Coefficients, temporal: Bool = false) throws -> (frames: Tensor, renders: Tensor) {
        let n = motion.batch
        let src = try Coefficients(source.coefficients.tensor.expand([n, Coefficients.count]).contiguous())
        let rho = try Coefficients.reenact(source: src, driver: motion)
        return try generate(rho: rho, sourceImage: source.image, temporal: temporal)
    }

    /// Denoises frames for given ρ̂ with a source texture image (1×3×S×S).
    public func generate(rho: Coefficients, sourceImage: Tensor, temporal: Bool) throws -> (frames: Tensor, renders: Tensor) {
        let n = rho.batch
        let renders = try renderGeometry(rho)
        let cond = try conditioning(rho, temporal: temporal)
        var frames: [Tensor] = []
        var start = 0
        _ = progress?("frames", 0, n)   // start the clock before the first chunk
        while start < n {
            let b = min(options.batchSize, n - start)
            let src = try sourceImage.expand([b, 3, size, size]).contiguous()
            let chunkIndex = start
            var config = options.sampler
            config.seed = options.sampler.seed &+ UInt64(chunkIndex)
            let out = try sampler.generate(source: src, render: renders.narrow(0, start, b), coefficients: cond.narrow(0, start, b),
                                           config: config) { step, total in
                self.progress?("denoise frames \(chunkIndex + 1)-\(chunkIndex + b)/\(n)", step, total) ?? true
            }
            frames.append(out)
            start += b
            if let p = progress, !p("frames", start, n) { throw CancellationError() }
        }
        return (try Tensor.cat(frames, dim: 0), renders)
    }
}
