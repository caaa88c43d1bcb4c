import Torch
import FaceModel
import Foundation

/// How generated and real images are turned back into motion coefficients (expression β and pose).
public struct MotionFitSettings: Codable, Equatable, Sendable {
    /// Adam steps of `CoefficientFitter` per image.
    public var iterations = 60
    public var learningRate = 0.03
    public var expressionWeight = 1e-3

    public init(iterations: Int = 60, learningRate: Double = 0.03, expressionWeight: Double = 1e-3) {
        self.iterations = iterations
        self.learningRate = learningRate
        self.expressionWeight = expressionWeight
    }

    public func validate() throws {
        guard (1...10_000).contains(iterations) else { throw EvaluationError.invalidConfig("fit iterations must be in 1...10000, got \(iterations)") }
        guard learningRate > 0, learningRate.isFinite, expressionWeight >= 0 else {
            throw EvaluationError.invalidConfig("fit learning rate must be positive and the expression weight ≥ 0")
        }
    }
}

/// Estimates the motion of a face image by analysis-by-synthesis (`CoefficientFitter`, photometric term
/// only): expression, pose and gaze are fitted from a neutral frontal start and illumination is refined from
/// the known value, while identity and texture stay at the values the benchmark knows for that person. The paper reads coefficients
/// with Deep3DFaceRecon instead; here the fitter stands in for it, so its own error on real images
/// (the noise floor) must be reported next to the error on generated ones.
public final class MotionEstimator {
    public let settings: MotionFitSettings
    let renderer: FaceRenderer

    public init(model: MorphableModel, settings: MotionFitSettings = MotionFitSettings()) throws {
        try settings.validate()
        self.settings = settings
        // Eyeballs turn with ω here, so the photometric fit can read gaze back from the rendered eyes.
        renderer = try FaceRenderer(model: model, options: RenderOptions(background: -1, renderGaze: true))
    }

    /// - Parameters:
    ///   - image: [3, H, W] in [-1, 1], square.
    ///   - known: a [261] ρ whose identity and texture are kept; its expression, pose and gaze are ignored.
    /// - Returns: the fitted [261] ρ (expression, pose and gaze fitted; gaze from the rendered eyeballs).
    public func estimate(image: Tensor, known: Tensor) throws -> Tensor {
        guard image.rank == 3, image.size(0) == 3, image.size(1) == image.size(2) else {
            throw EvaluationError.invalidInput("motion estimation needs a square [3, H, W] image, got \(image.shape)")
        }
        guard known.shape == [Coefficients.count] else {
            throw EvaluationError.invalidInput("motion estimation needs a [\(Coefficients.count)] reference ρ, got \(known.shape)")
        }
        var options = CoefficientFitter.Options()
        options.parts = [.expression, .pose, .gaze, .illumination]
        options.iterations = settings.iterations
        options.learningRate = settings.learningRate
        options.expressionWeight = settings.expressionWeight
        options.landmarkWeight = 0
        options.size = image.size(1)
        let fitter = CoefficientFitter(renderer: renderer, options: options)
        var start = try Coefficients(known.to(.cpu).to(.float32).unsqueeze(0))
        for part in [CoefficientPart.expression, .pose, .gaze] {
            start = try start.replacing(part, with: Tensor.zeros([1, part.count]))
        }
        let result = try fitter.fit(image: image.to(.cpu).to(.float32).unsqueeze(0), initial: start)
        return try result.coefficients.tensor.squeeze(0)
    }
}
