import FaceModel
import Foundation
import Torch

/// The seam for per-frame 3DMM coefficients in corpus preparation. `FittingCoefficientEstimator` is the
/// pipeline's current estimator (analysis-by-synthesis, `CoefficientFitter`); the FaceAnalysis landmark
/// fitter plugs in here by conforming.
public protocol FrameCoefficientEstimator: AnyObject {
    /// Side of the crops `estimate` expects.
    var inputSize: Int { get }
    /// ρ of one face crop (1×3×S×S in [-1, 1]). `previous` is ρ of the preceding frame of the same track
    /// (nil on a track's first frame); `landmarks` are 68 points in crop pixels (1×68×2) when the tracker had them.
    func estimate(crop: Tensor, landmarks: Tensor?, previous: Coefficients?) throws -> Coefficients
}

/// ρ by analysis-by-synthesis through the differentiable renderer, as `PortraitLoader.fitCoefficients`
/// does for pictures: a full fit on a track's first frame, then each frame warm-started from the previous
/// one with identity and texture held (one person per track) and fewer iterations.
public final class FittingCoefficientEstimator: FrameCoefficientEstimator {
    public let inputSize: Int
    public let firstIterations: Int
    public let iterations: Int
    let renderer: FaceRenderer

    public init(model: MorphableModel, size: Int, firstIterations: Int, iterations: Int) throws {
        inputSize = size
        self.firstIterations = firstIterations
        self.iterations = iterations
        // Gaze is fitted, so the fit renders eyeballs; built once here rather than by every fit.
        renderer = try FaceRenderer(model: model, options: RenderOptions(renderGaze: true))
    }

    public func estimate(crop: Tensor, landmarks: Tensor?, previous: Coefficients?) throws -> Coefficients {
        var o = CoefficientFitter.Options()
        o.size = inputSize
        if previous == nil {
            o.iterations = firstIterations
        } else {
            o.iterations = iterations
            o.parts = [.expression, .illumination, .pose, .gaze]
        }
        return try CoefficientFitter(renderer: renderer, options: o).fit(image: crop, landmarks: landmarks, initial: previous).coefficients
    }
}
