import Torch
import Foundation

/// The forward (noising) process of a DDPM (paper Sec. 3.1, Eq. 1-2):
/// q(x_t | x_{t-1}) = N(√(1-β_t) x_{t-1}, β_t I) and q(x_t | x_0) = N(√ᾱ_t x_0, (1-ᾱ_t) I), ᾱ_t = Π_{s≤t} (1-β_s).
///
/// Timesteps are 0-based as in diffusers: index `t` in 0..<T is the paper's step t+1, so `alphasCumprod[0]`
/// is ᾱ_1 = 1-β_1 and `alphasCumprod[T-1]` is ᾱ_T.
///
/// Values are float32 and computed the way torch/diffusers compute them (betas from `torch.linspace`
/// in float32, the cumulative product accumulated in double and stored as float32), so a schedule here
/// equals `DDPMScheduler().alphas_cumprod` bit for bit; the tests check this.
public struct NoiseSchedule: Sendable {
    /// How a linear schedule is described in a model file (diffusers' `scheduler_config.json` in spirit), so
    /// a model carries the schedule it was trained with.
    public struct Linear: Codable, Equatable, Sendable {
        public var trainTimesteps = 1000
        public var betaStart = 1e-4
        public var betaEnd = 0.02
        public init(trainTimesteps: Int = 1000, betaStart: Double = 1e-4, betaEnd: Double = 0.02) {
            self.trainTimesteps = trainTimesteps
            self.betaStart = betaStart
            self.betaEnd = betaEnd
        }
        /// The paper's schedule (Sec. 5.1): T = 1000, β linear from 1e-4 to 0.02.
        public static let paper = Linear()
    }

    public let betas: [Float]
    /// The description this schedule was built from (nil for explicit betas).
    public let linear: Linear?
    public let alphas: [Float]
    public let alphasCumprod: [Float]
    /// ᾱ as a CPU tensor, for gathering per-sample coefficients.
    let alphasCumprodTensor: Tensor

    public var trainTimesteps: Int { betas.count }

    /// The paper's schedule: β linear from `betaStart` to `betaEnd` over `trainTimesteps` steps
    /// (T = 1000, 1e-4 to 0.02, Sec. 5.1).
    public init(trainTimesteps: Int = 1000, betaStart: Double = 1e-4, betaEnd: Double = 0.02) throws {
        guard trainTimesteps >= 2, trainTimesteps <= 100_000 else {
            throw DiffusionError.invalidArgument("trainTimesteps must be in 2...100000, got \(trainTimesteps)")
        }
        guard betaStart > 0, betaEnd < 1, betaStart <= betaEnd else {
            throw DiffusionError.invalidArgument("need 0 < betaStart <= betaEnd < 1, got \(betaStart), \(betaEnd)")
        }
        let betas = try Tensor.linspace(betaStart, betaEnd, steps: trainTimesteps, dtype: .float32).floats()
        try self.init(betas: betas, linear: Linear(trainTimesteps: trainTimesteps, betaStart: betaStart, betaEnd: betaEnd))
    }

    public init(_ linear: Linear) throws {
        try self.init(trainTimesteps: linear.trainTimesteps, betaStart: linear.betaStart, betaEnd: linear.betaEnd)
    }

    /// A schedule from explicit betas, each in (0, 1).
    public init(betas: [Float]) throws { try self.init(betas: betas, linear: nil) }

    private init(betas: [Float], linear: Linear?) throws {
        self.linear = linear
        guard betas.count >= 2 else { throw DiffusionError.invalidArgument("a schedule needs at least 2 betas") }
        guard betas.allSatisfy({ $0 > 0 && $0 < 1 }) else {
            throw DiffusionError.invalidArgument("every beta must be in (0, 1)")
        }
        self.betas = betas
        alphas = betas.map { 1 - $0 }
        var running = 1.0
        var cumprod: [Float] = []
        cumprod.reserveCapacity(betas.count)
        for a in alphas {
            running *= Double(a)
            cumprod.append(Float(running))
        }
        alphasCumprod = cumprod
        alphasCumprodTensor = try Tensor(cumprod)
    }

