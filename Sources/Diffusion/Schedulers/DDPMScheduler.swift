import Torch
import Foundation

/// Ancestral DDPM sampling (Ho et al. 2020; the paper's Eq. 4).
///
/// Each step predicts x̂_0 = (x_t − √(1-ᾱ_t) ε_θ)/√ᾱ_t (Eq. 5), optionally clips it to [-1, 1], and samples
/// x_{t'} ~ N(μ̃, σ²I) with the posterior mean μ̃ = √ᾱ_{t'} β'_t/(1-ᾱ_t) · x̂_0 + √α'_t (1-ᾱ_{t'})/(1-ᾱ_t) · x_t,
/// where t' is the next planned timestep, α'_t = ᾱ_t/ᾱ_{t'} and β'_t = 1 − α'_t. With all T steps and no
/// clipping this is exactly Eq. 4, x_{t-1} = (x_t − β_t/√(1-ᾱ_t) ε_θ)/√α_t + σ_t z (the paper prints
/// √(1-α_t) where ᾱ_t is meant). No noise is added on the last step (t = 0).
///
/// Variance: `.posterior` is σ_t² = β̃_t = (1-ᾱ_{t'})/(1-ᾱ_t) · β'_t (diffusers' default "fixed_small",
/// clamped at 1e-20); `.beta` is σ_t² = β'_t ("fixed_large"). Fewer than T steps use the same formulas
/// between planned timesteps (with the default `.leading` spacing this equals diffusers' DDPMScheduler).
public final class DDPMScheduler: Scheduler {
    public enum Variance: String, Codable, Sendable { case posterior, beta }

    public let schedule: NoiseSchedule
    public let variance: Variance
    public let clipSample: Bool
    public let spacing: TimestepSpacing
    public private(set) var timesteps: [Int] = []
    public var name: String { "ddpm" }

    public init(schedule: NoiseSchedule, variance: Variance = .posterior, clipSample: Bool = true, spacing: TimestepSpacing = .leading) {
        self.schedule = schedule
        self.variance = variance
        self.clipSample = clipSample
        self.spacing = spacing
    }

    @discardableResult
    public func setTimesteps(count: Int) throws -> [Int] {
        timesteps = try spacing.timesteps(count: count, trainTimesteps: schedule.trainTimesteps)
        return timesteps
    }

    public func step(modelOutput: Tensor, timestep t: Int, sample: Tensor, noise: NoiseSource?) throws -> Tensor {
        let i = try planIndex(of: t, modelOutput: modelOutput, sample: sample)
        let prev = previousTimestep(after: i)
        // Scalars in float32, in the order diffusers evaluates them, so trajectories match its numbers.
        let abar = alphaBar(t), abarPrev = alphaBar(prev)
        let betaProd = 1 - abar, betaProdPrev = 1 - abarPrev
        let stepAlpha = abar / abarPrev
        let stepBeta = 1 - stepAlpha

        var x0 = try (sample - modelOutput * Double(betaProd.squareRoot())) / Double(abar.squareRoot())
        if clipSample { x0 = try x0.clamp(min: -1, max: 1) }
        let x0Coefficient = (abarPrev.squareRoot() * stepBeta) / betaProd
        let sampleCoefficient = stepAlpha.squareRoot() * betaProdPrev / betaProd
        let mean = try x0 * Double(x0Coefficient) + sample * Double(sampleCoefficient)
        guard t > 0 else { return mean }

        let sigmaSquared: Float
        switch variance {
        case .posterior: sigmaSquared = max((1 - abarPrev) / (1 - abar) * stepBeta, 1e-20)
        case .beta: sigmaSquared = stepBeta
        }
        let z = try gaussianNoise(like: sample, noise: noise)
        return try mean + z * Double(sigmaSquared.squareRoot())
    }
}
