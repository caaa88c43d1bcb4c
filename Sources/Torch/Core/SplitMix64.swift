import Foundation

/// A tiny, fast, seedable generator (SplitMix64) for the scalar random choices of data pipelines: a
/// value depends only on its seed, so generated data and resumed training runs are reproducible bit for
/// bit. Tensors are drawn with libtorch's `Generator` instead.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { Float.random(in: lo..<hi, using: &self) }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = Swift.max(Float.random(in: 0..<1, using: &self), 1e-7), u2 = Float.random(in: 0..<1, using: &self)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }

    /// Gamma(2, scale), mean 2·scale: the sum of two exponential waits, the right-skewed waiting time of blinks and
    /// glances (issue #22).
    public mutating func gamma2(scale: Double) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self), u2 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        return -scale * (Foundation.log(u1) + Foundation.log(u2))
    }

    /// True with probability p.
    public mutating func chance(_ p: Float) -> Bool { Float.random(in: 0..<1, using: &self) < p }
}
