import Foundation

/// How far two float32 computations of the same quantity may fall apart through rounding alone: the gate of a
/// parity test (Swift against the PyTorch reference, data parallel against one process, one kernel against
/// another). oneDNN and OpenBLAS pick kernels by the CPU's vector width, the thread count and the memory layout,
/// so sums are added in different orders on different machines; a gate must allow for that and nothing more.
///
/// The model is the probabilistic bound of Higham & Mary (2019, "A new approach to probabilistic rounding error
/// analysis"): a sum of n terms in precision u has a relative error of at most λ·√n·u with probability at least
/// 1 − 2n·exp(−λ²/2) (λ = 4: a chance of about 7·10⁻⁴·n of failing on a given output, far less in practice, since
/// rounding errors are not adversarial and those of the two paths are correlated). Two orders of the same sum
/// differ by at most twice one bound. A chain of layers adds the bound of each layer's accumulation, relative to
/// the magnitude of what it produces.
public enum RoundingBound {
    /// u = 2⁻²⁴, the unit roundoff of float32.
    public static let float32UnitRoundoff = Double(Float.ulpOfOne) / 2

    /// |a − b| for two float32 evaluations of a sum of `length` terms whose result has size `magnitude`
    /// (use the sum of the terms' absolute values where cancellation can make the result small).
    public static func float32(accumulating length: Int, magnitude: Double, lambda: Double = 4) -> Double {
        2 * lambda * Double(max(length, 1)).squareRoot() * float32UnitRoundoff * magnitude
    }

    /// The same for a chain of accumulations (e.g. conv layers of fan-in Cin·k·k each), relative errors adding
    /// up along the chain.
    public static func float32(accumulatingChain lengths: [Int], magnitude: Double, lambda: Double = 4) -> Double {
        lengths.reduce(0) { $0 + float32(accumulating: $1, magnitude: magnitude, lambda: lambda) }
    }

    /// How far Adam's first step (θ −= lr·g/(|g|+ε), weight decay aside) can move a weight of size `parameter`
    /// when its gradient `gradient` is known to within `gradientError`: lr·ε·δ/((|g|+ε)(|g|−δ+ε)), large only
    /// for gradients near ε (where the step itself is unsure) and never more than 2·lr (a sign flip), plus
    /// rounding: the new weight rounded on each side (2u·|θ| each, with `parameter` the larger of the weight
    /// before and after) and the direction m̂/(√v̂+ε) after its half-dozen float operations (≈ 8u·lr each side).
    public static func adamFirstStep(gradient: Double, gradientError: Double, parameter: Double,
                                     learningRate lr: Double, eps: Double) -> Double {
        let a = Swift.abs(gradient), closer = a - gradientError + eps
        let step = lr * (closer > 0 ? Swift.min(2, eps * gradientError / ((a + eps) * closer)) : 2)
        return step + float32UnitRoundoff * (4 * Swift.abs(parameter) + 16 * lr)
    }
}
