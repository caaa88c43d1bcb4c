import Torch
import Foundation

/// DDIM (Song et al. 2021, Eq. 12): deterministic for η = 0, DDPM-like for η = 1, any number of steps.
///
/// x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε_θ + σ z, with σ = η √((1-ᾱ_{t'})/(1-ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}),
/// x̂_0 from Eq. 5 (clipped to [-1, 1] when `clipSample`), t' the next planned timestep and ᾱ_{-1} = 1.
/// Spacing: `.leading` (diffusers' default) starts at T − T/n and ends at 0; `.trailing` starts at T−1,
/// which is better with few steps. The next timestep is the next one in the plan; with `.leading`, and
/// with `.trailing` when n divides T, that is t − T/n exactly as in diffusers.
public final class DDIMScheduler: Scheduler {
    public let schedule: NoiseSchedule
    public let eta: Double
    public let clipSample: Bool
    public let spacing: TimestepSpacing
    public private(set) var timesteps: [Int] = []
    public var name: String { "ddim" }

    public init(schedule: NoiseSchedule, eta: Double = 0, clipSample: Bool = true, spacing: TimestepSpacing = .leading) throws {
        guard eta >= 0, eta <= 1 else { throw DiffusionError.invalidArgument("DDIM eta must be in [0, 1], got \(eta)") }
        self.schedule = schedule
        self.eta = eta
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
        let abar = alphaBar(t), abarPrev = alphaBar(prev)
        let betaProd = 1 - abar, betaProdPrev = 1 - abarPrev

        var x0 = try (sample - modelOutput * Double(betaProd.squareRoot())) / Double(abar.squareRoot())
        if clipSample { x0 = try x0.clamp(min: -1, max: 1) }
        let variance = (betaProdPrev / betaProd) * (1 - abar / abarPrev)
        let sigma = Float(eta) * variance.squareRoot()
        let direction = try modelOutput * Double((1 - abarPrev - sigma * sigma).squareRoot())
        let next = try x0 * Double(abarPrev.squareRoot()) + direction
        guard eta > 0 else { return next }
        let z = try gaussianNoise(like: sample, noise: noise)
        return try next + z * Double(sigma)
    }
}
