import XCTest
@testable import TGDMModel

final class TGDMSamplerTests: XCTestCase {
    override func setUp() { useOneThread() }

    func testGenerateIsSeededClampedAndCancellable() throws {
        let model = try TGDMUNet(config: .tiny, generator: Generator(seed: 0))
        try Torch.noGrad { try model.outputConv.weight.copy_(Tensor.randn(model.outputConv.weight.shape, generator: Generator(seed: 1)) * 0.2) }
        let sampler = TGDMSampler(model: model, schedule: try NoiseSchedule())
        let g = Generator(seed: 2)
        let source = try Tensor.rand([2, 3, 16, 16], generator: g) * 2 - 1
        let render = try Tensor.rand([2, 3, 16, 16], generator: g) * 2 - 1
        let rho = try Tensor.randn([2, 6], generator: g)
        let config = SamplerConfiguration(kind: .ddim, steps: 5, seed: 9)
        let a = try sampler.generate(source: source, render: render, coefficients: rho, config: config)
        let b = try sampler.generate(source: source, render: render, coefficients: rho, config: config)
        XCTAssertEqual(a.shape, [2, 3, 16, 16])
        XCTAssertEqual(try a.floats(), try b.floats())
        XCTAssertLessThanOrEqual(try a.abs().max().item(), 1)
        let scheduler = DPMSolverMultistepScheduler(schedule: sampler.schedule)
        try scheduler.setTimesteps(count: 4)
        let c = try sampler.generate(source: source, render: render, coefficients: rho, scheduler: scheduler, generator: Generator(seed: 9))
        XCTAssertNotEqual(try a.floats(), try c.floats())

        var seen = 0
        XCTAssertThrowsError(try sampler.generate(source: source, render: render, coefficients: rho, config: config,
                                                  progress: { step, _ in seen = step; return step < 2 })) {
            XCTAssertEqual($0 as? DiffusionError, .cancelled(completedSteps: 2, totalSteps: 5))
        }
        XCTAssertEqual(seen, 2)
        XCTAssertThrowsError(try sampler.generate(source: source, render: nil, coefficients: rho, config: config))

        let maps = try sampler.attentionMaps(noisy: render, timestep: 500, source: source, render: render, coefficients: rho)
        XCTAssertEqual(Set(maps.keys), ["down.1.fusions.0", "middle.fusion", "up.0.fusions.0", "up.0.fusions.1"])
        XCTAssertEqual(maps["middle.fusion"]?.shape, [2, 64, 64])
    }
}
