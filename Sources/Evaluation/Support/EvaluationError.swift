import Foundation

/// Every failure of an evaluation: bad input (sizes, NaN, empty folders, no face) or a missing network,
/// as a one-line message, never a crash.
public enum EvaluationError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidInput(String)
    case invalidConfig(String)
    /// No usable face in an image the metric needs one in.
    case noFace(String)

    public var description: String {
        switch self {
        case .invalidInput(let m): return "evaluation input: \(m)"
        case .invalidConfig(let m): return "evaluation config: \(m)"
        case .noFace(let m): return "evaluation: \(m)"
        }
    }
}
