import Torch
import XCTest
@testable import TextEncoder

/// The Swift CLIP text tower against OpenAI's clip/model.py `encode_text` with the same small random
/// weights (scripts/fixtures/text_clip_tower.py).
final class CLIPTextTransformerTests: XCTestCase {
    static let file = try! Safetensors.load(Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("clip_tower_small.safetensors"))

    override func setUp() { Torch.configureThreads(1) }  // one thread: much faster than two on a shared 2-core machine

    func maxAbsDiff(_ a: Tensor, _ b: Tensor) throws -> Double { try (a - b).abs().max().item() }

    /// Float32 rounding between this tower and PyTorch's: per layer the q/k/v and output projections (width 64),
    /// scores and weighted sum (head size 16, context 16), the MLP (64, 256) and two layer norms (64); then the
    /// final layer norm and the projection (64), relative to the reference's largest feature.
    func gate(_ reference: Tensor) throws -> Double {
        let layer = [64, 16, 16, 16, 64, 64, 256, 64, 64]
        return try RoundingBound.float32(accumulatingChain: layer + layer + [64, 64], magnitude: reference.abs().max().item())
    }

    func testMatchesOpenAIEncodeText() throws {
        let heads = Int(Self.file.metadata["heads"] ?? "") ?? 0
        let model = try CLIPTextTransformer.load(openAIState: Self.file.tensors, heads: heads)
        XCTAssertEqual(model.config, CLIPTextConfig(vocabularySize: 300, contextLength: 16, width: 64, heads: 4, layers: 2, embedDim: 32))
        let out = try Torch.noGrad { try model(Self.file.tensors["__tokens"]!) }
        XCTAssertEqual(out.shape, [4, 32])
        let diff = try maxAbsDiff(out, Self.file.tensors["__features"]!), bound = try gate(Self.file.tensors["__features"]!)
        print("CLIP tower vs OpenAI: max abs diff \(diff), gate \(bound)")
        XCTAssertLessThan(diff, bound)
        let short = try Torch.noGrad { try model(Self.file.tensors["__short_tokens"]!) }
        XCTAssertLessThan(try maxAbsDiff(short, Self.file.tensors["__short_features"]!), try gate(Self.file.tensors["__short_features"]!))
    }

    func testWrongHeadCountChangesTheResult() throws {
        // The check above must be able to fail: one head instead of four gives different features.
        let model = try CLIPTextTransformer.load(openAIState: Self.file.tensors, heads: 1)
        let out = try Torch.noGrad { try model(Self.file.tensors["__tokens"]!) }
        XCTAssertGreaterThan(try maxAbsDiff(out, Self.file.tensors["__features"]!), 10 * (try gate(Self.file.tensors["__features"]!)))
    }

    func testSaveAndReloadThroughSafetensors() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-clip-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let text = Self.file.tensors.filter { !$0.key.hasPrefix("__") && !$0.key.hasPrefix("visual.") && $0.key != "logit_scale" }
        try Safetensors.save(text, to: url)
        let model = try CLIPTextTransformer.load(safetensors: url, heads: 4)
        let out = try Torch.noGrad { try model(Self.file.tensors["__tokens"]!) }
        XCTAssertLessThan(try maxAbsDiff(out, Self.file.tensors["__features"]!), try gate(Self.file.tensors["__features"]!))
    }

    func testBadInputsThrow() throws {
        let model = try CLIPTextTransformer.load(openAIState: Self.file.tensors, heads: 4)
        XCTAssertThrowsError(try model(Tensor([Int64](repeating: 1, count: 20), shape: [1, 20])))      // too long
        XCTAssertThrowsError(try model(Tensor([Int64](repeating: 999, count: 16), shape: [1, 16])))    // id ≥ vocab
        XCTAssertThrowsError(try model(Tensor([Float](repeating: 1, count: 16), shape: [1, 16])))      // not int64
        XCTAssertThrowsError(try model(Tensor([Int64](repeating: 1, count: 16), shape: [16])))         // rank 1
        var missing = Self.file.tensors
        missing["ln_final.weight"] = nil
        XCTAssertThrowsError(try CLIPTextTransformer.load(openAIState: missing, heads: 4))
        XCTAssertThrowsError(try CLIPTextTransformer.load(openAIState: ["x": try Tensor.zeros([1])]))
        var wrongShape = Self.file.tensors
        wrongShape["text_projection"] = try Tensor.zeros([63, 32])
        XCTAssertThrowsError(try CLIPTextTransformer.load(openAIState: wrongShape, heads: 4))
    }

    func testCLIPEmotionEncoderGivesNormalisedEmbeddings() throws {
        // A random full-vocabulary tower (small width) exercises tokenizer + tower + compound prompts.
        let cfg = CLIPTextConfig(vocabularySize: 49408, contextLength: 77, width: 32, heads: 2, layers: 1, embedDim: 16)
        let encoder = CLIPEmotionEncoder(tokenizer: try CLIPTokenizer.bundled(), model: try CLIPTextTransformer(config: cfg, generator: Generator(seed: 3)))
        for prompt in ["happy", "happy+surprised", "zxqvbnm-unseen-wørd", "😀"] {
            let z = try encoder.embed(prompt)
            XCTAssertEqual(z.shape, [1, 16])
            XCTAssertEqual(try z.norm().item(), 1, accuracy: RoundingBound.float32(accumulating: 2 * 16, magnitude: 1)) // ‖z‖ and z/‖z‖ over 16
        }
        XCTAssertThrowsError(try encoder.embed("  + "))
    }
}
