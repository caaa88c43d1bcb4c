import Foundation

/// One part of a `multipart/form-data` body (RFC 7578).
public struct MultipartPart: Sendable, Equatable {
    /// The form field name (`Content-Disposition: form-data; name="..."`).
    public var name: String
    /// The file name the client sent, for display only: it is never used as a path.
    public var filename: String?
    /// The part's declared `Content-Type`, if any (never trusted: uploads are sniffed).
    public var contentType: String?
    public var body: [UInt8]

    public init(name: String, filename: String? = nil, contentType: String? = nil, body: [UInt8]) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.body = body
    }
}

/// Why a multipart body was refused; the message is meant for the client.
public struct MultipartError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    init(_ message: String) { description = "malformed multipart body: \(message)" }
}

/// A strict, bounded `multipart/form-data` parser over bytes in memory: a plain function, so fuzzers can call it.
/// It never traps: every malformed input throws `MultipartError`. Work is linear in the input (delimiter search by
/// Knuth–Morris–Pratt), so adversarial bodies cannot make it quadratic.
public enum Multipart {
    public struct Limits: Sendable {
        /// At most this many parts.
        public var maxParts = 16
        /// Bytes of one part's header block.
        public var maxHeaderBytes = 8 * 1024
        /// Header lines in one part.
        public var maxHeaderLines = 16
        public init() {}
    }

    /// The boundary parameter of a `multipart/form-data` Content-Type header (RFC 2046: 1–70 characters).
    public static func boundary(contentType: String) throws -> String {
        let pieces = splitParameters(contentType)
        guard let type = pieces.first?.lowercased(), type == "multipart/form-data" else {
            throw MultipartError("Content-Type must be multipart/form-data")
        }
        for p in pieces.dropFirst() {
            let (key, value) = try parameter(p)
            guard key == "boundary" else { continue }
            guard (1...70).contains(value.utf8.count), value.utf8.allSatisfy(isBoundaryByte) else {
                throw MultipartError("bad boundary")
            }
            return value
        }
        throw MultipartError("Content-Type has no boundary")
    }

    /// Splits `body` into its parts. The preamble and epilogue are ignored (RFC 2046 §5.1.1); a missing close
    /// delimiter, a part without a `form-data` disposition or name, or more than `limits` allow is an error.
    public static func parse(_ body: [UInt8], boundary: String, limits: Limits = Limits()) throws -> [MultipartPart] {
        var work = 0
        return try parse(body, boundary: boundary, limits: limits, work: &work)
    }

