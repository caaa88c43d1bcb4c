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
        XCTAssertEqual(try a.floats(), try b.floats())   // exact: the same code twice, same seed and thread count
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
            config.sourceWarp = variant == .plain || variant == .texAtt   // with and without the warped source
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
            let warp = config.sourceWarp ? try Tensor.rand([3, 4, 16, 16], generator: g) : nil
            try Torch.noGrad {
                let shared = try model.prepare(source: model.encodeSource(one), render: render, coefficients: rho, warp: warp)
                let fast = try model.predictNoise(noisy: noisy, timesteps: Tensor.full([1], 321, dtype: .int64), conditioning: shared).noise
                let reference = try model.predictNoise(noisy: noisy, timesteps: Tensor.full([3], 321, dtype: .int64),
                                                       source: model.encodeSource(one.expand([3, 3, 16, 16]).contiguous()),
                                                       render: render, coefficients: rho, warp: warp).noise
                // Batch 1 broadcast vs batch 3 through the source encoder: oneDNN may pick other kernels, so only
                // rounding may differ; 1e-5 on outputs of size ≤ 4 is ~10× the measured 9.5e-7 (printed).
                let diff = try maxAbsDiff(fast, reference)
                print("shared conditioning vs per-frame, \(variant): max abs diff \(diff), max |ε| \(try reference.abs().max().item())")
                XCTAssertLessThan(diff, 1e-5, "\(variant)")
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
        XCTAssertEqual(try maxAbsDiff(shared.select(0, 0), shared.select(0, 1)), 0)   // exact: equal rows of one batch take the same kernel path
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
            // Gathering is exact; the k = 1 window mean adds 3 terms, whose order a kernel for other row counts may change.
            let gate = try RoundingBound.float32(accumulating: 3, magnitude: long.abs().max().item())
            XCTAssertLessThanOrEqual(try maxAbsDiff(Tensor.cat(chunks, dim: 0), whole), gate, "k = \(c.temporalRadius), sequence \(sequence)")
        }
        XCTAssertThrowsError(try config.conditionInput(long, isSequence: true, rows: 9..<12))
    }

    /// Fine-tuning a warp model from a model without the warp: the widened input layer starts at zero for the new
    /// channels, so the new model predicts exactly what the old one did whatever the warp holds.
    func testWarmStartFromANarrowerModelKeepsItsPredictions() throws {
        let old = try TGDMUNet(config: .tiny, generator: Generator(seed: 1))
        try Torch.noGrad { try old.outputConv.weight.copy_(Tensor.randn(old.outputConv.weight.shape, generator: Generator(seed: 2)) * 0.2) }
        var config = TGDMConfig.tiny
        config.sourceWarp = true
        let new = try TGDMUNet(config: config, generator: Generator(seed: 9))
        let report = try new.warmStart(from: old)
        XCTAssertEqual(report.widened, ["inputConv.weight"])
        XCTAssertEqual(report.skipped, [])
        let g = Generator(seed: 3)
        let source = try Tensor.rand([2, 3, 16, 16], generator: g), render = try Tensor.rand([2, 3, 16, 16], generator: g)
        let rho = try Tensor.randn([2, 6], generator: g), noisy = try Tensor.randn([2, 3, 16, 16], generator: g)
        let t = try Tensor([Int64(10), 700])
        try Torch.noGrad {
            let a = try old(noisy: noisy, timesteps: t, source: source, render: render, coefficients: rho)
            let b = try new(noisy: noisy, timesteps: t, source: source, render: render, coefficients: rho,
                            warp: Tensor.rand([2, 4, 16, 16], generator: g))
            // Zero weights on the new channels add exact zeros, but the input conv's sums run over 7 channels·9
            // instead of 3·9 and oneDNN may block them differently: rounding of that first layer, carried through.
            let diff = try maxAbsDiff(a, b)
            print("warm start vs narrower model: max abs diff \(diff)")
            XCTAssertLessThan(diff, 1e-6)
        }
    }

    /// The swap paradigm's identity embedding (Sec. 4.4): C gains Linear(z_id), zero at first; gradients reach it;
    /// once trained, a different z_id changes the prediction; a missing or mis-shaped z_id is an error.
    func testIdentityEmbeddingIsInjectedThroughTheCondition() throws {
        var config = TGDMConfig.tiny
        config.identityDim = 4
        let model = try TGDMUNet(config: config, generator: Generator(seed: 5))
        let layer = try XCTUnwrap(model.condition.identity)
        XCTAssertEqual(layer.weight.shape, [config.timeEmbeddingDim, 4])
        XCTAssertEqual(try layer.weight.abs().max().item(), 0)
        XCTAssertTrue(model.stateDict().keys.contains("condition.identity.weight"))
        let g = Generator(seed: 6)
        // A fresh UNet's zero-initialised output and AdaIN convolutions hide every condition: wake them up.
        try Torch.noGrad {
            for (name, p) in model.namedParameters() where name.hasSuffix("conv2.weight") || name == "outputConv.weight" {
                try p.copy_(Tensor.randn(p.shape, generator: g) * 0.1)
            }
        }
        let source = try Tensor.rand([2, 3, 16, 16], generator: g), render = try Tensor.rand([2, 3, 16, 16], generator: g)
        let rho = try Tensor.randn([2, 6], generator: g), noisy = try Tensor.randn([2, 3, 16, 16], generator: g)
        let t = try Tensor([Int64(5), 500]), zid = try Tensor.randn([2, 4], generator: g)
        let eps = try model(noisy: noisy, timesteps: t, source: source, render: render, coefficients: rho, identity: zid)
        try (eps * Tensor.randn(eps.shape, generator: g)).sum().backward()
        XCTAssertGreaterThan(try XCTUnwrap(layer.weight.grad).abs().max().item(), 0, "z_id receives gradient")
        try Torch.noGrad {
            try layer.weight.copy_(Tensor.randn(layer.weight.shape, generator: g))
            let a = try model(noisy: noisy, timesteps: t, source: source, render: render, coefficients: rho, identity: zid)
            let b = try model(noisy: noisy, timesteps: t, source: source, render: render, coefficients: rho, identity: zid * -1.0)
            XCTAssertGreaterThan(try maxAbsDiff(a, b), 1e-4)
        }
        XCTAssertThrowsError(try model(noisy: noisy, timesteps: t, source: source, render: render, coefficients: rho))
        XCTAssertThrowsError(try model(noisy: noisy, timesteps: t, source: source, render: render, coefficients: rho, identity: Tensor.zeros([2, 5])))
    }
}
