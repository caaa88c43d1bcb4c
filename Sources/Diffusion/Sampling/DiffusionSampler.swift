import Torch
import Foundation

/// Where the reverse process starts.
public enum SamplingStart {
    /// x_T ~ N(0, I): ordinary sampling over every planned step.
    case noise
    /// x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε from a given image (SDEdit; diffusers' image-to-image `strength`): the
    /// first ⌊n·(1−strength)⌉ planned steps are skipped, so strength 1 is plain sampling and 0.3 runs the
    /// last 30% of the plan. `image` has the sample's shape (or batch 1, broadcast).
    case image(Tensor, strength: Double)
}

/// The reverse-process loop shared by every scheduler.
public enum DiffusionSampler {
    /// The denoiser: (x_t, timestep) -> ε-prediction with x_t's shape.
    public typealias Denoiser = (_ sample: Tensor, _ timestep: Int) throws -> Tensor
    /// Called after each step with (completed steps, total); return false to cancel.
    public typealias Progress = (_ step: Int, _ total: Int) -> Bool

    /// The plan position a start begins at.
    public static func startIndex(_ start: SamplingStart, steps: Int) throws -> Int {
        guard case .image(_, let strength) = start else { return 0 }
        guard strength.isFinite, strength > 0, strength <= 1 else {
            throw DiffusionError.invalidArgument("image-to-image strength must be in (0, 1], got \(strength)")
        }
        return min(steps - 1, Int((Double(steps) * (1 - strength)).rounded()))
    }

    /// Runs the scheduler's planned timesteps (call `setTimesteps(count:)` first, or use the overload that
    /// takes a `SamplerConfiguration`) from `start`, drawing every noise from `noise`. Runs without autograd.
    ///
    /// The loop makes no host synchronisation: the model output is checked for NaN/∞ once, on the final
    /// sample (a non-finite step poisons everything after it), which throws `.nonFiniteModelOutput`.
    /// Throws `DiffusionError.cancelled` when `progress` returns false or the surrounding task is cancelled.
    public static func sample(model: Denoiser, shape: [Int], scheduler: Scheduler, noise: NoiseSource,
                              start: SamplingStart = .noise, device: Device = .cpu, progress: Progress? = nil) throws -> Tensor {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) <= 1 << 31 else {
            throw DiffusionError.invalidArgument("bad sample shape \(shape)")
        }
        let plan = scheduler.timesteps
        guard !plan.isEmpty else {
            throw DiffusionError.invalidArgument("\(scheduler.name): no timesteps planned; call setTimesteps(count:) first")
        }
        let first = try startIndex(start, steps: plan.count)
        try scheduler.begin(at: first)
        return try Torch.noGrad {
            var x = try noise.draw(shape, device: device)
            if case .image(let image, _) = start {
                guard image.rank == shape.count, image.size(0) == 1 || image.size(0) == shape[0],
                      Array(image.shape.dropFirst()) == Array(shape.dropFirst()) else {
                    throw DiffusionError.invalidArgument("start image \(image.shape) does not match the sample \(shape)")
                }
                let abar = Double(scheduler.schedule.alphasCumprod[plan[first]])
                x = try image.to(device) * abar.squareRoot() + x * (1 - abar).squareRoot()
            }
            for i in first..<plan.count {
                if Task.isCancelled { throw DiffusionError.cancelled(completedSteps: i - first, totalSteps: plan.count - first) }
                let t = plan[i]
                let eps = try model(x, t)
                guard eps.shape == x.shape else {
                    throw DiffusionError.invalidArgument("model output \(eps.shape) does not match the sample \(x.shape)")
                }
                x = try scheduler.step(modelOutput: eps, timestep: t, sample: x, noise: noise)
                if let progress, !progress(i + 1 - first, plan.count - first) {
                    throw DiffusionError.cancelled(completedSteps: i + 1 - first, totalSteps: plan.count - first)
                }
            }
            guard try x.isFinite() else { throw DiffusionError.nonFiniteModelOutput }
            return x
        }
    }

    /// `sample` with independent per-element noise from `generator`.
    public static func sample(model: Denoiser, shape: [Int], scheduler: Scheduler, generator: Generator,
                              device: Device = .cpu, progress: Progress? = nil) throws -> Tensor {
        try sample(model: model, shape: shape, scheduler: scheduler, noise: NoiseSource(generator), device: device, progress: progress)
    }

    /// Builds the configured scheduler and noise source and samples.
    public static func sample(model: Denoiser, shape: [Int], configuration: SamplerConfiguration, schedule: NoiseSchedule,
                              start: SamplingStart = .noise, device: Device = .cpu, progress: Progress? = nil) throws -> Tensor {
        let scheduler = try configuration.makeScheduler(schedule: schedule)
        return try sample(model: model, shape: shape, scheduler: scheduler, noise: configuration.makeNoise(), start: start,
                          device: device, progress: progress)
    }
}
