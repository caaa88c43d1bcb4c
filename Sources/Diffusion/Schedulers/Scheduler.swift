import Torch
import Foundation

/// A reverse-process sampler in the style of diffusers' schedulers: plan the timesteps with
/// `setTimesteps(count:)`, then call `step` once per planned timestep, in order, with the denoiser's
/// ε-prediction at that timestep. Multistep samplers keep history between calls, so one scheduler
/// instance serves one sampling run at a time; `setTimesteps` resets it.
public protocol Scheduler: AnyObject {
    /// The forward process the denoiser was trained with.
    var schedule: NoiseSchedule { get }
    /// The planned timesteps, in the order they are visited (descending), 0-based.
    var timesteps: [Int] { get }
    /// A short name for logs ("ddpm", "ddim", "dpm-solver++2m").
    var name: String { get }
    /// Plans `count` inference steps (1...T) and clears any history. Returns the timesteps.
    @discardableResult
    func setTimesteps(count: Int) throws -> [Int]
    /// Prepares a run that starts at plan position `index` instead of 0 (image-to-image sampling from a
    /// noised image: SDEdit, diffusers' `strength`). Clears any multistep history.
    func begin(at index: Int) throws
    /// x_{t_prev} from x_t and the model's ε-prediction at `timestep`. `noise` draws any fresh noise.
    func step(modelOutput: Tensor, timestep: Int, sample: Tensor, noise: NoiseSource?) throws -> Tensor
}

extension Scheduler {
    /// `step` with independent noise per batch element drawn from `generator` (diffusers' convention).
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, generator: Generator?) throws -> Tensor {
        try step(modelOutput: modelOutput, timestep: timestep, sample: sample, noise: generator.map { NoiseSource($0) })
    }
}

/// Where the Gaussian noise of a sampling run comes from: a seeded generator on the CPU (so a seed gives the
/// same numbers on every device and as `torch.randn(shape, generator=g)`), either independent per batch
/// element or one draw shared by the whole batch. Shared noise is what a video wants: every frame of a job
/// then starts from, and is perturbed by, the same noise, so frames differ only where their conditions do.
public struct NoiseSource {
    public let generator: Generator
    public let sharedAcrossBatch: Bool

    public init(_ generator: Generator, sharedAcrossBatch: Bool = false) {
        self.generator = generator
        self.sharedAcrossBatch = sharedAcrossBatch
    }

    /// Standard-normal noise of `shape` on `device`.
    public func draw(_ shape: [Int], device: Device = .cpu) throws -> Tensor {
        var n: Tensor
        if sharedAcrossBatch, shape.count > 1, shape[0] > 1 {
            n = try Tensor.randn([1] + shape.dropFirst(), generator: generator, dtype: .float32).expand(shape)
        } else {
            n = try Tensor.randn(shape, generator: generator, dtype: .float32)
        }
        return device == .cpu ? n : try n.to(device)
    }
}

/// How `count` inference timesteps are picked from 0..<T (the names and formulas are diffusers').
public enum TimestepSpacing: String, Codable, Sendable, CaseIterable {
    /// k·⌊T/n⌋ for k = n-1 … 0: starts below T-1 and ends at 0 (DDPM/DDIM default in diffusers).
    case leading
    /// round(T − k·T/n) − 1 for k = 0 … n-1: starts at T-1, the choice that reaches the noisiest step
    /// (recommended for few steps, "Common Diffusion Noise Schedules and Sample Steps are Flawed").
    case trailing
    /// round(linspace(0, T-1, n)) reversed: starts at T-1 and ends at 0.
    case linspace

    /// The timesteps in visiting order (descending).
    public func timesteps(count n: Int, trainTimesteps T: Int) throws -> [Int] {
        guard n >= 1, n <= T else {
            throw DiffusionError.invalidArgument("number of inference steps must be in 1...\(T), got \(n)")
        }
        switch self {
        case .leading:
            let ratio = T / n
            return (0..<n).reversed().map { $0 * ratio }
        case .trailing:
            let ratio = Double(T) / Double(n)
            return (0..<n).map { Int((Double(T) - Double($0) * ratio).rounded(.toNearestOrEven)) - 1 }
        case .linspace:
            if n == 1 { return [0] }
            let last = Double(T - 1)
            return (0..<n).reversed().map { Int((Double($0) * last / Double(n - 1)).rounded(.toNearestOrEven)) }
        }
    }
}

extension Scheduler {
    public func begin(at index: Int) throws {
        guard index >= 0, index < timesteps.count else {
            throw DiffusionError.invalidArgument("\(name): start position \(index) outside the \(timesteps.count) planned steps")
        }
    }

    /// The timestep after `index` in the plan, or -1 past the end (where ᾱ = 1, the clean image).
    func previousTimestep(after index: Int) -> Int {
        index + 1 < timesteps.count ? timesteps[index + 1] : -1
    }

    /// ᾱ at a planned timestep, with ᾱ_{-1} = 1 (diffusers' `set_alpha_to_one` / `self.one`).
    func alphaBar(_ t: Int) -> Float { t >= 0 ? schedule.alphasCumprod[t] : 1 }

    /// The index of `timestep` in the plan, checking the plan exists and the sample matches the model output.
    func planIndex(of timestep: Int, modelOutput: Tensor, sample: Tensor) throws -> Int {
        guard !timesteps.isEmpty else { throw DiffusionError.invalidArgument("\(name): call setTimesteps(count:) before step") }
        guard let i = timesteps.firstIndex(of: timestep) else {
            throw DiffusionError.invalidArgument("\(name): timestep \(timestep) is not in the planned timesteps")
        }
        guard modelOutput.shape == sample.shape else {
            throw DiffusionError.invalidArgument("\(name): model output \(modelOutput.shape) does not match the sample \(sample.shape)")
        }
        return i
    }
}

/// Standard-normal noise shaped like `like` (on its device), from `noise` or libtorch's default generator.
func gaussianNoise(like: Tensor, noise: NoiseSource?) throws -> Tensor {
    if let noise { return try noise.draw(like.shape, device: like.device) }
    let n = try Tensor.randn(like.shape, dtype: .float32)
    return like.device == .cpu ? n : try n.to(like.device)
}
