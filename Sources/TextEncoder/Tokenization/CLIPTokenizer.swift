import Foundation

/// CLIP's byte-level BPE tokenizer (OpenAI `simple_tokenizer.py`): cleaned, lower-cased text is split by
/// CLIP's regular expression, each piece's UTF-8 bytes are mapped to printable characters and merged by
/// rank. The vocabulary (49,408 entries) is the 256 byte characters, the same with an end-of-word mark
/// `</w>`, one entry per merge, then `<|startoftext|>` and `<|endoftext|>`. Any input encodes: unknown
/// words fall back to byte pieces.
public final class CLIPTokenizer: @unchecked Sendable {
    public static let mergeCount = 49152 - 256 - 2
    public static let startOfText = "<|startoftext|>"
    public static let endOfText = "<|endoftext|>"

    public let encoder: [String: Int]
    public let decoder: [Int: String]
    public var vocabularySize: Int { encoder.count }
    public var startOfTextID: Int { encoder[Self.startOfText]! }
    public var endOfTextID: Int { encoder[Self.endOfText]! }

    private let mergeRanks: [String: Int]    // "first second" → rank
    private let byteEncoder: [String]         // byte → printable character
    private let byteDecoder: [Character: UInt8]
    private let pattern: NSRegularExpression
    private var cache: [String: [String]] = [:]
    private let lock = NSLock()

    /// The merges file bundled with this module (from OpenAI CLIP, MIT licence).
    public static func bundled() throws -> CLIPTokenizer {
        guard let url = Bundle.module.url(forResource: "clip_bpe_merges", withExtension: "txt") else {
            throw TextEncoderError("the bundled CLIP merges file is missing from the TextEncoder resources")
        }
        return try CLIPTokenizer(mergesFile: url)
    }

