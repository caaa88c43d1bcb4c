import Torch
import Foundation

/// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
/// Probabilistic Models", Alg. 2): a deterministic second-order multistep solver of the diffusion ODE in
/// the data-prediction form. Good images in 15-25 steps where DDIM needs 50+.
///
/// With σ_s = √((1-ᾱ_s)/ᾱ_s), α_s = 1/√(σ_s²+1), s_s = σ_s α_s and λ_s = log α_s − log s_s, one step from
/// s0 to t with h = λ_t − λ_s0 is
///   x_t = (s_t/s_s0) x − α_t (e^{−h} − 1) (D0 + ½ D1),  D0 = x̂_0(s0), D1 = (x̂_0(s0) − x̂_0(s1)) · h/(λ_s0 − λ_s1),
/// the first step and the last step are first order (D1 = 0), and the final σ is 0 so the last step
/// returns x̂_0 (diffusers' defaults: solver_order 2, "midpoint", lower_order_final, final_sigmas_type
/// "zero", "linspace" spacing over n+1 points without the 0).
public final class DPMSolverMultistepScheduler: Scheduler {
    public let schedule: NoiseSchedule
    public let spacing: TimestepSpacing
    public let clipSample: Bool
    public private(set) var timesteps: [Int] = []
    public var name: String { "dpm-solver++2m" }

    /// σ at each planned timestep, then the final σ = 0.
    private var sigmas: [Float] = []
    private var stepIndex = 0
    private var previousX0: Tensor?

    /// `clipSample` clips x̂_0 to [-1, 1] (off by default, as in diffusers).
    public init(schedule: NoiseSchedule, spacing: TimestepSpacing = .linspace, clipSample: Bool = false) {
        self.schedule = schedule
        self.spacing = spacing
        self.clipSample = clipSample
    }

    @discardableResult
    public func setTimesteps(count n: Int) throws -> [Int] {
        let T = schedule.trainTimesteps
        guard n >= 1, n <= T else { throw DiffusionError.invalidArgument("number of inference steps must be in 1...\(T), got \(n)") }
        switch spacing {
        case .linspace:
            // n+1 points on [0, T-1], highest first, dropping the final 0.
            timesteps = (1...n).reversed().map { Int((Double($0) * Double(T - 1) / Double(n)).rounded(.toNearestOrEven)) }
        case .leading:
            let ratio = T / (n + 1)
            timesteps = (1...n).reversed().map { $0 * ratio }
        case .trailing:
            timesteps = try TimestepSpacing.trailing.timesteps(count: n, trainTimesteps: T)
        }
        sigmas = timesteps.map { t -> Float in
            let a = schedule.alphasCumprod[t]
            return ((1 - a) / a).squareRoot()
        } + [0]
        stepIndex = 0
        previousX0 = nil
        return timesteps
    }

    public func begin(at index: Int) throws {
        guard index >= 0, index < timesteps.count else {
            throw DiffusionError.invalidArgument("\(name): start position \(index) outside the \(timesteps.count) planned steps")
        }
        stepIndex = index
        previousX0 = nil   // the first step of the run is then first order, as at position 0
    }

    /// (α, s, λ) for a σ, in float32 as diffusers computes them. λ is +∞ for σ = 0.
    private func alphaSigmaLambda(_ sigma: Float) -> (alpha: Float, sigma: Float, lambda: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        let s = sigma * alpha
        return (alpha, s, Foundation.log(alpha) - Foundation.log(s))
    }

    public func step(modelOutput: Tensor, timestep t: Int, sample: Tensor, noise: NoiseSource?) throws -> Tensor {
        let i = try planIndex(of: t, modelOutput: modelOutput, sample: sample)
        guard i == stepIndex else {
            throw DiffusionError.invalidArgument("\(name): expected timestep \(timesteps[min(stepIndex, timesteps.count - 1)]) (step \(stepIndex)), got \(t); steps must follow the plan in order")
        }
        let current = alphaSigmaLambda(sigmas[i])
        var x0 = try (sample - modelOutput * Double(current.sigma)) / Double(current.alpha)
        if clipSample { x0 = try x0.clamp(min: -1, max: 1) }
        defer { previousX0 = x0; stepIndex += 1 }

        // The final σ is 0: the exact limit of the update is x̂_0 (α_t = 1, s_t = 0).
        if sigmas[i + 1] == 0 { return x0 }

        let next = alphaSigmaLambda(sigmas[i + 1])
        let h = next.lambda - current.lambda
        let ratio = Double(next.sigma / current.sigma)
        let phi = Double(next.alpha * (Foundation.exp(-h) - 1))
        guard i > 0, let m1 = previousX0 else {
            return try sample * ratio - x0 * phi
        }
        let previous = alphaSigmaLambda(sigmas[i - 1])
        let r0 = (current.lambda - previous.lambda) / h
        let d1 = try (x0 - m1) * Double(1 / r0)
        return try sample * ratio - x0 * phi - d1 * (0.5 * phi)
    }
}
