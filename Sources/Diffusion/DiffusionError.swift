import Torch
import Foundation

/// Errors of the diffusion samplers. Shape and libtorch failures surface as `TorchError`.
public enum DiffusionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A configuration or argument outside what the equations allow (message says which).
    case invalidArgument(String)
    /// The progress callback returned `false` after `completedSteps` of `totalSteps`.
    case cancelled(completedSteps: Int, totalSteps: Int)
    /// The denoiser returned NaN or infinity (detected on the final sample, see `DiffusionSampler`).
    case nonFiniteModelOutput

    public var description: String {
        switch self {
        case .invalidArgument(let m): return "DiffusionError: \(m)"
        case .cancelled(let done, let total): return "DiffusionError: sampling cancelled after \(done) of \(total) steps"
        case .nonFiniteModelOutput:
            return "DiffusionError: the model returned NaN or infinity while sampling"
        }
    }
}
