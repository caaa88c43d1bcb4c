import Foundation
import Torch

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

    /// Side of SSIM's Gaussian window and its σ (Wang et al. 2004; skimage's `gaussian_weights=True`).
    public static let ssimWindow = 11
    public static let ssimSigma = 1.5

    /// Per-image SSIM (Wang et al. 2004) on images mapped to [0, 1] (data range 1): 11×11 Gaussian window,
    /// σ = 1.5, K₁ = 0.01, K₂ = 0.03, population (not sample) covariances, computed per channel over the
    /// windows that fit inside the image and averaged over channels and windows — skimage's
    /// `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)`
    /// with `channel_axis`. 1 for identical images. Images need at least 11×11 pixels.
    public static func ssim(_ a: Tensor, _ b: Tensor) throws -> [Double] {
        let (x0, y0) = try batched(a, b)
        let n = ssimWindow
        guard x0.size(2) >= n, x0.size(3) >= n else {
            throw EvaluationError.invalidInput("SSIM needs images of at least \(n)×\(n) pixels, got \(x0.size(3))×\(x0.size(2))")
        }
        // Double precision: the variances are differences of nearly equal means.
        let x = try (x0.to(.float64) + 1) / 2, y = try (y0.to(.float64) + 1) / 2
        let c = x.size(1)
        let half = Double(n / 2)
        let g = (0..<n).map { Foundation.exp(-(Double($0) - half) * (Double($0) - half) / (2 * ssimSigma * ssimSigma)) }
        let total = g.reduce(0, +)
        let kernel1d = g.map { $0 / total }
        let kernel = (0..<(n * n)).map { kernel1d[$0 / n] * kernel1d[$0 % n] }
        let w = try Tensor(kernel, shape: [1, 1, n, n]).to(.float64).expand([c, 1, n, n]).contiguous()
        func filter(_ t: Tensor) throws -> Tensor { try F.conv2d(t, w, groups: c) }
        let mx = try filter(x), my = try filter(y)
        let vx = try filter(x * x) - mx * mx, vy = try filter(y * y) - my * my, cxy = try filter(x * y) - mx * my
        let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03
        let num = try (2.0 * mx * my + c1) * (2.0 * cxy + c2)
        let den = try (mx * mx + my * my + c1) * (vx + vy + c2)
        return try (num / den).mean([1, 2, 3]).toArray(Double.self)
    }

    /// Both as float32 [B, C, H, W] of equal shape with finite values.
    static func batched(_ a: Tensor, _ b: Tensor) throws -> (Tensor, Tensor) {
        guard a.shape == b.shape, a.rank == 3 || a.rank == 4 else {
            throw EvaluationError.invalidInput("image metrics need two [C,H,W] or [B,C,H,W] images of one shape, got \(a.shape) and \(b.shape)")
        }
        let x = try (a.rank == 3 ? a.unsqueeze(0) : a).to(.cpu).to(.float32)
        let y = try (b.rank == 3 ? b.unsqueeze(0) : b).to(.cpu).to(.float32)
        for t in [x, y] {
            // max propagates NaN, so one reduction catches NaN and infinities.
            guard try t.abs().max().item().isFinite else { throw EvaluationError.invalidInput("image metrics got NaN or infinite pixels") }
        }
        return (x, y)
    }
}
