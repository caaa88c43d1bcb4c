import Torch
import XCTest
@testable import Diffusion

/// Compares every scheduler with diffusers 0.27.2 (scripts/fixtures/diffusion_ref.py): the schedule, Eq. 2
/// and Eq. 5, and full sampling trajectories driven by the same dummy denoiser and the same seeded noise.
final class SchedulerGoldenTests: XCTestCase {
    static var fixture: [String: Tensor] = [:]
    var schedule: NoiseSchedule!

    override class func setUp() {
        useOneThread()
        guard let url = Bundle.module.url(forResource: "diffusion_ref", withExtension: "safetensors", subdirectory: "Fixtures"),
              let f = try? Safetensors.load(url) else { return }
        fixture = f.tensors
    }

    override func setUpWithError() throws {
        XCTAssertFalse(Self.fixture.isEmpty, "fixture diffusion_ref.safetensors is missing")
        schedule = try NoiseSchedule()
    }

    func ref(_ key: String) throws -> Tensor {
        guard let t = Self.fixture[key] else { throw DiffusionError.invalidArgument("fixture has no '\(key)'") }
        return t
    }

    /// max |a - b| / (1 + |b|) over all elements.
    func maxError(_ a: Tensor, _ b: Tensor) throws -> Double {
        XCTAssertEqual(a.shape, b.shape)
        return try ((a - b).abs() / (b.abs() + 1)).max().item()
    }

    func testScheduleMatchesDiffusersExactly() throws {
        // Exact: the same libtorch linspace kernel, and torch's CPU cumprod is a sequential double accumulator
        // rounded to float at each step, which the schedule repeats; there is no order to change.
        XCTAssertEqual(schedule.betas, try ref("betas").floats())
        XCTAssertEqual(schedule.alphasCumprod, try ref("alphas_cumprod").floats())
        XCTAssertEqual(schedule.betas.first!, 1e-4, accuracy: 1e-9)   // the float32 nearest the decimal: ≤ ½ ulp = 4e-12
        XCTAssertEqual(schedule.betas.last!, 0.02, accuracy: 1e-9)     // ≤ ½ ulp = 9e-10
        XCTAssertEqual(schedule.trainTimesteps, 1000)
    }

    func testAddNoiseAndPredictX0() throws {
        let x0 = try ref("add_noise.x0"), noise = try ref("add_noise.noise"), ts = try ref("add_noise.timesteps")
        let noisy = try schedule.addNoise(x0: x0, noise: noise, timesteps: ts)
        // Eq. 2 sums two products (plus √ of ᾱ rounded on each side): n = 3, relative to the terms' sizes.
        let noiseGate = try RoundingBound.float32(accumulating: 3, magnitude: (x0.abs() + noise.abs()).max().item())
        let noisyDiff = try (noisy - ref("add_noise.noisy")).abs().max().item()
        XCTAssertLessThan(noisyDiff, noiseGate)
        // Eq. 5 divides the same sum by √ᾱ_t (0.022 at t = 871), and Eq. 5 for ε by √(1 − ᾱ_t) (0.024 at t = 3):
        // the rounding of the terms is magnified by that much. Each path rounds 3 times; a round trip twice that.
        let abar = schedule.alphasCumprod, sizes = try (noisy.abs() + noise.abs() + x0.abs()).max().item()
        let timesteps = try ts.toArray(Int64.self).map(Int.init)
        let x0Terms = sizes / Double(timesteps.map { abar[$0] }.min()!).squareRoot()
        let epsTerms = sizes / Double(timesteps.map { 1 - abar[$0] }.min()!).squareRoot()
        let x0Hat = try schedule.predictX0(xt: noisy, eps: noise, timesteps: ts)
        let x0Diff = try (x0Hat - ref("predict_x0.x0")).abs().max().item()
        XCTAssertLessThan(x0Diff, RoundingBound.float32(accumulating: 3, magnitude: x0Terms))
        // Eq. 5 inverts Eq. 2.
        let roundTrip = try (x0Hat - x0).abs().max().item()
        XCTAssertLessThan(roundTrip, RoundingBound.float32(accumulating: 6, magnitude: x0Terms))
        let epsBack = try schedule.predictNoise(xt: noisy, x0: x0, timesteps: ts)
        let epsDiff = try (epsBack - noise).abs().max().item()
        XCTAssertLessThan(epsDiff, RoundingBound.float32(accumulating: 6, magnitude: epsTerms))
        print("Eq. 2/5 vs diffusers: noisy \(noisyDiff) (gate \(noiseGate)), x0 \(x0Diff), round trips x0 \(roundTrip) eps \(epsDiff)")
    }

