import Foundation
import Torch

/// Mean and covariance of a feature set, in float64 on the CPU: what FID compares (and what reference
/// statistics files store). The covariance is the unbiased one (n − 1), as `numpy.cov`.
public struct FeatureStatistics: @unchecked Sendable {
    public let count: Int
    public let dimension: Int
    /// d values.
    public let mean: Tensor
    /// d×d.
    public let covariance: Tensor

    /// Statistics given as numbers: `mean` has d values, `covariance` d×d (row-major).
    public init(count: Int, mean: [Double], covariance: [Double]) throws {
        guard covariance.count == mean.count * mean.count else {
            throw MetricsError.invalidInput("covariance has \(covariance.count) values for a \(mean.count)-d mean")
        }
        try self.init(count: count, mean: Tensor(mean, shape: [mean.count]), covariance: Tensor(covariance, shape: [mean.count, mean.count]))
    }

    /// Statistics of an N×d feature tensor (N ≥ 2).
    public init(features: Tensor) throws {
        guard features.rank == 2, features.size(0) >= 2, features.size(1) >= 1 else {
            throw MetricsError.invalidInput("statistics need an N×d feature matrix with N ≥ 2, got \(features.shape)")
        }
        let (mu, cov) = try Torch.noGrad { () -> (Tensor, Tensor) in
            let x = try features.detach().to(.cpu).to(.float64)
            let m = try x.mean(dim: 0, keepDim: true)
            let c = try x - m
            return (try m.reshape([-1]), try c.transpose(0, 1).matmul(c) / Double(x.size(0) - 1))
        }
        try self.init(count: features.size(0), mean: mu, covariance: cov)
    }

    private init(count: Int, mean: Tensor, covariance: Tensor) throws {
        guard count >= 2 else { throw MetricsError.invalidInput("statistics need at least 2 samples, got \(count)") }
        let d = mean.count
        guard d > 0, covariance.shape == [d, d] else {
            throw MetricsError.invalidInput("covariance of shape \(covariance.shape) for a \(d)-d mean")
        }
        let worst = try Swift.max(mean.abs().max().item(), covariance.abs().max().item())
        guard worst.isFinite else { throw MetricsError.invalidInput("statistics contain NaN or infinite values") }
        self.count = count
        dimension = d
        self.mean = mean
        self.covariance = covariance
    }
}
