import Foundation

/// Generates faces with a trained TGDM denoiser: the source is encoded once (Φ_E), then any `Scheduler`
/// runs the reverse process from Gaussian noise, each step calling ε_θ(Z_t, F_s, I_3d, ρ̂, t).
public struct TGDMSampler {
    public let model: TGDMUNet
    public let schedule: NoiseSchedule

    public init(model: TGDMUNet, schedule: NoiseSchedule) {
        self.model = model
        self.schedule = schedule
    }

    /// Samples with a configured sampler (kind, steps, η, seed). Images [B, C, H, W] in [-1, 1]; `render`
    /// may be nil only for the `.noRender` variant; coefficients [B, D]. Returns [B, C, H, W] clamped to [-1, 1].
    public func generate(source: Tensor, render: Tensor?, coefficients: Tensor, config: SamplerConfiguration,
                         progress: DiffusionSampler.Progress? = nil) throws -> Tensor {
        let scheduler = try config.makeScheduler(schedule: schedule)
        return try generate(source: source, render: render, coefficients: coefficients, scheduler: scheduler,
                            generator: config.makeGenerator(), progress: progress)
    }

    /// Samples with a scheduler whose timesteps are already planned.
    public func generate(source: Tensor, render: Tensor?, coefficients: Tensor, scheduler: Scheduler, generator: Generator,
                         progress: DiffusionSampler.Progress? = nil) throws -> Tensor {
        guard scheduler.schedule.trainTimesteps == schedule.trainTimesteps else {
            throw TGDMError.invalidInput("the scheduler's schedule has \(scheduler.schedule.trainTimesteps) steps, the model was trained with \(schedule.trainTimesteps)")
        }
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        let device = model.device
        return try Torch.noGrad {
            let src = try model.encodeSource(source.to(device))
            let rnd = try render?.to(device)
            let rho = try coefficients.to(device)
            let b = source.size(0)
            let denoise: DiffusionSampler.Denoiser = { x, t in
                let ts = try Tensor.full([b], Double(t), dtype: .int64, device: device)
                return try model.predictNoise(noisy: x, timesteps: ts, source: src, render: rnd, coefficients: rho).noise
            }
            let out = try DiffusionSampler.sample(model: denoise, shape: source.shape, scheduler: scheduler, generator: generator,
                                                  device: device, progress: progress)
            return try out.clamp(min: -1, max: 1)
        }
    }

    /// The TexAtt attention maps (Fig. 7) of one denoiser evaluation at timestep `t` on x_t, keyed by module path.
    public func attentionMaps(noisy: Tensor, timestep: Int, source: Tensor, render: Tensor?, coefficients: Tensor) throws -> [String: Tensor] {
        try Torch.noGrad {
            let ts = try Tensor.full([noisy.size(0)], Double(timestep), dtype: .int64)
            return try model.predictNoise(noisy: noisy, timesteps: ts, source: model.encodeSource(source), render: render,
                                          coefficients: coefficients, returnAttention: true).attention
        }
    }
}
