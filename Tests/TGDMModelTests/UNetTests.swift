import Torch
import XCTest
@testable import TGDMModel

final class UNetTests: XCTestCase {
    override func setUp() { useOneThread() }

    struct Batch { let noisy, source, render, rho, t: Tensor }

    func batch(_ config: TGDMConfig, size: Int = 2, seed: UInt64 = 1) throws -> Batch {
        let g = Generator(seed: seed)
        let s = config.imageSize
        return Batch(noisy: try Tensor.randn([size, 3, s, s], generator: g),
                     source: try Tensor.rand([size, 3, s, s], generator: g) * 2 - 1,
                     render: try Tensor.rand([size, 3, s, s], generator: g) * 2 - 1,
                     rho: try Tensor.randn([size, config.coefficientDim], generator: g),
                     t: try Tensor([Int64(5), 900]))
    }

    /// Randomises the zero-initialised parameters (τ, last convolutions) so the output depends on everything.
    func wake(_ model: TGDMUNet) throws {
        let g = Generator(seed: 99)
        try Torch.noGrad {
            for (name, p) in model.namedParameters() where try p.abs().max().item() == 0 && !name.hasSuffix("bias") {
                try p.copy_(Tensor.randn(p.shape, generator: g) * 0.05)
            }
        }
    }

    func testShapesAndKeysOfEveryVariantAt64() throws {
        for variant in TGDMConfig.Variant.allCases {
            var config = TGDMConfig.small64
            config.variant = variant
            config.sourceWarp = variant == .plain
            let model = try TGDMUNet(config: config, generator: Generator(seed: 0))
            let b = try batch(config)
            let warp = config.sourceWarp ? try Tensor.zeros([2, 4, 64, 64]) : nil
            let eps = try Torch.noGrad { try model(noisy: b.noisy, timesteps: b.t, source: b.source, render: b.render, coefficients: b.rho, warp: warp) }
            XCTAssertEqual(eps.shape, [2, 3, 64, 64], "\(variant)")
            let keys = Set(model.stateDict().keys)
            XCTAssertTrue(keys.contains("condition.coefficients.weight"))
            XCTAssertTrue(keys.contains("up.0.blocks.1.conv2.weight"))
            XCTAssertEqual(try XCTUnwrap(model.stateDict()["inputConv.weight"]).shape[1], config.inputChannels)
            switch variant {
            case .texAtt, .noRender:
                XCTAssertTrue(keys.contains("middle.fusion.tau"))
                XCTAssertTrue(keys.contains("down.2.fusions.0.query.weight"))
                XCTAssertTrue(keys.contains("textureEncoder.stages.3.blocks.0.conv1.weight"))
            case .featureConcat:
                XCTAssertTrue(keys.contains("middle.fusion.mix.weight"))
            case .imageConcat, .plain:
                XCTAssertFalse(keys.contains { $0.hasPrefix("textureEncoder") || $0.contains("fusion") })
            }
        }
        XCTAssertEqual(TGDMConfig.small64.inputChannels, 6)
        XCTAssertEqual(TGDMConfig(sourceWarp: true).inputChannels, 10)   // Z_t, I_3d, warped source, its mask
        XCTAssertThrowsError(try TGDMConfig(variant: .plain).validate())
        XCTAssertEqual(TGDMConfig(variant: .imageConcat).inputChannels, 9)
        XCTAssertEqual(TGDMConfig(variant: .noRender).inputChannels, 3)
    }

