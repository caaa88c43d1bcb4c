import Torch
import XCTest
@testable import Audio2Expression

final class EmoA2EInferenceTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }  // one thread: much faster than two on a shared 2-core machine

    func clips(_ c: EmoA2EConfig, _ frames: Int, seed: UInt64 = 4) throws -> Tensor {
        try Tensor.randn([frames, c.mfccRowsPerFrame, c.mfccCoefficients], generator: Generator(seed: seed))
    }

    func testEmotionFreeVariantIgnoresThePrompt() throws {
        let c = Synthetic.smallConfig(emotion: false)
        let emo = try EmoA2E(model: EmoA2EModel(config: c, generator: Generator(seed: 3)), textEncoder: HashTextEncoder())
        let a = try clips(c, 8), alpha = try Tensor.randn([c.identityDim], generator: Generator(seed: 21))
        let happy = try emo.predict(mfccClips: a, identity: alpha, emotion: "happy", intensity: 3).floats()
        // Exact: without emotion the prompt never enters the computation; the same code runs on the same inputs.
        XCTAssertEqual(happy, try emo.predict(mfccClips: a, identity: alpha, emotion: "sad", intensity: 1).floats())
        XCTAssertEqual(happy, try emo.predict(mfccClips: a, identity: alpha, emotion: nil).floats())
    }

    func testPromptsChangeAnEmotionConditionedModel() throws {
        let c = Synthetic.smallConfig()
        let emo = try EmoA2E(model: EmoA2EModel(config: c, generator: Generator(seed: 3)), textEncoder: HashTextEncoder())
        let a = try clips(c, 8), alpha = try Tensor.randn([c.identityDim], generator: Generator(seed: 21))
        let happy = try emo.predict(mfccClips: a, identity: alpha, emotion: "happy", intensity: 2)
        let sad = try emo.predict(mfccClips: a, identity: alpha, emotion: "sad", intensity: 2)
        XCTAssertGreaterThan(try (happy - sad).abs().max().item(), 1e-4)
        let compound = try emo.predict(mfccClips: a, identity: alpha, emotion: "happy+sad", intensity: 2)
        XCTAssertEqual(compound.shape, [8, c.expressionDim])
    }

    func testLongAndShortSequencesAreCovered() throws {
        let c = Synthetic.smallConfig()
        let emo = try EmoA2E(model: EmoA2EModel(config: c, generator: Generator(seed: 3)), textEncoder: HashTextEncoder())
        let alpha = try Tensor.randn([c.identityDim], generator: Generator(seed: 21))
        for frames in [1, 5, 8, 9, 21, 40] {
            let out = try emo.predict(mfccClips: clips(c, frames), identity: alpha, emotion: "happy", intensity: 1.5)
            XCTAssertEqual(out.shape, [frames, c.expressionDim])
            XCTAssertTrue(try out.floats().allSatisfy { $0.isFinite })
        }
        // Frames inside the first window but outside the overlap equal the single-window prediction.
        let long = try clips(c, 21)
        let whole = try emo.predict(mfccClips: long, identity: alpha, emotion: "happy", intensity: 1.5)
        let first = try emo.predict(mfccClips: long.narrow(0, 0, c.windowFrames), identity: alpha, emotion: "happy", intensity: 1.5)
        // A batch of windows vs one window: other kernels may sum in another order; outputs are O(1) and the small
        // model's chain (fan-ins ≤ 128, a few layers) bounds rounding near 1e-5.
        XCTAssertLessThan(try (whole.narrow(0, 0, 4) - first.narrow(0, 0, 4)).abs().max().item(), 1e-5)
    }

    func testBadInputsThrowClearErrors() throws {
        let c = Synthetic.smallConfig()
        let emo = try EmoA2E(model: EmoA2EModel(config: c, generator: Generator(seed: 3)), textEncoder: HashTextEncoder())
        let a = try clips(c, 8), alpha = try Tensor.randn([c.identityDim], generator: Generator(seed: 21))
        XCTAssertThrowsError(try emo.predict(mfccClips: a, identity: alpha, emotion: nil))
        XCTAssertThrowsError(try emo.predict(mfccClips: a, identity: alpha, emotion: "happy", intensity: 4))
        XCTAssertThrowsError(try emo.predict(mfccClips: a, identity: alpha, emotion: "happy", intensity: .nan))
        XCTAssertThrowsError(try emo.predict(mfccClips: a.reshape([8, -1]), identity: alpha, emotion: "happy"))
        XCTAssertThrowsError(try emo.predict(mfccClips: a.narrow(0, 0, 0), identity: alpha, emotion: "happy"))
        XCTAssertThrowsError(try emo.predict(mfccClips: a, identity: Tensor.randn([3], generator: Generator(seed: 22)), emotion: "happy"))
        XCTAssertThrowsError(try emo.predict(mfccClips: a, identity: alpha, emotion: ""))
        let nan = try a * Double.nan
        XCTAssertThrowsError(try emo.predict(mfccClips: nan, identity: alpha, emotion: "happy")) { XCTAssertTrue("\($0)".contains("NaN"), "\($0)") }
        // An encoder other than the one the model was trained with is refused.
        XCTAssertThrowsError(try EmoA2E(model: EmoA2EModel(config: c), textEncoder: HashTextEncoder(identifier: "other")))
        XCTAssertThrowsError(try EmoA2E(model: EmoA2EModel(config: c), textEncoder: HashTextEncoder(width: 8)))
        XCTAssertThrowsError(try EmoA2E.load(weights: URL(fileURLWithPath: "/nonexistent.safetensors"), textEncoder: nil))
    }

    func testWeightsRoundTripIncludingFloat16() throws {
        let c = Synthetic.smallConfig(.gru)
        let model = try EmoA2EModel(config: c, generator: Generator(seed: 8))
        try model.setMFCCStatistics(from: Tensor.randn([50, 13], generator: Generator(seed: 23)) * 3 + 1)
        let emo = try EmoA2E(model: model, textEncoder: HashTextEncoder())
        let a = try clips(c, 12), alpha = try Tensor.randn([c.identityDim], generator: Generator(seed: 21))
        let expected = try emo.predict(mfccClips: a, identity: alpha, emotion: "fear", intensity: 2)
        let dir = FileManager.default.temporaryDirectory
        // float32: the same weights through the same code (exact in practice); float16: weights rounded to 2⁻¹¹
        // relative, carried through the network to outputs of size ~1.
        for (dtype, tol) in [(DType.float32, 1e-6), (.float16, 5e-2)] {
            let url = dir.appendingPathComponent("tgdm-emoa2e-\(getpid())-\(dtype).safetensors")
            defer { try? FileManager.default.removeItem(at: url) }
            try EmoA2E.saveWeights(model, to: url, dtype: dtype)
            let loaded = try EmoA2E.load(weights: url, textEncoder: HashTextEncoder())
            XCTAssertEqual(loaded.config, c)
            let got = try loaded.predict(mfccClips: a, identity: alpha, emotion: "fear", intensity: 2)
            XCTAssertLessThan(try (got - expected).abs().max().item(), tol, "\(dtype)")
        }
        let corrupt = dir.appendingPathComponent("tgdm-emoa2e-corrupt-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: corrupt) }
        try Safetensors.save(["x": Tensor.zeros([2])], metadata: ["emoa2e.config": "{not json"], to: corrupt)
        XCTAssertThrowsError(try EmoA2E.load(weights: corrupt, textEncoder: nil))
    }
}
