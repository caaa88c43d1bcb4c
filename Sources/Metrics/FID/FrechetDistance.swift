import Foundation
import Torch

/// The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017):
///
///   FID = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^½
///
/// in float64. The matrix square root is never formed; its trace is a nuclear norm. If Σ₁ = B₁B₁ᵀ and
/// Σ₂ = B₂B₂ᵀ, the nonzero eigenvalues of Σ₁Σ₂ are the squared singular values of B₁ᵀB₂, so
/// tr (Σ₁Σ₂)^½ = Σᵢ σᵢ(B₁ᵀB₂), computed by LAPACK (through libtorch) with no square root of a tiny, noisy
/// eigenvalue. This stays real and accurate for singular covariances (fewer samples than dimensions),
/// where `scipy.linalg.sqrtm` of the non-symmetric product is not. The factors:
/// - from features with fewer samples than dimensions: Bₖ = X̃ₖᵀ / √(nₖ − 1), X̃ the centred samples, so
///   B₁ᵀB₂ is the small n₁×n₂ matrix X̃₁X̃₂ᵀ / √((n₁−1)(n₂−1)); FID(X, X) is 0 to round-off;
/// - from statistics: Bₖ = Vₖ Λₖ^½ from the symmetric eigendecomposition Σₖ = Vₖ Λₖ Vₖᵀ, eigenvalues at the
///   round-off level (λ ≤ λmax · d · ε, numpy's matrix-rank tolerance) dropped.
public enum FrechetDistance {
    public static func compute(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
        guard a.dimension == b.dimension else {
            throw MetricsError.invalidInput("feature dimensions differ: \(a.dimension) and \(b.dimension)")
        }
        return try Torch.noGrad {
            let s1 = a.covariance, s2 = b.covariance
            let cross = try squareRootFactor(s1).transpose(0, 1).matmul(squareRootFactor(s2))
            return try distance(means: (a.mean, b.mean), traces: diagonalSum(s1) + diagonalSum(s2), cross: cross)
        }
    }

    /// FID between two N×d feature sets (N ≥ 2 each).
    public static func compute(features a: Tensor, _ b: Tensor) throws -> Double {
        guard a.rank == 2, b.rank == 2, a.size(0) >= 2, b.size(0) >= 2 else {
            throw MetricsError.invalidInput("FID needs two N×d feature matrices with N ≥ 2, got \(a.shape) and \(b.shape)")
        }
        guard a.size(1) == b.size(1) else { throw MetricsError.invalidInput("feature dimensions differ: \(a.size(1)) and \(b.size(1))") }
        let (n1, n2, d) = (a.size(0), b.size(0), a.size(1))
        guard Swift.min(n1, n2) < d else { return try compute(FeatureStatistics(features: a), FeatureStatistics(features: b)) }
        return try Torch.noGrad {
            let (xa, xb) = (try a.detach().to(.cpu).to(.float64), try b.detach().to(.cpu).to(.float64))
            guard try Swift.max(xa.abs().max().item(), xb.abs().max().item()).isFinite else {
                throw MetricsError.invalidInput("features contain NaN or infinite values")
            }
            let (ma, mb) = (try xa.mean(dim: 0, keepDim: true), try xb.mean(dim: 0, keepDim: true))
            let x = try (xa - ma) / Double(n1 - 1).squareRoot(), y = try (xb - mb) / Double(n2 - 1).squareRoot()
            return try distance(means: (ma, mb), traces: x.square().sum().item() + y.square().sum().item(),
                                cross: x.matmul(y.transpose(0, 1)))
        }
    }

    /// ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 ‖B₁ᵀB₂‖_*.
    private static func distance(means: (Tensor, Tensor), traces: Double, cross: Tensor) throws -> Double {
        let meanTerm = try (means.0 - means.1).square().sum().item()
        return try meanTerm + traces - 2 * cross.singularValues().sum().item()
    }

    /// B with B Bᵀ = Σ for a symmetric positive semi-definite Σ: V Λ^½ over the eigenvalues above round-off.
    static func squareRootFactor(_ sigma: Tensor) throws -> Tensor {
        let (values, vectors) = try ((sigma + sigma.transpose(0, 1)) * 0.5).symmetricEigen()
        let lambda = try values.toArray(Double.self)
        let tolerance = Swift.max(lambda.last ?? 0, 0) * Double(lambda.count) * Double.ulpOfOne
        let kept = Swift.max(lambda.filter { $0 > tolerance }.count, 1)
        let n = lambda.count
        return try vectors.narrow(1, n - kept, kept) * values.narrow(0, n - kept, kept).maximum(0).sqrt().unsqueeze(0)
    }

    private static func diagonalSum(_ m: Tensor) throws -> Double {
        let n = m.size(0)
        return try m.reshape([n * n]).slice(0, 0, n * n, step: n + 1).sum().item()
    }
}