    /// `parse`, adding to `work` the byte comparisons of the delimiter search (tests bound it: linear, not quadratic).
    static func parse(_ body: [UInt8], boundary: String, limits: Limits = Limits(), work: inout Int) throws -> [MultipartPart] {
        guard (1...70).contains(boundary.utf8.count), boundary.utf8.allSatisfy(isBoundaryByte) else { throw MultipartError("bad boundary") }
        let dashBoundary = Array("--\(boundary)".utf8)
        let delimiter = Array("\r\n--\(boundary)".utf8)
        let finder = Finder(delimiter)
        // The first delimiter may start the body (no preceding CRLF) or follow a preamble.
        var position: Int
        if body.starts(with: dashBoundary) {
            position = dashBoundary.count
        } else {
            guard let i = finder.first(in: body, from: 0, work: &work) else { throw MultipartError("no boundary found") }
            position = i + delimiter.count
        }
        var parts: [MultipartPart] = []
        while true {
            // After a delimiter: "--" closes the body; otherwise optional whitespace, then CRLF.
            if position + 1 < body.count, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") {
                guard !parts.isEmpty else { throw MultipartError("no parts") }
                return parts
            }
            while position < body.count, body[position] == UInt8(ascii: " ") || body[position] == UInt8(ascii: "\t") { position += 1 }
            guard position + 1 < body.count, body[position] == 13, body[position + 1] == 10 else {
                throw MultipartError("truncated or bad delimiter line")
            }
            position += 2
            guard parts.count < limits.maxParts else { throw MultipartError("more than \(limits.maxParts) parts") }
            let headersEnd = try endOfHeaders(body, from: position, limit: limits.maxHeaderBytes)
            var part = try headers(body[position..<headersEnd], limits: limits)
            let contentStart = headersEnd + 4
            guard let next = finder.first(in: body, from: contentStart, work: &work) else { throw MultipartError("missing close delimiter") }
            part.body = Array(body[contentStart..<next])
            parts.append(part)
            position = next + delimiter.count
        }
    }

    // MARK: headers

    /// The index of the CRLFCRLF that ends a header block starting at `start`.
    private static func endOfHeaders(_ body: [UInt8], from start: Int, limit: Int) throws -> Int {
        // An empty block (CRLF at once) has no Content-Disposition, which form-data requires.
        if start + 1 < body.count, body[start] == 13, body[start + 1] == 10 { throw MultipartError("part without Content-Disposition") }
        var i = start
        while i + 3 < body.count {
            if i - start > limit { throw MultipartError("part headers longer than \(limit) bytes") }
            if body[i] == 13, body[i + 1] == 10, body[i + 2] == 13, body[i + 3] == 10 { return i }
            i += 1
        }
        throw MultipartError("unterminated part headers")
    }

    private static func headers(_ block: ArraySlice<UInt8>, limits: Limits) throws -> MultipartPart {
        guard !block.isEmpty else { throw MultipartError("part without Content-Disposition") }
        // Header lines are ASCII printable (or tab); obsolete line folding is refused.
        guard block.allSatisfy({ $0 == 9 || $0 == 13 || $0 == 10 || (32...126).contains($0) }) else {
            throw MultipartError("non-ASCII or control bytes in part headers")
        }
        let text = String(decoding: block, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        guard lines.count <= limits.maxHeaderLines else { throw MultipartError("too many part header lines") }
        var disposition: String?, contentType: String?
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                  let first = line.first, first != " ", first != "\t", !line.contains("\r"), !line.contains("\n") else {
                throw MultipartError("bad part header line")
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "content-disposition":
                guard disposition == nil else { throw MultipartError("duplicate Content-Disposition") }
                disposition = value
            case "content-type":
                guard contentType == nil else { throw MultipartError("duplicate Content-Type") }
                contentType = value
            default: continue   // Content-Transfer-Encoding and others: ignored (RFC 7578 §4.7)
            }
        }
        guard let disposition else { throw MultipartError("part without Content-Disposition") }
        let pieces = splitParameters(disposition)
        guard pieces.first?.lowercased() == "form-data" else { throw MultipartError("part disposition is not form-data") }
        var name: String?, filename: String?
        for p in pieces.dropFirst() {
            let (key, value) = try parameter(p)
            switch key {
            case "name":
                guard name == nil else { throw MultipartError("duplicate name parameter") }
                name = value
            case "filename":
                guard filename == nil else { throw MultipartError("duplicate filename parameter") }
                filename = value
            default: continue   // filename* and others are ignored
            }
        }
        guard let name, !name.isEmpty, name.count <= 100 else { throw MultipartError("part without a name") }
        return MultipartPart(name: name, filename: filename, contentType: contentType, body: [])
    }

    /// Splits a header value at semicolons that are outside quoted strings.
    static func splitParameters(_ value: String) -> [String] {
        var out: [String] = [], current = "", quoted = false, escaped = false
        for c in value {
            if escaped { current.append(c); escaped = false; continue }
            if quoted && c == "\\" { current.append(c); escaped = true; continue }
            if c == "\"" { quoted.toggle() }
            if c == ";" && !quoted { out.append(current.trimmingCharacters(in: .whitespaces)); current = ""; continue }
            current.append(c)
        }
        out.append(current.trimmingCharacters(in: .whitespaces))
        return out.filter { !$0.isEmpty }
    }

    /// `key=value` or `key="quoted \" value"`: the lowercased key and the unquoted value.
    static func parameter(_ piece: String) throws -> (String, String) {
        guard let eq = piece.firstIndex(of: "=") else { throw MultipartError("bad header parameter") }
        let key = piece[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
        var raw = Substring(piece[piece.index(after: eq)...].trimmingCharacters(in: .whitespaces))
        guard !key.isEmpty else { throw MultipartError("bad header parameter") }
        guard raw.first == "\"" else { return (key, String(raw)) }
        guard raw.count >= 2, raw.last == "\"" else { throw MultipartError("unterminated quoted parameter") }
        raw = raw.dropFirst().dropLast()
        var value = "", escaped = false
        for c in raw {
            if escaped { value.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" {
                throw MultipartError("stray quote in parameter")
            } else { value.append(c) }
        }
        guard !escaped else { throw MultipartError("unterminated quoted parameter") }
        return (key, value)
    }

    /// RFC 2046 bchars (letters, digits, '()+_,-./:=?) and the space, which may not end a boundary (checked loosely).
    static func isBoundaryByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return true
        default: return "'()+_,-./:=? ".utf8.contains(b)
        }
    }

    /// Knuth–Morris–Pratt search for one fixed pattern.
    struct Finder {
        let pattern: [UInt8]
        let failure: [Int]

        init(_ pattern: [UInt8]) {
            self.pattern = pattern
            var f = [Int](repeating: 0, count: pattern.count)
            var k = 0
            for i in 1..<max(1, pattern.count) {
                while k > 0 && pattern[i] != pattern[k] { k = f[k - 1] }
                if pattern[i] == pattern[k] { k += 1 }
                f[i] = k
            }
            failure = f
        }

        /// The index where the pattern first occurs at or after `start`, or nil.
        func first(in haystack: [UInt8], from start: Int, work: inout Int) -> Int? {
            guard start >= 0, !pattern.isEmpty else { return nil }
            // Comparisons: one per byte plus one per fallback, and fallbacks never outnumber advances: at most 2n.
            var k = 0, i = start, comparisons = 0
            defer { work += comparisons }
            while i < haystack.count {
                while k > 0 && haystack[i] != pattern[k] { k = failure[k - 1]; comparisons += 1 }
                comparisons += 1
                if haystack[i] == pattern[k] { k += 1 }
                if k == pattern.count { return i - k + 1 }
                i += 1
            }
            return nil
        }
    }
}
