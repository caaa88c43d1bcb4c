import TextEncoder
import Torch
import XCTest
@testable import Audio2Expression

final class EmoA2EModelTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }  // one thread: much faster than two on a shared 2-core machine

    func inputs(_ c: EmoA2EConfig, batch n: Int = 3, frames k: Int? = nil) throws -> (Tensor, Tensor, Tensor, Tensor) {
        let g = Generator(seed: 9)
        return (try Tensor.randn([n, k ?? c.windowFrames, c.mfccRowsPerFrame, c.mfccCoefficients], generator: g),
                try Tensor.randn([n, c.identityDim], generator: g),
                try l2Normalize(Tensor.randn([n, c.emotionDim], generator: g)),
                try Tensor([Float](repeating: 2, count: n)))
    }

    func testShapesForEveryBackboneAndVariant() throws {
        for backbone in EmoA2EBackbone.allCases {
            for emotion in [true, false] {
                let c = Synthetic.smallConfig(backbone, emotion: emotion)
                let model = try EmoA2EModel(config: c, generator: Generator(seed: 1))
                let (a, alpha, z, eta) = try inputs(c)
                let out = try model(mfcc: a, identity: alpha, emotion: emotion ? z : nil, intensity: emotion ? eta : nil)
                XCTAssertEqual(out.shape, [3, c.windowFrames, c.expressionDim], "\(backbone) emotion \(emotion)")
                let shorter = try model(mfcc: a.narrow(1, 0, 3), identity: alpha, emotion: emotion ? z : nil, intensity: emotion ? eta : nil)
                XCTAssertEqual(shorter.shape, [3, 3, c.expressionDim])
            }
        }
    }

    func testDefaultConfigMatchesThePaper() throws {
        let c = EmoA2EConfig()
        XCTAssertEqual([c.windowFrames, c.identityDim, c.expressionDim, c.mfccCoefficients], [32, 80, 64, 13])
        let model = try EmoA2EModel(config: c, generator: Generator(seed: 1))
        let (a, alpha, z, eta) = try inputs(c, batch: 2)
        XCTAssertEqual(try model(mfcc: a, identity: alpha, emotion: z, intensity: eta).shape, [2, 32, 64])
    }

    func testIntensityChangesTheOutputContinuously() throws {
        let c = Synthetic.smallConfig()
        let model = try EmoA2EModel(config: c, generator: Generator(seed: 2))
        model.eval()
        let (a, alpha, z, _) = try inputs(c, batch: 1)
        func out(_ eta: Float) throws -> Tensor { try model(mfcc: a, identity: alpha, emotion: z, intensity: Tensor([eta])) }
        let base = try out(1)
        let far = try (out(3) - base).abs().max().item()
        XCTAssertGreaterThan(far, 1e-3, "intensity must matter")
        var previous = Double.infinity
        for eps in [0.1, 0.01, 0.001] as [Float] {
            let d = try (out(1 + eps) - base).abs().max().item()
            XCTAssertLessThan(d, previous, "smaller steps in η must give smaller changes")
            previous = d
        }
        XCTAssertLessThan(previous, far * 0.01)
    }

    func testMissingEmotionInputsAndBadShapesThrow() throws {
        let c = Synthetic.smallConfig()
        let model = try EmoA2EModel(config: c, generator: Generator(seed: 3))
        let (a, alpha, z, eta) = try inputs(c)
        XCTAssertThrowsError(try model(mfcc: a, identity: alpha))
        XCTAssertThrowsError(try model(mfcc: a, identity: alpha, emotion: z, intensity: Tensor([Float(1)])))
        XCTAssertThrowsError(try model(mfcc: a.reshape([3, c.windowFrames, -1]), identity: alpha, emotion: z, intensity: eta))
        XCTAssertThrowsError(try model(mfcc: a, identity: alpha.narrow(1, 0, 2), emotion: z, intensity: eta))
        XCTAssertThrowsError(try model(mfcc: Tensor.randn([1, c.windowFrames + 1, c.mfccRowsPerFrame, 13], generator: Generator(seed: 31)), identity: alpha.narrow(0, 0, 1),
                                       emotion: z.narrow(0, 0, 1), intensity: eta.narrow(0, 0, 1)))
        XCTAssertThrowsError(try EmoA2EModel(config: EmoA2EConfig(hiddenDim: 30, heads: 4)))
        XCTAssertThrowsError(try EmoA2EModel(config: EmoA2EConfig(windowFrames: 0)))
        XCTAssertThrowsError(try EmoA2EModel(config: EmoA2EConfig(dropout: 1.5)))
    }

    func testEmotionFreeVariantHasNoEmotionParameters() throws {
        let model = try EmoA2EModel(config: Synthetic.smallConfig(emotion: false))
        XCTAssertFalse(model.namedParameters().contains { $0.0.hasPrefix("emotionEmbedding") || $0.0 == "intensityBase" })
        let conditioned = try EmoA2EModel(config: Synthetic.smallConfig())
        XCTAssertTrue(conditioned.namedParameters().contains { $0.0 == "intensityBase" })
        XCTAssertTrue(conditioned.namedBuffers().contains { $0.0 == "mfccMean" })
    }

    func testLandmarkLossMatchesManualComputationAndHasGradient() throws {
        let c = Synthetic.smallConfig()
        let projector = try LinearLandmarks(identityDim: c.identityDim, expressionDim: c.expressionDim)
        let g = Generator(seed: 32)
        let predicted = try Tensor.randn([2, 4, c.expressionDim], generator: g).requiresGrad(true)
        let target = try Tensor.randn([2, 4, c.expressionDim], generator: g)
        let identity = try Tensor.randn([2, c.identityDim], generator: g)
        let value = try EmoA2ELoss()(predicted: predicted, target: target, identity: identity, projector: projector)
        let diff = try (predicted - target).reshape([8, c.expressionDim]).matmul(projector.expressionBasis)
        let expectedLm = try diff.square().mean().item()
        XCTAssertEqual(value.landmark!, expectedLm, accuracy: 1e-5)   // the same matmul and mean restated; float32 order of a few hundred terms
        XCTAssertEqual(try value.total.item(), 100 * value.reconstruction + 0.1 * expectedLm, accuracy: 1e-3)
        try value.total.backward()
        XCTAssertGreaterThan(try predicted.grad!.abs().sum().item(), 0)
        let lmd = try mouthLandmarkDistance(predicted: projector.landmarks(identity: identity, expression: target.select(1, 0)),
                                            reference: projector.landmarks(identity: identity, expression: target.select(1, 0)))
        XCTAssertEqual(lmd, 0, accuracy: 1e-7)   // the same landmarks on both sides: exact zeros
        XCTAssertThrowsError(try mouthLandmarkDistance(predicted: Tensor.zeros([2, 5, 2]), reference: Tensor.zeros([2, 5, 2])))
    }
}
