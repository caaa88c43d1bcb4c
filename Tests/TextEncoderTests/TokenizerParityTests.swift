import XCTest
@testable import TextEncoder

/// Token ids against OpenAI's simple_tokenizer.py (CLIP) and HF tokenizers (BERT WordPiece), from
/// scripts/fixtures/text_tokenizers.py.
final class TokenizerParityTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        let clip_encode: [Int]
        let clip_tokens: [Int]
        let bert_ids: [Int]
    }
    struct Cases: Decodable { let vocab_size_clip: Int; let cases: [Case] }

    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let cases: Cases = try! JSONDecoder().decode(Cases.self, from: Data(contentsOf: fixtures.appendingPathComponent("tokenizer_cases.json")))
    static let clip = try! CLIPTokenizer.bundled()

    func testCLIPVocabularyLayout() throws {
        let tok = Self.clip
        XCTAssertEqual(tok.vocabularySize, 49408)
        XCTAssertEqual(tok.vocabularySize, Self.cases.vocab_size_clip)
        XCTAssertEqual(tok.startOfTextID, 49406)
        XCTAssertEqual(tok.endOfTextID, 49407)
    }

    func testCLIPMatchesOpenAITokenizer() throws {
        for c in Self.cases.cases {
            XCTAssertEqual(Self.clip.encode(c.text), c.clip_encode, "encode \(c.text.debugDescription)")
            XCTAssertEqual(try Self.clip.tokenize(c.text), c.clip_tokens, "tokenize \(c.text.debugDescription)")
        }
    }

    func testCLIPDecodeRoundTrip() throws {
        let ids = Self.clip.encode("a happy, surprised face")
        XCTAssertEqual(Self.clip.decode(ids).trimmingCharacters(in: .whitespaces), "a happy , surprised face")
    }

    func testCLIPRejectsBadMergesFiles() throws {
        XCTAssertThrowsError(try CLIPTokenizer(mergesText: "#version\na b\n"))
        XCTAssertThrowsError(try CLIPTokenizer(mergesFile: URL(fileURLWithPath: "/nonexistent/merges.txt")))
        let gz = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-merges-\(getpid()).txt.gz")
        try Data([0x1F, 0x8B, 0x08, 0x00]).write(to: gz)
        defer { try? FileManager.default.removeItem(at: gz) }
        XCTAssertThrowsError(try CLIPTokenizer(mergesFile: gz)) { XCTAssertTrue("\($0)".contains("gunzip"), "\($0)") }
        XCTAssertThrowsError(try Self.clip.tokenize("x", contextLength: 1))
    }

    func testWordPieceMatchesHuggingFace() throws {
        let tok = try WordPieceTokenizer(vocabFile: Self.fixtures.appendingPathComponent("minilm_vocab.txt"))
        XCTAssertEqual(tok.vocabulary.count, 30522)
        for c in Self.cases.cases {
            XCTAssertEqual(try tok.encode(c.text, maxLength: 100_000), c.bert_ids, "\(c.text.debugDescription)")
        }
        // Truncation keeps [CLS] … [SEP].
        let long = try tok.encode(String(repeating: "happy ", count: 400), maxLength: 256)
        XCTAssertEqual(long.count, 256)
        XCTAssertEqual(long.first, tok.clsID)
        XCTAssertEqual(long.last, tok.sepID)
    }

    func testWordPieceRejectsVocabularyWithoutSpecialTokens() {
        XCTAssertThrowsError(try WordPieceTokenizer(vocabText: "a\nb\nc\n"))
        XCTAssertThrowsError(try WordPieceTokenizer(vocabFile: URL(fileURLWithPath: "/nonexistent/vocab.txt")))
    }

    func testHTMLUnescape() {
        XCTAssertEqual(HTMLEntities.unescape("a &amp; b &lt;c&gt; &#65;&#x42; &eacute; &bogus; &"), "a & b <c> AB é &bogus; &")
        XCTAssertEqual(HTMLEntities.unescape("&#0; &#xD800;"), "\u{FFFD} \u{FFFD}")
    }
}
