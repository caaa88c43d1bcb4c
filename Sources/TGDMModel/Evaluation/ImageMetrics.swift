import Torch
import FaceModel
import Foundation

/// Pixel metrics of generated images against their targets. Images are [B, C, H, W] (or [C, H, W]) in
/// [-1, 1], the repository's convention.
public enum ImageMetrics {
    /// PSNR of identical images is infinite; it is reported as this many dB so means stay finite.
    public static let psnrCap = 100.0

    /// Per-image PSNR in dB with the images mapped to [0, 1]: 10·log10(1 / MSE₀₁), MSE₀₁ = MSE₋₁₁ / 4.
    public static func psnr(_ a: Tensor, _ b: Tensor) throws -> [Double] {
        let (x, y) = try batched(a, b)
        let mse = try (x - y).square().mean([1, 2, 3]).toArray(Double.self)
        return mse.map { m in
            let unit = m / 4
            guard unit > 0 else { return psnrCap }
            return Swift.min(psnrCap, 10 * Foundation.log10(1 / unit))
        }
    }

    /// Both as float32 [B, C, H, W] of equal shape with finite values.
    static func batched(_ a: Tensor, _ b: Tensor) throws -> (Tensor, Tensor) {
        guard a.shape == b.shape, a.rank == 3 || a.rank == 4 else {
            throw TGDMError.invalidInput("image metrics need two [C,H,W] or [B,C,H,W] images of one shape, got \(a.shape) and \(b.shape)")
        }
        let x = try (a.rank == 3 ? a.unsqueeze(0) : a).to(.cpu).to(.float32)
        let y = try (b.rank == 3 ? b.unsqueeze(0) : b).to(.cpu).to(.float32)
        for t in [x, y] {
            guard try t.floats().allSatisfy(\.isFinite) else { throw TGDMError.invalidInput("image metrics got NaN or infinite pixels") }
        }
        return (x, y)
    }
}

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
            throw TGDMError.invalidInput("coefficient errors need [\(Coefficients.count)] or [B, \(Coefficients.count)] vectors of one shape, got \(a.shape) and \(b.shape)")
        }
        let d = try (x.narrow(1, range.lowerBound, range.count) - y.narrow(1, range.lowerBound, range.count)).to(.cpu).to(.float64)
        return try d.square().sum(dim: 1).sqrt().toArray(Double.self)
    }
}