    func testPaperConfigGeometry() throws {
        let c = TGDMConfig.paper256
        try c.validate()
        XCTAssertEqual(c.downsampleFactor, 16)
        XCTAssertEqual(c.fusionLevels.map { c.imageSize >> $0 }, [32, 16])
        XCTAssertEqual(c.coefficientDim, 261)
        XCTAssertEqual(c.conditionInputDim, 261)
        var video = c
        video.temporalRadius = 1
        try video.validate()
        XCTAssertEqual(video.conditionInputDim, 3 * 261)
        // Configs written before the window existed read one frame.
        // The key is removed from the object, not by text: JSONEncoder's key order changes from process to process.
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as? [String: Any])
        XCTAssertNotNil(object.removeValue(forKey: "temporalRadius"))
        let json = try JSONSerialization.data(withJSONObject: object)
        XCTAssertEqual(try JSONDecoder().decode(TGDMConfig.self, from: json), c)
    }

    func testTauStartsAtZeroSoTexAttIsTheIdentity() throws {
        let model = try TGDMUNet(config: .small64, generator: Generator(seed: 0))
        let taus = model.namedParameters().filter { $0.0.hasSuffix(".tau") }
        XCTAssertEqual(taus.count, 2 + 1 + 2 * 2) // encoder 1 block × 2 levels, middle, decoder 2 blocks × 2 levels
        for (name, tau) in taus { XCTAssertEqual(try tau.item(), 0, name) }

        let block = try XCTUnwrap(model.middle.fusion as? TexAttBlock)
        let fd = try Tensor.randn([2, 64, 8, 8], generator: Generator(seed: 3))
        let fs = try Tensor.randn([2, 64, 8, 8], generator: Generator(seed: 4))
        let (out, _) = try block.fuse(noise: fd, source: fs, returnAttention: false)
        XCTAssertEqual(try out.floats(), try fd.floats())   // exact: τ = 0 adds 0·attention to fd, which leaves every float as it is

        // With every τ at 0 the source cannot change ε (yet τ still receives a gradient, so it can learn).
        try Torch.noGrad { try model.outputConv.weight.copy_(Tensor.randn(model.outputConv.weight.shape, generator: Generator(seed: 5)) * 0.1) }
        let b = try batch(.small64)
        let e1 = try model(noisy: b.noisy, timesteps: b.t, source: b.source, render: b.render, coefficients: b.rho)
        let e2 = try model(noisy: b.noisy, timesteps: b.t, source: b.source * -1, render: b.render, coefficients: b.rho)
        XCTAssertEqual(try maxAbsDiff(e1, e2), 0)   // exact: the source enters only through τ·(…) = 0; the rest is the same code on the same inputs
        try e1.square().sum().backward()
        XCTAssertGreaterThan(try XCTUnwrap(model.middle.fusion as? TexAttBlock).tau.grad?.abs().item() ?? 0, 0)
    }

    func testConditionsReachTheOutputAndAttentionMapsAreReturned() throws {
        let model = try TGDMUNet(config: .small64, generator: Generator(seed: 0))
        try wake(model)
        let b = try batch(.small64)
        try Torch.noGrad {
            let src = try model.encodeSource(b.source)
            let out = try model.predictNoise(noisy: b.noisy, timesteps: b.t, source: src, render: b.render, coefficients: b.rho, returnAttention: true)
            XCTAssertEqual(out.attention.count, 7)
            let mid = try XCTUnwrap(out.attention["middle.fusion"])
            XCTAssertEqual(mid.shape, [2, 64, 64]) // 8×8 noise positions over 8×8 source positions
            XCTAssertEqual(try XCTUnwrap(out.attention["down.2.fusions.0"]).shape, [2, 256, 256]) // factor 4: 16×16 positions
            let rowSums = try mid.sum(dim: -1)
            XCTAssertLessThan(try (rowSums - 1.0).abs().max().item(), RoundingBound.float32(accumulatingChain: [64, 64], magnitude: 1)) // softmax's sum, then ours, over 64

            func differs(_ e: Tensor) throws -> Bool { try maxAbsDiff(e, out.noise) > 1e-6 }   // a change far above rounding (same code path, same threads)
            let srcFlipped = try model.encodeSource(b.source.flip([3]))
            XCTAssertTrue(try differs(model.predictNoise(noisy: b.noisy, timesteps: b.t, source: srcFlipped, render: b.render, coefficients: b.rho).noise), "source")
            XCTAssertTrue(try differs(model.predictNoise(noisy: b.noisy, timesteps: b.t, source: src, render: b.render * 0.5, coefficients: b.rho).noise), "render")
            XCTAssertTrue(try differs(model.predictNoise(noisy: b.noisy, timesteps: b.t, source: src, render: b.render, coefficients: b.rho * 2).noise), "rho")
            XCTAssertTrue(try differs(model.predictNoise(noisy: b.noisy, timesteps: Tensor([Int64(6), 100]), source: src, render: b.render, coefficients: b.rho).noise), "t")
        }
    }

    func testBadInputsThrow() throws {
        let model = try TGDMUNet(config: .small64, generator: Generator(seed: 0))
        let b = try batch(.small64)
        XCTAssertThrowsError(try model(noisy: b.noisy, timesteps: b.t, source: b.source, render: nil, coefficients: b.rho))
        XCTAssertThrowsError(try model(noisy: b.noisy, timesteps: b.t, source: b.source, render: b.render, coefficients: Tensor.zeros([2, 10])))
        XCTAssertThrowsError(try model(noisy: b.noisy, timesteps: b.t, source: b.source, render: b.render, coefficients: b.rho * Double.nan))
        XCTAssertThrowsError(try model(noisy: Tensor.zeros([2, 3, 60, 60]), timesteps: b.t, source: b.source, render: b.render, coefficients: b.rho))
        // One timestep per element or one for all; one source per element or one for all.
        XCTAssertThrowsError(try model(noisy: b.noisy, timesteps: Tensor([Int64(1), 2, 3]), source: b.source, render: b.render, coefficients: b.rho))
        XCTAssertThrowsError(try model(noisy: b.noisy, timesteps: b.t, source: Tensor.cat([b.source, b.source.narrow(0, 0, 1)], dim: 0),
                                       render: b.render, coefficients: b.rho))
        XCTAssertNoThrow(try model(noisy: b.noisy, timesteps: Tensor([Int64(1)]), source: b.source.narrow(0, 0, 1), render: b.render, coefficients: b.rho))
        XCTAssertThrowsError(try TGDMUNet(config: TGDMConfig(imageSize: 100)))
        XCTAssertThrowsError(try TGDMUNet(config: TGDMConfig(texAttFactors: [3])))
        XCTAssertThrowsError(try TGDMUNet(config: TGDMConfig(texAttFactors: [32])))
    }

    func testCheckpointRoundTrip() throws {
        let a = try TGDMUNet(config: .small64, generator: Generator(seed: 0))
        try wake(a)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-unet-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try a.save(to: url)
        let b = try TGDMUNet(config: .small64, generator: Generator(seed: 7))
        try b.load(from: url)
        let x = try batch(.small64)
        try Torch.noGrad {
            let ea = try a(noisy: x.noisy, timesteps: x.t, source: x.source, render: x.render, coefficients: x.rho)
            let eb = try b(noisy: x.noisy, timesteps: x.t, source: x.source, render: x.render, coefficients: x.rho)
            XCTAssertEqual(try maxAbsDiff(ea, eb), 0)   // exact: a save/load round trip, the same code on the same inputs
        }
        var other = TGDMConfig.small64
        other.variant = .featureConcat
        XCTAssertThrowsError(try TGDMUNet(config: other).load(from: url))
    }
}
