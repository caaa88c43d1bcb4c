import Torch
import XCTest
@testable import Diffusion

/// Behaviour not covered by the golden numbers: spacing, cancellation, bad input, convergence.
final class SamplerBehaviourTests: XCTestCase {
    var schedule: NoiseSchedule!

    override func setUpWithError() throws {
        useOneThread()
        schedule = try NoiseSchedule()
    }

    func testTimestepSpacings() throws {
        XCTAssertEqual(try TimestepSpacing.leading.timesteps(count: 4, trainTimesteps: 1000), [750, 500, 250, 0])
        XCTAssertEqual(try TimestepSpacing.trailing.timesteps(count: 4, trainTimesteps: 1000), [999, 749, 499, 249])
        XCTAssertEqual(try TimestepSpacing.linspace.timesteps(count: 4, trainTimesteps: 1000), [999, 666, 333, 0])
        // 1000/16 = 62.5: numpy rounds half to even, so 937.5 -> 938 and 812.5 -> 812.
        XCTAssertEqual(Array(try TimestepSpacing.trailing.timesteps(count: 16, trainTimesteps: 1000).prefix(3)), [999, 937, 874])
        XCTAssertThrowsError(try TimestepSpacing.leading.timesteps(count: 0, trainTimesteps: 1000))
        XCTAssertThrowsError(try TimestepSpacing.leading.timesteps(count: 1001, trainTimesteps: 1000))
    }

    /// With an exact denoiser for a single clean image, every sampler must land on that image.
    func testSamplersRecoverTheDataPointOfAnExactDenoiser() throws {
        let target = try Tensor.rand([1, 3, 4, 4], generator: Generator(seed: 3)) * 1.6 - 0.8
        let abar = schedule.alphasCumprod
        let model: DiffusionSampler.Denoiser = { x, t in
            try (x - target * Double(abar[t].squareRoot())) / Double((1 - abar[t]).squareRoot())
        }
        for config in [SamplerConfiguration(kind: .ddpm, steps: 100, seed: 1),
                       SamplerConfiguration(kind: .ddim, steps: 10, seed: 2),
                       SamplerConfiguration(kind: .ddim, steps: 10, eta: 1, seed: 2, spacing: .trailing),
                       SamplerConfiguration(kind: .dpmSolver, steps: 5, seed: 3)] {
            let out = try DiffusionSampler.sample(model: model, shape: [1, 3, 4, 4], configuration: config, schedule: schedule)
            let err = try (out - target).abs().max().item()
            XCTAssertLessThan(err, 1e-3, "\(config)")   // a behaviour gate: the sampler lands on the image (a wrong step misses by ≥ 0.1)
        }
    }

    func testSeedDeterminesTheSample() throws {
        let model: DiffusionSampler.Denoiser = { x, _ in try x * 0.5 }
        let a = try DiffusionSampler.sample(model: model, shape: [1, 2, 3, 3], configuration: .init(kind: .ddpm, steps: 10, seed: 5), schedule: schedule)
        let b = try DiffusionSampler.sample(model: model, shape: [1, 2, 3, 3], configuration: .init(kind: .ddpm, steps: 10, seed: 5), schedule: schedule)
        let c = try DiffusionSampler.sample(model: model, shape: [1, 2, 3, 3], configuration: .init(kind: .ddpm, steps: 10, seed: 6), schedule: schedule)
        XCTAssertEqual(try a.floats(), try b.floats())   // exact: the same code twice with the same seed, same thread count
        XCTAssertNotEqual(try a.floats(), try c.floats())
    }

    func testProgressCanCancel() throws {
        var calls: [(Int, Int)] = []
        let model: DiffusionSampler.Denoiser = { x, _ in try x * 0.1 }
        XCTAssertThrowsError(try DiffusionSampler.sample(
            model: model, shape: [1, 1, 2, 2], configuration: .init(kind: .ddim, steps: 10), schedule: schedule,
            progress: { step, total in calls.append((step, total)); return step < 3 })) { error in
            XCTAssertEqual(error as? DiffusionError, .cancelled(completedSteps: 3, totalSteps: 10))
        }
        XCTAssertEqual(calls.map { $0.0 }, [1, 2, 3])
        XCTAssertEqual(calls.last?.1, 10)
    }