    /// The fixture's denoiser: 0.8 (x − √ᾱ_t target)/√(1−ᾱ_t) + 0.2 tanh(x).
    func dummyModel(_ target: Tensor) -> DiffusionSampler.Denoiser {
        let abar = schedule.alphasCumprod
        return { x, t in
            let a = abar[t]
            let pull = try (x - target * Double(a.squareRoot())) / Double((1 - a).squareRoot())
            return try pull * 0.8 + x.tanh() * 0.2
        }
    }

    func checkTrajectory(_ name: String, _ scheduler: Scheduler, steps: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try ref("\(name).trajectory")
        let plan = try scheduler.setTimesteps(count: steps)
        XCTAssertEqual(plan.map(Int64.init), try ref("\(name).timesteps").toArray(Int64.self), "\(name) timesteps", file: file, line: line)
        let seed = UInt64(try ref("\(name).seed").item())
        let generator = Generator(seed: seed)
        let model = dummyModel(try ref("target"))
        var x = try Tensor.randn(Array(expected.shape.dropFirst()), generator: generator)
        var worst = 0.0
        for (i, t) in plan.enumerated() {
            x = try scheduler.step(modelOutput: model(x, t), timestep: t, sample: x, generator: generator)
            worst = max(worst, try maxError(x, expected.select(0, i)))
        }
        print("\(name): max relative error over \(plan.count) steps = \(worst)")
        // Measured 0 for DDPM and DDIM (the same float32 ops as diffusers) and ≤ 2.3e-7 for DPM-Solver (its
        // multistep sums): the chain bound of ≤ 4 roundings a step is 20 × 8√4·u ≈ 1.9e-5 for 20 steps, and steps
        // contract towards the target, so errors do not compound; 1e-5 is under that ceiling.
        XCTAssertLessThan(worst, 1e-5, name, file: file, line: line)
    }

    func testDDPMFullTrajectory() throws {
        try checkTrajectory("ddpm_1000", DDPMScheduler(schedule: schedule), steps: 1000)
    }

    func testDDPMFiftySteps() throws {
        try checkTrajectory("ddpm_50_leading", DDPMScheduler(schedule: schedule), steps: 50)
    }

    func testDDIMDeterministic() throws {
        try checkTrajectory("ddim_50_leading", DDIMScheduler(schedule: schedule), steps: 50)
    }

    func testDDIMTrailingWithEta() throws {
        try checkTrajectory("ddim_20_trailing_eta05_noclip",
                            DDIMScheduler(schedule: schedule, eta: 0.5, clipSample: false, spacing: .trailing), steps: 20)
    }

    func testDPMSolverPlusPlus2M() throws {
        try checkTrajectory("dpm_20_linspace", DPMSolverMultistepScheduler(schedule: schedule), steps: 20)
        try checkTrajectory("dpm_8_trailing", DPMSolverMultistepScheduler(schedule: schedule, spacing: .trailing), steps: 8)
    }

    /// The sampling loop draws x_T and the step noise from one generator, like diffusers' pipelines.
    func testSamplingLoopReproducesTrajectoryEnd() throws {
        let expected = try ref("ddpm_50_leading.trajectory")
        let out = try DiffusionSampler.sample(
            model: dummyModel(ref("target")), shape: Array(expected.shape.dropFirst()),
            configuration: SamplerConfiguration(kind: .ddpm, steps: 50, seed: 8), schedule: schedule)
        XCTAssertLessThan(try maxError(out, expected.select(0, 49)), 1e-5)   // the trajectory's gate (checkTrajectory)
    }
}
