import Foundation

/// BERT's uncased WordPiece tokenizer (HF `BertTokenizer` / `BertNormalizer` + `BertPreTokenizer`):
/// drop control characters, space out CJK ideographs, strip accents, lower-case, split on whitespace and
/// punctuation, then greedy longest-match-first WordPiece with `##` continuations. A word with no
/// segmentation becomes `[UNK]`, so every input encodes.
public final class WordPieceTokenizer: @unchecked Sendable {
    public let vocabulary: [String: Int]
    public let maxInputCharsPerWord = 100
    public let clsID: Int, sepID: Int, unknownID: Int, padID: Int

    public convenience init(vocabFile url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TextEncoderError("cannot read WordPiece vocabulary \(url.path): \(error.localizedDescription)")
        }
        try self.init(vocabText: text)
    }

    /// One token per line; the line number is the id.
    public init(vocabText: String) throws {
        var vocab: [String: Int] = [:]
        var lines = vocabText.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        for (i, raw) in lines.enumerated() {
            let token = raw.hasSuffix("\r") ? String(raw.dropLast()) : raw
            if vocab[token] == nil { vocab[token] = i }
        }
        guard let cls = vocab["[CLS]"], let sep = vocab["[SEP]"], let unk = vocab["[UNK]"], let pad = vocab["[PAD]"] else {
            throw TextEncoderError("WordPiece vocabulary lacks [CLS], [SEP], [UNK] or [PAD] (\(vocab.count) entries)")
        }
        vocabulary = vocab
        clsID = cls; sepID = sep; unknownID = unk; padID = pad
    }

    /// `[CLS] pieces… [SEP]`, cut to `maxLength` tokens in all (sentence-transformers' max_seq_length).
    public func encode(_ text: String, maxLength: Int = 256) throws -> [Int] {
        guard maxLength >= 2 else { throw TextEncoderError("max length \(maxLength) is too short") }
        var ids: [Int] = []
        for word in basicTokens(text) { ids.append(contentsOf: wordPiece(word)) }
        return [clsID] + ids.prefix(maxLength - 2) + [sepID]
    }

    /// The normalised, whitespace- and punctuation-split words.
    public func basicTokens(_ text: String) -> [String] {
        var spaced = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            let v = s.value
            if v == 0 || v == 0xFFFD || Self.isControl(s) { continue }
            if Self.isWhitespace(s) { spaced.append(" "); continue }
            if Self.isCJK(v) { spaced.append(" "); spaced.append(s); spaced.append(" "); continue }
            spaced.append(s)
        }
        // Strip accents (NFD, drop non-spacing marks), then lower-case, as the uncased normaliser does.
        var stripped = String.UnicodeScalarView()
        for s in String(spaced).decomposedStringWithCanonicalMapping.unicodeScalars
        where s.properties.generalCategory != .nonspacingMark {
            stripped.append(s)
        }
        let lowered = String(stripped).lowercased()
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush() { if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() } }
        for s in lowered.unicodeScalars {
            if Self.isWhitespace(s) { flush(); continue }
            if Self.isPunctuation(s) { flush(); words.append(String(s)); continue }
            current.append(s)
        }
        flush()
        return words
    }

    /// Greedy longest-match-first segmentation of one word.
    func wordPiece(_ word: String) -> [Int] {
        let chars = Array(word.unicodeScalars)
        if chars.count > maxInputCharsPerWord { return [unknownID] }
        var pieces: [Int] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: Int? = nil
            while start < end {
                var candidate = String(String.UnicodeScalarView(chars[start..<end]))
                if start > 0 { candidate = "##" + candidate }
                if let id = vocabulary[candidate] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.generalCategory == .spaceSeparator
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate, .unassigned: return true
        default: return false
        }
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