    func checkTimestep(_ t: Int) throws {
        guard t >= 0, t < trainTimesteps else {
            throw DiffusionError.invalidArgument("timestep \(t) outside 0..<\(trainTimesteps)")
        }
    }

    /// √ᾱ_t and √(1-ᾱ_t) for a batch of int64 timesteps, shaped [B, 1, ..., 1] to broadcast over `rank` dims.
    func coefficients(_ timesteps: Tensor, rank: Int, device: Device) throws -> (signal: Tensor, noise: Tensor) {
        guard timesteps.rank == 1 else {
            throw DiffusionError.invalidArgument("timesteps must be a 1-D tensor, got shape \(timesteps.shape)")
        }
        let cpu = try timesteps.to(.cpu).to(.int64)
        let values = try cpu.toArray(Int64.self)
        if let bad = values.first(where: { $0 < 0 || $0 >= Int64(trainTimesteps) }) {
            throw DiffusionError.invalidArgument("timestep \(bad) outside 0..<\(trainTimesteps)")
        }
        let abar = try alphasCumprodTensor.indexSelect(0, cpu)
        let shape = [timesteps.count] + [Int](repeating: 1, count: max(rank - 1, 0))
        let signal = try abar.sqrt().reshape(shape).to(device)
        let noise = try (1.0 - abar).sqrt().reshape(shape).to(device)
        return (signal, noise)
    }

    private func checkBatch(_ a: Tensor, _ b: Tensor, _ timesteps: Tensor, _ names: (String, String)) throws {
        guard a.shape == b.shape else {
            throw DiffusionError.invalidArgument("\(names.0) \(a.shape) and \(names.1) \(b.shape) must have the same shape")
        }
        guard a.rank >= 1, timesteps.count == a.size(0) else {
            throw DiffusionError.invalidArgument("\(timesteps.count) timesteps for a batch of \(a.rank >= 1 ? a.size(0) : 0)")
        }
    }

    /// Eq. 2 by reparameterisation: x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, one timestep per batch element.
    public func addNoise(x0: Tensor, noise: Tensor, timesteps: Tensor) throws -> Tensor {
        try checkBatch(x0, noise, timesteps, ("x0", "noise"))
        let c = try coefficients(timesteps, rank: x0.rank, device: x0.device)
        return try c.signal * x0 + c.noise * noise
    }

    /// Eq. 2 with the same timestep for the whole batch.
    public func addNoise(x0: Tensor, noise: Tensor, timestep: Int) throws -> Tensor {
        try checkTimestep(timestep)
        return try addNoise(x0: x0, noise: noise, timesteps: Tensor.full([x0.rank >= 1 ? x0.size(0) : 1], Double(timestep), dtype: .int64))
    }

    /// Eq. 5 (with ᾱ_t, as in DDIM): x̂_0 = (x_t − √(1-ᾱ_t) ε_θ) / √ᾱ_t.
    public func predictX0(xt: Tensor, eps: Tensor, timesteps: Tensor) throws -> Tensor {
        try checkBatch(xt, eps, timesteps, ("x_t", "eps"))
        let c = try coefficients(timesteps, rank: xt.rank, device: xt.device)
        return try (xt - c.noise * eps) / c.signal
    }

    public func predictX0(xt: Tensor, eps: Tensor, timestep: Int) throws -> Tensor {
        try checkTimestep(timestep)
        return try predictX0(xt: xt, eps: eps, timesteps: Tensor.full([xt.rank >= 1 ? xt.size(0) : 1], Double(timestep), dtype: .int64))
    }

    /// The noise implied by x_t and an estimate of x_0: ε = (x_t − √ᾱ_t x̂_0) / √(1-ᾱ_t).
    public func predictNoise(xt: Tensor, x0: Tensor, timesteps: Tensor) throws -> Tensor {
        try checkBatch(xt, x0, timesteps, ("x_t", "x0"))
        let c = try coefficients(timesteps, rank: xt.rank, device: xt.device)
        return try (xt - c.signal * x0) / c.noise
    }
}
