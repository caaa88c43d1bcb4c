import Torch
import Foundation

/// Which sampler to run, with how many steps, and the seed of its noise. Plain data (Codable) so a CLI
/// flag set or a JSON file can describe it.
public struct SamplerConfiguration: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case ddpm
        case ddim
        case dpmSolver = "dpm-solver++"
    }

    public var kind: Kind
    public var steps: Int
    /// DDIM's η (0 = deterministic). Ignored by the other samplers.
    public var eta: Double
    public var seed: UInt64
    /// nil picks each sampler's default (`.leading` for DDPM/DDIM, `.linspace` for DPM-Solver++).
    public var spacing: TimestepSpacing?
    /// Clip x̂_0 to [-1, 1] inside each step; nil picks the sampler's default (on for DDPM/DDIM, off for DPM-Solver++).
    public var clipSample: Bool?
    /// One noise draw for the whole batch (see `NoiseSource`): the frames of a video then share their noise.
    public var sharedNoise: Bool

    public init(kind: Kind = .ddim, steps: Int = 50, eta: Double = 0, seed: UInt64 = 0,
                spacing: TimestepSpacing? = nil, clipSample: Bool? = nil, sharedNoise: Bool = false) {
        self.kind = kind
        self.steps = steps
        self.eta = eta
        self.seed = seed
        self.spacing = spacing
        self.clipSample = clipSample
        self.sharedNoise = sharedNoise
    }

    enum CodingKeys: String, CodingKey { case kind, steps, eta, seed, spacing, clipSample, sharedNoise }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        steps = try c.decode(Int.self, forKey: .steps)
        eta = try c.decodeIfPresent(Double.self, forKey: .eta) ?? 0
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        spacing = try c.decodeIfPresent(TimestepSpacing.self, forKey: .spacing)
        clipSample = try c.decodeIfPresent(Bool.self, forKey: .clipSample)
        sharedNoise = try c.decodeIfPresent(Bool.self, forKey: .sharedNoise) ?? false
    }

    public func validate(trainTimesteps: Int) throws {
        guard steps >= 1, steps <= trainTimesteps else {
            throw DiffusionError.invalidArgument("sampler steps must be in 1...\(trainTimesteps), got \(steps)")
        }
        guard eta.isFinite, eta >= 0, eta <= 1 else {
            throw DiffusionError.invalidArgument("eta must be in [0, 1], got \(eta)")
        }
    }

    /// A fresh scheduler of this kind, with its timesteps already planned.
    public func makeScheduler(schedule: NoiseSchedule) throws -> Scheduler {
        try validate(trainTimesteps: schedule.trainTimesteps)
        let scheduler: Scheduler
        switch kind {
        case .ddpm:
            scheduler = DDPMScheduler(schedule: schedule, clipSample: clipSample ?? true, spacing: spacing ?? .leading)
        case .ddim:
            scheduler = try DDIMScheduler(schedule: schedule, eta: eta, clipSample: clipSample ?? true, spacing: spacing ?? .leading)
        case .dpmSolver:
            scheduler = DPMSolverMultistepScheduler(schedule: schedule, spacing: spacing ?? .linspace, clipSample: clipSample ?? false)
        }
        try scheduler.setTimesteps(count: steps)
        return scheduler
    }

    public func makeGenerator() -> Generator { Generator(seed: seed) }

    /// The noise of one run: a fresh generator seeded with `seed`, shared across the batch when asked.
    public func makeNoise() -> NoiseSource { NoiseSource(makeGenerator(), sharedAcrossBatch: sharedNoise) }
}
