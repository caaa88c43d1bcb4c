import Foundation

/// The reverse-process loop shared by every scheduler.
public enum DiffusionSampler {
    /// The denoiser: (x_t, timestep) -> ε-prediction with x_t's shape.
    public typealias Denoiser = (_ sample: Tensor, _ timestep: Int) throws -> Tensor
    /// Called after each step with (completed steps, total); return false to cancel.
    public typealias Progress = (_ step: Int, _ total: Int) -> Bool

    /// Draws x_T ~ N(0, I) of `shape` from `generator` (on the CPU, then moved to `device`), and runs the
    /// scheduler's planned timesteps (call `setTimesteps(count:)` first, or use the overload that takes a
    /// `SamplerConfiguration`). Runs without autograd. Throws `DiffusionError.cancelled` when `progress`
    /// returns false or the surrounding Swift task is cancelled, and `.nonFiniteModelOutput` when the
    /// model returns NaN/∞.
    public static func sample(model: Denoiser, shape: [Int], scheduler: Scheduler, generator: Generator,
                              device: Device = .cpu, progress: Progress? = nil) throws -> Tensor {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) <= 1 << 31 else {
            throw DiffusionError.invalidArgument("bad sample shape \(shape)")
        }
        let plan = scheduler.timesteps
        guard !plan.isEmpty else {
            throw DiffusionError.invalidArgument("\(scheduler.name): no timesteps planned; call setTimesteps(count:) first")
        }
        return try Torch.noGrad {
            var x = try Tensor.randn(shape, generator: generator, dtype: .float32)
            if device != .cpu { x = try x.to(device) }
            for (i, t) in plan.enumerated() {
                if Task.isCancelled { throw DiffusionError.cancelled(completedSteps: i, totalSteps: plan.count) }
                let eps = try model(x, t)
                guard eps.shape == x.shape else {
                    throw DiffusionError.invalidArgument("model output \(eps.shape) does not match the sample \(x.shape)")
                }
                guard try eps.abs().max().item().isFinite else {
                    throw DiffusionError.nonFiniteModelOutput(step: i, timestep: t)
                }
                x = try scheduler.step(modelOutput: eps, timestep: t, sample: x, generator: generator)
                if let progress, !progress(i + 1, plan.count) {
                    throw DiffusionError.cancelled(completedSteps: i + 1, totalSteps: plan.count)
                }
            }
            return x
        }
    }

    /// Builds the configured scheduler and generator and samples.
    public static func sample(model: Denoiser, shape: [Int], configuration: SamplerConfiguration, schedule: NoiseSchedule,
                              device: Device = .cpu, progress: Progress? = nil) throws -> Tensor {
        let scheduler = try configuration.makeScheduler(schedule: schedule)
        return try sample(model: model, shape: shape, scheduler: scheduler, generator: configuration.makeGenerator(),
                          device: device, progress: progress)
    }
}