    func testBadInputsThrow() throws {
        let nanModel: DiffusionSampler.Denoiser = { x, _ in try x * Double.nan }
        XCTAssertThrowsError(try DiffusionSampler.sample(model: nanModel, shape: [1, 1, 2, 2], configuration: .init(steps: 5), schedule: schedule)) {
            XCTAssertEqual($0 as? DiffusionError, .nonFiniteModelOutput)
        }
        let wrongShape: DiffusionSampler.Denoiser = { _, _ in try Tensor.zeros([1, 1, 3, 3]) }
        XCTAssertThrowsError(try DiffusionSampler.sample(model: wrongShape, shape: [1, 1, 2, 2], configuration: .init(steps: 5), schedule: schedule))
        XCTAssertThrowsError(try DiffusionSampler.sample(model: { x, _ in x }, shape: [1, 0, 2], configuration: .init(steps: 5), schedule: schedule))
        XCTAssertThrowsError(try SamplerConfiguration(steps: 0).makeScheduler(schedule: schedule))
        XCTAssertThrowsError(try SamplerConfiguration(eta: 2).makeScheduler(schedule: schedule))
        XCTAssertThrowsError(try NoiseSchedule(trainTimesteps: 1000, betaStart: 0.5, betaEnd: 0.1))
        XCTAssertThrowsError(try NoiseSchedule(betas: [0.1, 1.5]))

        let x = try Tensor.zeros([2, 3, 4, 4])
        XCTAssertThrowsError(try schedule.addNoise(x0: x, noise: x, timesteps: Tensor([Int64(0), 1000])))
        XCTAssertThrowsError(try schedule.addNoise(x0: x, noise: Tensor.zeros([2, 3, 4, 5]), timestep: 3))
        XCTAssertThrowsError(try schedule.addNoise(x0: x, noise: x, timesteps: Tensor([Int64(1)])))

        let unplanned = DDPMScheduler(schedule: schedule)
        XCTAssertThrowsError(try unplanned.step(modelOutput: x, timestep: 10, sample: x, generator: nil))
        let dpm = DPMSolverMultistepScheduler(schedule: schedule)
        let plan = try dpm.setTimesteps(count: 5)
        XCTAssertThrowsError(try dpm.step(modelOutput: x, timestep: plan[1], sample: x, generator: nil), "steps must follow the plan")
        XCTAssertThrowsError(try dpm.step(modelOutput: x, timestep: 12345, sample: x, generator: nil))
    }

    func testConfigurationIsCodable() throws {
        let c = SamplerConfiguration(kind: .dpmSolver, steps: 20, eta: 0, seed: 42, spacing: .trailing, sharedNoise: true)
        let back = try JSONDecoder().decode(SamplerConfiguration.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
        // Files written before `sharedNoise` existed still load.
        let old = try JSONDecoder().decode(SamplerConfiguration.self, from: Data(#"{"kind":"ddim","steps":50,"eta":1,"seed":0}"#.utf8))
        XCTAssertEqual(old, SamplerConfiguration(kind: .ddim, steps: 50, eta: 1))
    }

    /// Image-to-image: with strength s only the last ⌊n·s⌉ planned steps run, from x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε;
    /// with the oracle denoiser of a fixed x_0, deterministic DDIM returns that x_0 from any start.
    func testImageStartRunsTheLastStepsAndRecoversTheImage() throws {
        let x0 = try Tensor.rand([2, 3, 4, 4], generator: Generator(seed: 5)) * 1.6 - 0.8
        let abar = schedule.alphasCumprod
        var called: [Int] = []
        let oracle: DiffusionSampler.Denoiser = { x, t in
            called.append(t)
            return try (x - x0 * Double(abar[t].squareRoot())) / Double((1 - abar[t]).squareRoot())
        }
        var totals: [Int] = []
        let out = try DiffusionSampler.sample(model: oracle, shape: [2, 3, 4, 4], configuration: .init(kind: .ddim, steps: 10, eta: 0, seed: 1),
                                              schedule: schedule, start: .image(x0, strength: 0.4)) { _, total in totals.append(total); return true }
        XCTAssertEqual(called, [300, 200, 100, 0])
        XCTAssertEqual(totals, [4, 4, 4, 4])
        XCTAssertLessThan(try (out - x0).abs().max().item(), 1e-4)   // behaviour: an exact oracle returns x0 (error is rounding ÷ √ᾱ)
        XCTAssertEqual(try DiffusionSampler.startIndex(.image(x0, strength: 1), steps: 10), 0)
        XCTAssertThrowsError(try DiffusionSampler.startIndex(.image(x0, strength: 0), steps: 10))
        // A multistep solver starts cleanly mid-plan too.
        let dpm = try DiffusionSampler.sample(model: oracle, shape: [2, 3, 4, 4], configuration: .init(kind: .dpmSolver, steps: 10, seed: 1),
                                              schedule: schedule, start: .image(x0, strength: 0.5))
        XCTAssertLessThan(try (dpm - x0).abs().max().item(), 1e-3)   // behaviour, as above, for the multistep solver
    }

    /// Shared noise is one draw broadcast over the batch: the first element equals an unshared draw of batch 1.
    func testSharedNoiseIsOneDrawForTheBatch() throws {
        let shared = try NoiseSource(Generator(seed: 8), sharedAcrossBatch: true).draw([3, 2, 2])
        let single = try NoiseSource(Generator(seed: 8)).draw([1, 2, 2])
        // Exact: the same seeded draw of the same count, copied; no arithmetic.
        for i in 0..<3 { XCTAssertEqual(try shared.select(0, i).floats(), try single.select(0, 0).floats()) }
        let independent = try NoiseSource(Generator(seed: 8)).draw([3, 2, 2])
        XCTAssertNotEqual(try independent.select(0, 0).floats(), try independent.select(0, 1).floats())
    }
}
