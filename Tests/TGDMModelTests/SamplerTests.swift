import Torch
import Diffusion
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
        let c = try sampler.generate(source: source, render: render, coefficients: rho,
                                     config: SamplerConfiguration(kind: .dpmSolver, steps: 4, seed: 9))
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

    /// Prepared conditions: one shared source image gives the same noise prediction as the image repeated per
    /// element (Φ_E runs once, K_s and V_s broadcast), and a shared timestep equals per-element timesteps.
    func testPreparedConditionsMatchTheValidatingPath() throws {
        for variant in TGDMConfig.Variant.allCases {
            var config = TGDMConfig.tiny
            config.variant = variant
            let model = try TGDMUNet(config: config, generator: Generator(seed: 4))
            // Non-zero τ, so TexAtt contributes.
            try Torch.noGrad {
                for (name, p) in model.namedParameters() where name.hasSuffix("tau") { try p.copy_(Tensor.full([1], 0.7)) }
                try model.outputConv.weight.copy_(Tensor.randn(model.outputConv.weight.shape, generator: Generator(seed: 1)) * 0.2)
            }
            let g = Generator(seed: 6)
            let one = try Tensor.rand([1, 3, 16, 16], generator: g) * 2 - 1
            let render = try Tensor.rand([3, 3, 16, 16], generator: g) * 2 - 1
            let rho = try Tensor.randn([3, 6], generator: g)
            let noisy = try Tensor.randn([3, 3, 16, 16], generator: g)
            try Torch.noGrad {
                let shared = try model.prepare(source: model.encodeSource(one), render: render, coefficients: rho)
                let fast = try model.predictNoise(noisy: noisy, timesteps: Tensor.full([1], 321, dtype: .int64), conditioning: shared).noise
                let reference = try model.predictNoise(noisy: noisy, timesteps: Tensor.full([3], 321, dtype: .int64),
                                                       source: model.encodeSource(one.expand([3, 3, 16, 16]).contiguous()),
                                                       render: render, coefficients: rho).noise
                XCTAssertLessThan(try maxAbsDiff(fast, reference), 1e-5, "\(variant)")
            }
        }
    }

    /// With shared noise, identical conditions give identical frames; with independent noise they differ.
    func testSharedNoiseGivesEqualFramesForEqualConditions() throws {
        let model = try TGDMUNet(config: .tiny, generator: Generator(seed: 0))
        try Torch.noGrad { try model.outputConv.weight.copy_(Tensor.randn(model.outputConv.weight.shape, generator: Generator(seed: 1)) * 0.2) }
        let sampler = TGDMSampler(model: model, schedule: try NoiseSchedule())
        let g = Generator(seed: 2)
        let source = try Tensor.rand([1, 3, 16, 16], generator: g) * 2 - 1
        let render = try (Tensor.rand([1, 3, 16, 16], generator: g) * 2 - 1).expand([2, 3, 16, 16]).contiguous()
        let rho = try Tensor.randn([1, 6], generator: g).expand([2, 6]).contiguous()
        var config = SamplerConfiguration(kind: .ddim, steps: 4, eta: 1, seed: 3)
        config.sharedNoise = true
        let shared = try sampler.generate(source: source, render: render, coefficients: rho, config: config)
        XCTAssertEqual(try maxAbsDiff(shared.select(0, 0), shared.select(0, 1)), 0)
        config.sharedNoise = false
        let independent = try sampler.generate(source: source, render: render, coefficients: rho, config: config)
        XCTAssertGreaterThan(try maxAbsDiff(independent.select(0, 0), independent.select(0, 1)), 1e-3)
    }

    /// A temporal-window model reads (2k+1)·D coefficients; `conditionInput` builds clamped windows.
    func testTemporalWindowConditionInput() throws {
        var config = TGDMConfig.tiny
        config.temporalRadius = 1
        XCTAssertEqual(config.conditionInputDim, 18)
        let model = try TGDMUNet(config: config, generator: Generator(seed: 0))
        XCTAssertEqual(model.condition.coefficients.weight.shape, [config.timeEmbeddingDim, 18])
        let rho = try Tensor((0..<12).map { Float($0) }, shape: [2, 6])
        let windows = try config.conditionInput(rho, isSequence: true)
        XCTAssertEqual(windows.shape, [2, 18])
        XCTAssertEqual(try windows.select(0, 0).floats(), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        XCTAssertEqual(try windows.select(0, 1).floats(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 6, 7, 8, 9, 10, 11])
        XCTAssertThrowsError(try model.prepare(source: model.encodeSource(Tensor.zeros([1, 3, 16, 16])), render: Tensor.zeros([2, 3, 16, 16]),
                                               coefficients: rho))   // one frame is not a window
        // A single-frame model smooths a sequence with the k = 1 window mean and reads a still as it is.
        let smoothed = try TGDMConfig.tiny.conditionInput(Tensor((0..<18).map { Float($0) }, shape: [3, 6]), isSequence: true)
        XCTAssertEqual(try smoothed.select(0, 1).floats(), [6, 7, 8, 9, 10, 11])
        XCTAssertEqual(try smoothed.select(0, 0).floats(), [2, 3, 4, 5, 6, 7])
        XCTAssertEqual(try TGDMConfig.tiny.conditionInput(rho, isSequence: false).floats(), try rho.floats())
        // Chunks computed alone (a long video conditions chunk by chunk) equal the rows of the whole sequence.
        let long = try Tensor.randn([11, 6], generator: Generator(seed: 4))
        for (c, sequence) in [(config, true), (TGDMConfig.tiny, true), (TGDMConfig.tiny, false)] {
            let whole = try c.conditionInput(long, isSequence: sequence)
            let chunks = try stride(from: 0, to: 11, by: 4).map { try c.conditionInput(long, isSequence: sequence, rows: $0..<min(11, $0 + 4)) }
            XCTAssertEqual(try Tensor.cat(chunks, dim: 0).floats(), try whole.floats(), "k = \(c.temporalRadius), sequence \(sequence)")
        }
        XCTAssertThrowsError(try config.conditionInput(long, isSequence: true, rows: 9..<12))
    }
}
