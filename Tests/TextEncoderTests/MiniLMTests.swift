import Torch
import XCTest
@testable import TextEncoder

/// The default encoder. Tests that need the pretrained weights skip when scripts/text/install_minilm.sh has
/// not been run (and fail under TGDM_CI=1); the rest use a small random BERT with the real vocabulary.
final class MiniLMTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    nonisolated(unsafe) static var cached: MiniLMEmotionEncoder?

    override func setUp() { Torch.configureThreads(1) }  // one thread: much faster than two on a shared 2-core machine

    func pretrained() throws -> MiniLMEmotionEncoder {
        if let e = Self.cached { return e }
        let installed = MiniLMEmotionEncoder.installedDirectory()
        try requireOrSkip(installed != nil, "all-MiniLM-L6-v2 not installed (scripts/text/install_minilm.sh)")
        let e = try MiniLMEmotionEncoder(directory: installed!)
        Self.cached = e
        return e
    }

    func randomEncoder() throws -> MiniLMEmotionEncoder {
        let tok = try WordPieceTokenizer(vocabFile: Self.fixtures.appendingPathComponent("minilm_vocab.txt"))
        let cfg = BertConfig(vocabularySize: 30522, hiddenSize: 32, layers: 2, heads: 4, intermediateSize: 64, maxPositions: 64)
        return MiniLMEmotionEncoder(tokenizer: tok, model: try BertModel(config: cfg, generator: Generator(seed: 11)))
    }

    func testEmbeddingsMatchPythonReference() throws {
        let encoder = try pretrained()
        let ref = try Safetensors.load(Self.fixtures.appendingPathComponent("minilm_reference.safetensors"))
        let texts = ref.metadata["texts"]!.components(separatedBy: "\u{0001}")
        XCTAssertEqual(texts.count, 24)
        var worst = 1.0, worstDiff = 0.0
        for (i, text) in texts.enumerated() {
            let z = try encoder.embedStyle(text)
            let expected = try ref.tensors["single.\(i)"]!.reshape([1, -1])
            let cosine = try (z * expected).sum().item()
            worst = min(worst, cosine)
            worstDiff = max(worstDiff, try (z - expected).abs().max().item())
        }
        print("MiniLM parity: worst cosine \(worst), max abs diff \(worstDiff) over \(texts.count) prompts")
        // docs/EMOA2E.md quotes the worst cosine 0.99999988 (1 − 1.2e-7: float32 rounding of a unit vector).
        XCTAssertGreaterThanOrEqual(worst, 0.9999997)
        // Float32 rounding through 6 layers (q/k/v 384, scores and weights over head size 32 and ≤ 16 tokens,
        // output 384, MLP 384 and 1536, two layer norms 384), mean pooling and normalisation, relative to the
        // unit vector's size: the ceiling on any ISA; measured 1.5e-7.
        let layer = [384, 32, 16, 16, 384, 384, 1536, 384, 384]
        let gate = RoundingBound.float32(accumulatingChain: Array(repeating: layer, count: 6).flatMap { $0 } + [16, 384], magnitude: 1)
        print("MiniLM parity gate \(gate)")
        XCTAssertLessThan(worstDiff, gate)
        // Padded batch: the attention mask must make padding irrelevant.
        let batch = try Torch.noGrad {
            try encoder.model.meanPooledEmbedding(ref.tensors["batch.ids"]!, attentionMask: ref.tensors["batch.mask"]!)
        }
        let batchDiff = try (batch - ref.tensors["batch.embeddings"]!).abs().max().item()
        print("MiniLM parity: padded batch max abs diff \(batchDiff)")
        XCTAssertLessThan(batchDiff, gate)
    }

    func testJoyfulIsCloserToHappyThanToSad() throws {
        let e = try pretrained()
        let happy = try e.similarity("joyful", "happy"), sad = try e.similarity("joyful", "sad")
        print("MiniLM cos(joyful, happy) = \(happy), cos(joyful, sad) = \(sad)")
        XCTAssertGreaterThan(happy, sad)
        // The figures docs/EMOA2E.md quotes.
        XCTAssertEqual(happy, 0.684, accuracy: 0.001)
        XCTAssertEqual(sad, 0.269, accuracy: 0.001)
        XCTAssertGreaterThan(try e.similarity("furious", "angry"), try e.similarity("furious", "happy"))
    }

    func testCompoundAndUnseenPromptsWithPretrainedWeights() throws {
        let e = try pretrained()
        let compound = try e.embed("happy+surprised")
        XCTAssertEqual(compound.shape, [1, 384])
        XCTAssertEqual(try compound.norm().item(), 1, accuracy: RoundingBound.float32(accumulating: 2 * 384, magnitude: 1)) // ‖z‖ and z/‖z‖
        // The compound lies between its parts.
        let h = try e.embed("happy"), s = try e.embed("surprised")
        let toHappy = try (compound * h).sum().item(), toSurprised = try (compound * s).sum().item()
        XCTAssertGreaterThan(toHappy, try (s * h).sum().item())
        XCTAssertGreaterThan(toSurprised, try (s * h).sum().item())
        XCTAssertEqual(try e.embed(styles: ["happy", "surprised"]).floats(), try compound.floats())   // exact: the same code path on the same prompts
        let unseen = try e.embed("flabbergasted-ish zorblax 🤯")
        XCTAssertTrue(try unseen.floats().allSatisfy { $0.isFinite })
    }

    func testCompoundPromptAveragesAndRenormalises() throws {
        let e = try randomEncoder()
        let a = try e.embed("happy"), b = try e.embed("surprised")
        let expected = try l2Normalize((a + b) / 2)
        let got = try e.embed(" happy + surprised ")
        XCTAssertLessThan(try (got - expected).abs().max().item(), RoundingBound.float32(accumulating: 2 * 32, magnitude: 1)) // two renormalisations of a 32-d unit vector
        for prompt in ["unseenwordqq", "Ünïcödé", "a very very long prompt " + String(repeating: "x ", count: 400)] {
            let z = try e.embed(prompt)
            XCTAssertEqual(z.shape, [1, 32])
            XCTAssertEqual(try z.norm().item(), 1, accuracy: RoundingBound.float32(accumulating: 2 * 32, magnitude: 1)) // ‖z‖ and z/‖z‖
        }
        XCTAssertThrowsError(try e.embed(""))
        XCTAssertThrowsError(try e.embed(String(repeating: "a", count: 2000)))
    }

    func testMissingOrCorruptModelFolderThrows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-minilm-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try MiniLMEmotionEncoder(directory: dir)) { XCTAssertTrue("\($0)".contains("install_minilm"), "\($0)") }
        try Data("{}".utf8).write(to: dir.appendingPathComponent("config.json"))
        try Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\n".utf8).write(to: dir.appendingPathComponent("vocab.txt"))
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try MiniLMEmotionEncoder(directory: dir))
        XCTAssertThrowsError(try BertConfig(huggingFaceJSON: Data(#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 3, "intermediate_size": 8, "max_position_embeddings": 8}"#.utf8)))
        XCTAssertThrowsError(try BertConfig(huggingFaceJSON: Data("not json".utf8)))
    }

    func testHuggingFaceKeyMapping() {
        XCTAssertEqual(BertModel.swiftKey(huggingFaceKey: "encoder.layer.3.attention.self.query.weight"), "layers.3.query.weight")
        XCTAssertEqual(BertModel.swiftKey(huggingFaceKey: "0.auto_model.encoder.layer.0.output.LayerNorm.bias"), "layers.0.outputNorm.bias")
        XCTAssertEqual(BertModel.swiftKey(huggingFaceKey: "embeddings.LayerNorm.weight"), "embeddings.norm.weight")
        XCTAssertNil(BertModel.swiftKey(huggingFaceKey: "pooler.dense.weight"))
        XCTAssertNil(BertModel.swiftKey(huggingFaceKey: "embeddings.position_ids"))
    }
}
