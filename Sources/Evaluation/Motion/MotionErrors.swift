import FaceModel
import Foundation
import Torch

/// Coefficient errors of the paper's Tables 1 and 2, on 261-vectors ρ ([D] or [B, D]):
/// Exp = ‖β_a − β_b‖₂ over the 64 expression coefficients, Angle = ‖angles_a − angles_b‖₂ (radians,
/// the three rotation angles of the pose), Gaze = ‖ω_a − ω_b‖₂ over the 4 gaze values.
public enum MotionErrors {
    public static func expression(_ a: Tensor, _ b: Tensor) throws -> [Double] {
        try distance(a, b, range: CoefficientPart.expression.range)
    }

    public static func angles(_ a: Tensor, _ b: Tensor) throws -> [Double] {
        try distance(a, b, range: CoefficientPart.pose.range.lowerBound..<(CoefficientPart.pose.range.lowerBound + 3))
    }

    public static func gaze(_ a: Tensor, _ b: Tensor) throws -> [Double] {
        try distance(a, b, range: CoefficientPart.gaze.range)
    }

    static func distance(_ a: Tensor, _ b: Tensor, range: Range<Int>) throws -> [Double] {
        let x = a.rank == 1 ? try a.unsqueeze(0) : a, y = b.rank == 1 ? try b.unsqueeze(0) : b
        guard x.shape == y.shape, x.rank == 2, x.size(1) == Coefficients.count else {
            throw EvaluationError.invalidInput("coefficient errors need [\(Coefficients.count)] or [B, \(Coefficients.count)] vectors of one shape, got \(a.shape) and \(b.shape)")
        }
        let d = try (x.narrow(1, range.lowerBound, range.count) - y.narrow(1, range.lowerBound, range.count)).to(.cpu).to(.float64)
        return try d.square().sum(dim: 1).sqrt().toArray(Double.self)
    }
}
