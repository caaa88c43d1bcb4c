import Diffusion
import Foundation
import Torch

/// Generates faces with a trained TGDM denoiser: the conditions are prepared once (`TGDMUNet.prepare`), then
/// any `Scheduler` runs the reverse process, each step calling ε_θ(Z_t, F_s, I_3d, ρ̂, t) and nothing else.
public struct TGDMSampler {
    public let model: TGDMUNet
    public let schedule: NoiseSchedule

    public init(model: TGDMUNet, schedule: NoiseSchedule) {
        self.model = model
        self.schedule = schedule
    }

    public init(bundle: TGDMModelBundle) {
        self.init(model: bundle.model, schedule: bundle.schedule)
    }

    /// The image-to-image start of warp models (SDEdit): the warped source where the warp is valid, I_3d where it
    /// is not, noised to `strength`. `warp` is the generator's warp input (warped image + validity, B×4×H×W).
    public static func warpStart(warp: Tensor, render: Tensor, strength: Double) throws -> SamplingStart {
        let mask = try warp.narrow(1, 3, 1)
        return .image(try warp.narrow(1, 0, 3) * mask + render * (1.0 - mask), strength: strength)
    }

    /// Samples a batch with prepared conditions (on the model's device). Returns [B, C, H, W] clamped to [-1, 1].
    public func generate(conditioning: TGDMConditioning, configuration: SamplerConfiguration, start: SamplingStart = .noise,
                         progress: DiffusionSampler.Progress? = nil) throws -> Tensor {
        let scheduler = try configuration.makeScheduler(schedule: schedule)
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        let device = model.device
        let shape = [conditioning.batch, model.config.imageChannels, conditioning.spatial.0, conditioning.spatial.1]
        return try Torch.noGrad {
            let denoise: DiffusionSampler.Denoiser = { x, t in
                // One timestep for the whole batch: Linear(emb(t)) is computed once and broadcast.
                let ts = try Tensor.full([1], Double(t), dtype: .int64, device: device)
                return try model.predictNoise(noisy: x, timesteps: ts, conditioning: conditioning).noise
            }
            let out = try DiffusionSampler.sample(model: denoise, shape: shape, scheduler: scheduler, noise: configuration.makeNoise(),
                                                  start: start, device: device, progress: progress)
            return try out.clamp(min: -1, max: 1)
        }
    }

    /// Validates and prepares the conditions, then samples. Images [B, C, H, W] in [-1, 1] (the source may be a
    /// single image shared by the batch); `render` may be nil only for the `.noRender` variant; coefficients
    /// [B, conditionInputDim].
    public func generate(source: Tensor, render: Tensor?, coefficients: Tensor, warp: Tensor? = nil, identity: Tensor? = nil,
                         config: SamplerConfiguration,
                         start: SamplingStart = .noise, progress: DiffusionSampler.Progress? = nil) throws -> Tensor {
        let device = model.device
        let conditioning = try Torch.noGrad {
            try model.prepare(source: model.encodeSource(source.to(device)), render: render?.to(device), coefficients: coefficients.to(device),
                              warp: warp?.to(device), identity: identity?.to(device))
        }
        return try generate(conditioning: conditioning, configuration: config, start: start, progress: progress)
    }

    /// The TexAtt attention maps (Fig. 7) of one denoiser evaluation at timestep `t` on x_t, keyed by module path.
    public func attentionMaps(noisy: Tensor, timestep: Int, source: Tensor, render: Tensor?, coefficients: Tensor,
                              warp: Tensor? = nil) throws -> [String: Tensor] {
        try Torch.noGrad {
            let ts = try Tensor.full([1], Double(timestep), dtype: .int64)
            return try model.predictNoise(noisy: noisy, timesteps: ts, source: model.encodeSource(source), render: render,
                                          coefficients: coefficients, warp: warp, returnAttention: true).attention
        }
    }
}
