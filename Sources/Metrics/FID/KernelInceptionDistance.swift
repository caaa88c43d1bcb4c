import Foundation
import Torch

/// The Kernel Inception Distance (Bińkowski et al. 2018): the unbiased estimate of the squared MMD between
/// two feature sets under the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over random
/// subsets of equal size, as StyleGAN2-ADA's `kernel_inception_distance` and clean-fid compute it:
///
///   MMD²ᵤ = [Σ_{i≠j} k(xᵢ,xⱼ) + Σ_{i≠j} k(yᵢ,yⱼ)] / (m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ) / m²
///
/// Unbiased, so it can be slightly negative when the sets match, and meaningful for tens of samples where
/// FID is not. Subsets are drawn without replacement from a seeded generator.
public enum KernelInceptionDistance {
    public struct Result: Sendable, Equatable {
        /// Mean MMD² over the subsets (the KID).
        public var mean: Double
        /// Standard deviation of MMD² over the subsets (0 for one subset).
        public var std: Double
        public var subsets: Int
        public var subsetSize: Int
    }

    /// KID between N₁×d and N₂×d features. The subset size is min(N₁, N₂, `maxSubsetSize`); with a subset
    /// as large as both sets, every subset is the whole set and one suffices.
    public static func compute(_ a: Tensor, _ b: Tensor, subsets: Int = 100, maxSubsetSize: Int = 1000, seed: UInt64 = 0) throws -> Result {
        try compute(a, b, subsets: subsets, maxSubsetSize: maxSubsetSize, seed: seed, precomputeLimit: 4096)
    }

    /// `precomputeLimit`: the largest set for which the full kernel matrices are computed once.
    static func compute(_ a: Tensor, _ b: Tensor, subsets: Int, maxSubsetSize: Int, seed: UInt64, precomputeLimit: Int) throws -> Result {
        guard a.rank == 2, b.rank == 2, a.size(1) == b.size(1), a.size(1) > 0 else {
            throw MetricsError.invalidInput("KID needs two N×d feature matrices with the same d, got \(a.shape) and \(b.shape)")
        }
        let m = Swift.min(a.size(0), b.size(0), maxSubsetSize)
        guard m >= 2 else { throw MetricsError.invalidInput("KID needs at least 2 samples per set, got \(a.size(0)) and \(b.size(0))") }
        guard subsets >= 1 else { throw MetricsError.invalidInput("KID needs at least one subset, got \(subsets)") }
        return try Torch.noGrad {
            let x = try a.detach().to(.cpu).to(.float64), y = try b.detach().to(.cpu).to(.float64)
            guard try x.abs().max().item().isFinite, try y.abs().max().item().isFinite else {
                throw MetricsError.invalidInput("KID features contain NaN or infinite values")
            }
            let d = Double(x.size(1))
            let g = Generator(seed: seed)
            func kernel(_ p: Tensor, _ q: Tensor) throws -> Tensor { try (p.matmul(q.transpose(0, 1)) / d + 1).pow(3) }
            func subset(_ n: Int) throws -> Tensor? { n == m ? nil : try Tensor.randperm(n, generator: g).narrow(0, 0, m) }
            // Up to a few thousand samples the full kernel matrices are computed once and subsets only index
            // them (O(m²) per subset instead of O(m² d)); beyond that each subset computes its own.
            let full: (xx: Tensor, yy: Tensor, xy: Tensor)? = x.size(0) <= precomputeLimit && y.size(0) <= precomputeLimit
                ? (try kernel(x, x), try kernel(y, y), try kernel(x, y)) : nil
            var values: [Double] = []
            for _ in 0..<subsets {
                let ix = try subset(x.size(0)), iy = try subset(y.size(0))
                let kxx: Tensor, kyy: Tensor, kxy: Tensor
                if let full {
                    kxx = try pick(full.xx, rows: ix, columns: ix)
                    kyy = try pick(full.yy, rows: iy, columns: iy)
                    kxy = try pick(full.xy, rows: ix, columns: iy)
                } else {
                    let xs = try ix.map { try x.indexSelect(0, $0) } ?? x, ys = try iy.map { try y.indexSelect(0, $0) } ?? y
                    (kxx, kyy, kxy) = (try kernel(xs, xs), try kernel(ys, ys), try kernel(xs, ys))
                }
                let within = try kxx.sum().item() + kyy.sum().item() - diagonal(kxx) - diagonal(kyy)
                values.append(within / Double(m * (m - 1)) - 2 * (try kxy.sum().item()) / Double(m * m))
                // Without sampling every subset is the whole set: one evaluation says it all.
                if ix == nil && iy == nil { values += [Double](repeating: values[0], count: subsets - 1); break }
            }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            return Result(mean: mean, std: variance.squareRoot(), subsets: subsets, subsetSize: m)
        }
    }

    private static func pick(_ k: Tensor, rows: Tensor?, columns: Tensor?) throws -> Tensor {
        let r = try rows.map { try k.indexSelect(0, $0) } ?? k
        return try columns.map { try r.indexSelect(1, $0) } ?? r
    }

    private static func diagonal(_ k: Tensor) throws -> Double {
        let n = k.size(0)
        return try k.reshape([n * n]).slice(0, 0, n * n, step: n + 1).sum().item()
    }
}