    /// Reads a merges file in CLIP's format (a `#version` line, then one "a b" merge per line). A gzip
    /// file must be decompressed first (`gunzip bpe_simple_vocab_16e6.txt.gz`).
    public convenience init(mergesFile url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TextEncoderError("cannot read CLIP merges file \(url.path): \(error.localizedDescription)")
        }
        if data.starts(with: [0x1F, 0x8B]) {
            throw TextEncoderError("\(url.lastPathComponent) is gzip-compressed: decompress it with gunzip first")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TextEncoderError("\(url.lastPathComponent) is not UTF-8 text")
        }
        try self.init(mergesText: text)
    }

    public init(mergesText: String) throws {
        let lines = mergesText.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > Self.mergeCount else {
            throw TextEncoderError("CLIP merges file has \(max(lines.count - 1, 0)) merges, expected at least \(Self.mergeCount)")
        }
        let byteChars = Self.bytesToUnicode()
        // The vocabulary lists byte characters in the table's construction order (printable bytes first).
        let ordered = Self.bytesInTableOrder().map { byteChars[$0] }
        var vocab = ordered + ordered.map { $0 + "</w>" }
        var ranks: [String: Int] = [:]
        ranks.reserveCapacity(Self.mergeCount)
        for (rank, line) in lines[1...Self.mergeCount].enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw TextEncoderError("CLIP merges line \(rank + 2) is not two symbols: '\(line)'")
            }
            ranks["\(parts[0]) \(parts[1])"] = rank
            vocab.append(String(parts[0] + parts[1]))
        }
        vocab += [Self.startOfText, Self.endOfText]
        var enc: [String: Int] = [:]
        for (i, v) in vocab.enumerated() { enc[v] = i }
        guard enc.count == vocab.count else { throw TextEncoderError("CLIP merges produce duplicate vocabulary entries") }
        encoder = enc
        decoder = Dictionary(uniqueKeysWithValues: enc.map { ($1, $0) })
        mergeRanks = ranks
        byteEncoder = byteChars
        byteDecoder = Dictionary(uniqueKeysWithValues: byteChars.enumerated().map { (Character($1), UInt8($0)) })
        pattern = try NSRegularExpression(
            pattern: #"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"#,
            options: [.caseInsensitive])
        cache = [Self.startOfText: [Self.startOfText], Self.endOfText: [Self.endOfText]]
    }

    /// Bytes in the order GPT-2's table is built: the printable ones, then the rest ascending.
    static func bytesInTableOrder() -> [Int] {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        return printable + (0..<256).filter { !printable.contains($0) }
    }

    /// GPT-2's reversible byte → printable-character table, indexed by byte: printable bytes map to
    /// themselves, the others to U+0100 onwards.
    static func bytesToUnicode() -> [String] {
        let order = bytesInTableOrder()
        var table = [String](repeating: "", count: 256)
        var n = 0
        for b in order {
            let isPrintable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            table[b] = String(Unicode.Scalar(UInt32(isPrintable ? b : 256 + n))!)
            if !isPrintable { n += 1 }
        }
        return table
    }

    /// Token ids of `text` without start/end markers (CLIP's `SimpleTokenizer.encode`).
    public func encode(_ text: String) -> [Int] {
        let cleaned = CLIPTextCleaner.clean(text)
        let ns = cleaned as NSString
        var ids: [Int] = []
        for m in pattern.matches(in: cleaned, range: NSRange(location: 0, length: ns.length)) {
            let piece = ns.substring(with: m.range)
            let mapped = piece.utf8.map { byteEncoder[Int($0)] }.joined()
            for symbol in bpe(mapped) {
                // Every BPE output is a vocabulary entry by construction (bytes and merges are all in it).
                if let id = encoder[symbol] { ids.append(id) }
            }
        }
        return ids
    }

    /// `clip.tokenize(text, context_length, truncate: true)`: start marker, ids, end marker, zero padding.
    /// Text that is too long is cut and its last token replaced by the end marker.
    public func tokenize(_ text: String, contextLength: Int = 77) throws -> [Int] {
        guard contextLength >= 2 else { throw TextEncoderError("context length \(contextLength) is too short") }
        var ids = [startOfTextID] + encode(text) + [endOfTextID]
        if ids.count > contextLength {
            ids = Array(ids.prefix(contextLength))
            ids[contextLength - 1] = endOfTextID
        }
        return ids + [Int](repeating: 0, count: contextLength - ids.count)
    }

    public func decode(_ ids: [Int]) -> String {
        let text = ids.compactMap { decoder[$0] }.joined()
        var bytes: [UInt8] = []
        for ch in text { if let b = byteDecoder[ch] { bytes.append(b) } }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "</w>", with: " ")
    }

    /// Merges the lowest-ranked adjacent pair until none is in the merge table.
    private func bpe(_ token: String) -> [String] {
        lock.lock()
        if let hit = cache[token] { lock.unlock(); return hit }
        lock.unlock()
        var word = token.unicodeScalars.map { String($0) }
        guard !word.isEmpty else { return [] }
        word[word.count - 1] += "</w>"
        while word.count > 1 {
            var best: (rank: Int, index: Int)? = nil
            for i in 0..<(word.count - 1) {
                if let r = mergeRanks["\(word[i]) \(word[i + 1])"], r < (best?.rank ?? Int.max) { best = (r, i) }
            }
            guard let b = best else { break }
            let first = word[b.index], second = word[b.index + 1]
            // Merge every occurrence of the pair, left to right, as the reference does.
            var merged: [String] = []
            var i = 0
            while i < word.count {
                if i < word.count - 1, word[i] == first, word[i + 1] == second {
                    merged.append(first + second)
                    i += 2
                } else {
                    merged.append(word[i])
                    i += 1
                }
            }
            word = merged
        }
        lock.lock()
        cache[token] = word
        lock.unlock()
        return word
    }
}

/// An error from the text encoders (bad files, bad prompts).
public struct TextEncoderError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "TextEncoderError: \(message)" }
}
