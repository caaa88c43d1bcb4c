import Torch
import Foundation

/// Analysis-by-synthesis: finds coefficients ρ whose rendering matches a face image, by gradient
/// descent (Adam) through the differentiable renderer on
///   L = w_photo · mean_{pixels in both masks} ‖I − R(ρ)‖₂ + w_lm · mean ‖l − l(ρ)‖² / size²
///     + w_id ‖α‖² + w_exp ‖β‖² + w_tex ‖δ‖²
/// (the photometric, landmark and regularisation terms of Deep3DFaceRecon's self-supervised loss),
/// starting from zero unless an initial guess is given. Only the parts in `FitOptions.parts` move.
/// This is how driving images and videos can be turned into coefficients without a trained regressor;
/// it is slow (one render + backward per step) and needs the face roughly centred like the
/// Deep3DFaceRecon crop, or target landmarks to pull it into place.
public final class CoefficientFitter {
    public struct Options: Sendable {
        /// Gaze is fitted from the eyeballs turned by ω (the fitter renders them even when the given renderer
        /// does not, since I_3d itself carries no gaze).
        public var parts: Set<CoefficientPart> = [.identity, .expression, .texture, .illumination, .pose, .gaze]
        public var iterations = 100
        public var learningRate = 0.03
        public var size = 128
        public var photometricWeight = 1.0
        public var landmarkWeight = 1.0
        public var identityWeight = 1e-3
        public var expressionWeight = 1e-3
        public var textureWeight = 1e-3
        public init() {}
    }

    public struct Result {
        public let coefficients: Coefficients
        /// Loss after every step.
        public let losses: [Double]
    }

    public let renderer: FaceRenderer
    public var options: Options

    public init(renderer: FaceRenderer, options: Options = Options()) {
        self.renderer = renderer
        self.options = options
    }

    /// The renderer of the fit: `renderer` with the eyeballs turned by ω when gaze is fitted.
    func fittingRenderer() throws -> FaceRenderer {
        guard options.parts.contains(.gaze), !renderer.options.renderGaze else { return renderer }
        var o = renderer.options
        o.renderGaze = true
        return try FaceRenderer(model: renderer.model, options: o)
    }

    /// - Parameters:
    ///   - image: 1×3×H×W target in [-1, 1] (resized to `options.size` by the caller).
    ///   - mask: optional 1×1×H×W region of the image that is face (default: everywhere).
    ///   - landmarks: optional 1×68×2 target landmarks in the image's pixel coordinates.
    public func fit(image: Tensor, mask: Tensor? = nil, landmarks: Tensor? = nil,
                    initial: Coefficients? = nil) throws -> Result {
        let size = options.size
        guard image.shape == [1, 3, size, size] else {
            throw FaceModelError.invalidArgument("fit needs a 1×3×\(size)×\(size) image, got \(image.shape)")
        }
        if let m = mask, m.shape != [1, 1, size, size] {
            throw FaceModelError.invalidArgument("mask must be 1×1×\(size)×\(size), got \(m.shape)")
        }
        if let l = landmarks, l.shape != [1, 68, 2] {
            throw FaceModelError.invalidArgument("landmarks must be 1×68×2, got \(l.shape)")
        }
        guard options.iterations > 0, options.iterations <= 100_000 else {
            throw FaceModelError.invalidArgument("iterations must be in 1...100000")
        }
        let target = try image.to(.float32)
        let renderer = try fittingRenderer()
        let start = try initial ?? Coefficients.zeros(batch: 1)
        var leaves: [CoefficientPart: Tensor] = [:]
        for p in CoefficientPart.allCases where options.parts.contains(p) {
            leaves[p] = try start.part(p).detach().clone().requiresGrad(true)
        }
        let optimizer = try AdamW(leaves.map { ($0.key.rawValue, $0.value) },
                                  config: .init(learningRate: options.learningRate, weightDecay: 0))
        var losses: [Double] = []
        for _ in 0..<options.iterations {
            try optimizer.zeroGrad()
            let rho = try Coefficients(Tensor.cat(CoefficientPart.allCases.map { try leaves[$0] ?? start.part($0) }, dim: 1))
            let out = try renderer.render(rho, width: size, height: size)
            var region = out.mask
            if let m = mask { region = try region * m }
            let pixels = try region.sum().clamp(min: 1)
            let diff = try ((out.image - target).square().sum(dim: 1, keepDim: true) + 1e-8).sqrt()
            var loss = try (diff * region).sum() / pixels * options.photometricWeight
            if let l = landmarks, options.landmarkWeight > 0 {
                let lm = try (out.landmarks - l).square().sum(dim: 2).mean() / Double(size * size)
                loss = try loss + lm * (options.landmarkWeight * 100)
            }
            for (p, w) in [(CoefficientPart.identity, options.identityWeight), (.expression, options.expressionWeight),
                           (.texture, options.textureWeight)] {
                if let leaf = leaves[p], w > 0 { loss = try loss + leaf.square().sum() * w }
            }
            try loss.backward()
            try Torch.noGrad { try optimizer.update() }
            losses.append(try loss.item())
        }
        let final = try Torch.noGrad {
            try Coefficients(Tensor.cat(CoefficientPart.allCases.map { try (leaves[$0] ?? start.part($0)).detach() }, dim: 1))
        }
        return Result(coefficients: final, losses: losses)
    }
}
