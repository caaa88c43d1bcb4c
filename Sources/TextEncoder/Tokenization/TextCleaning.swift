import Foundation

/// The text clean-up CLIP applies before BPE: a subset of `ftfy.fix_text` (NFC, curly quotes,
/// Latin ligatures, full-width ASCII, control characters), `html.unescape` twice, whitespace collapse,
/// lower-casing. ftfy's mojibake repair is not reproduced: text that is already valid Unicode (everything a
/// Swift `String` holds) is left as it is by that step anyway, except for double-encoded UTF-8.
public enum CLIPTextCleaner {
    public static func clean(_ text: String) -> String {
        var t = fixText(text)
        t = HTMLEntities.unescape(HTMLEntities.unescape(t))
        return collapseWhitespace(t).lowercased()
    }

    /// The parts of ftfy's default `fix_text` that change well-formed text.
    static func fixText(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            let v = s.value
            if isRemovedControl(v) { continue }
            if let lig = latinLigatures[v] { out.append(contentsOf: lig.unicodeScalars); continue }
            switch v {
            case 0x02BC, 0x2018...0x201B: out.append("'")
            case 0x201C...0x201F: out.append("\"")
            case 0x3000: out.append(" ")
            case 0xFF01...0xFF5E: out.append(Unicode.Scalar(v - 0xFF01 + 0x21)!) // full-width ASCII
            case 0x0D, 0x2028, 0x2029, 0x85: out.append("\n")
            default: out.append(s)
            }
        }
        var fixed = String(out)
        // ftfy unescapes HTML once more itself ("auto": only when the text has no literal '<').
        if !fixed.contains("<") { fixed = HTMLEntities.unescape(fixed) }
        return fixed.precomposedStringWithCanonicalMapping
    }

    /// ftfy's `remove_control_chars` set: C0 controls other than tab/newline/form feed/carriage return,
    /// DEL, deprecated format characters, the BOM, interlinear annotation marks and tag characters.
    static func isRemovedControl(_ v: UInt32) -> Bool {
        switch v {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC, 0xE0000...0xE007F: return true
        default: return false
        }
    }

    static let latinLigatures: [UInt32: String] = [
        0x0132: "IJ", 0x0133: "ij", 0x0149: "\u{02BC}n", 0x01C4: "D\u{017D}", 0x01C5: "D\u{017E}", 0x01C6: "d\u{017E}",
        0x01C7: "LJ", 0x01C8: "Lj", 0x01C9: "lj", 0x01CA: "NJ", 0x01CB: "Nj", 0x01CC: "nj", 0x01F1: "DZ", 0x01F2: "Dz",
        0x01F3: "dz", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u{017F}t", 0xFB06: "st",
    ]

    /// `re.sub(r'\s+', ' ', text).strip()`.
    static func collapseWhitespace(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for s in text.unicodeScalars {
            if s.properties.isWhitespace || isPythonSpace(s.value) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.append(s)
            }
        }
        return String(out)
    }

    /// Python's `str.isspace` also counts the ASCII separators 0x1C-0x1F.
    static func isPythonSpace(_ v: UInt32) -> Bool { (0x1C...0x1F).contains(v) }
}

/// `html.unescape` for numeric references and the common named entities.
public enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}", "copy": "\u{00A9}",
        "reg": "\u{00AE}", "trade": "\u{2122}", "hellip": "\u{2026}", "mdash": "\u{2014}", "ndash": "\u{2013}",
        "lsquo": "\u{2018}", "rsquo": "\u{2019}", "ldquo": "\u{201C}", "rdquo": "\u{201D}", "laquo": "\u{00AB}",
        "raquo": "\u{00BB}", "deg": "\u{00B0}", "eacute": "\u{00E9}", "egrave": "\u{00E8}", "agrave": "\u{00E0}",
        "aacute": "\u{00E1}", "ccedil": "\u{00E7}", "uuml": "\u{00FC}", "ouml": "\u{00F6}", "auml": "\u{00E4}",
        "szlig": "\u{00DF}", "ntilde": "\u{00F1}", "euro": "\u{20AC}", "pound": "\u{00A3}", "yen": "\u{00A5}",
        "cent": "\u{00A2}", "sect": "\u{00A7}", "middot": "\u{00B7}", "times": "\u{00D7}", "divide": "\u{00F7}",
        "hearts": "\u{2665}",
    ]
    /// Entities Python also resolves without the trailing semicolon (the HTML4 Latin-1 set).
    static let withoutSemicolon: Set<String> = [
        "amp", "lt", "gt", "quot", "nbsp", "copy", "reg", "deg", "eacute", "egrave", "agrave", "aacute", "ccedil",
        "uuml", "ouml", "auml", "szlig", "ntilde", "pound", "yen", "cent", "sect", "middot", "times", "divide",
        "laquo", "raquo",
    ]

    public static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "&", let (replacement, length) = entity(at: i, in: scalars) {
                out.append(contentsOf: replacement.unicodeScalars)
                i += length
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return String(out)
    }

    private static func entity(at start: Int, in s: [Unicode.Scalar]) -> (String, Int)? {
        var j = start + 1
        guard j < s.count else { return nil }
        if s[j] == "#" {
            j += 1
            var hex = false
            if j < s.count, s[j] == "x" || s[j] == "X" { hex = true; j += 1 }
            let digitsStart = j
            while j < s.count, hex ? s[j].properties.isASCIIHexDigit : ("0"..."9").contains(s[j]) { j += 1 }
            guard j > digitsStart else { return nil }
            let digits = String(String.UnicodeScalarView(s[digitsStart..<j]))
            if j < s.count, s[j] == ";" { j += 1 }
            let value = UInt32(digits, radix: hex ? 16 : 10) ?? 0x110000
            let scalar = (value == 0 || value > 0x10FFFF || (0xD800...0xDFFF).contains(value)) ? nil : Unicode.Scalar(value)
            return (String(scalar ?? "\u{FFFD}"), j - start)
        }
        let nameStart = j
        while j < s.count, j - nameStart < 32, s[j].properties.isAlphabetic || ("0"..."9").contains(s[j]) { j += 1 }
        guard j > nameStart else { return nil }
        let name = String(String.UnicodeScalarView(s[nameStart..<j]))
        if j < s.count, s[j] == ";", let r = named[name] { return (r, j + 1 - start) }
        if withoutSemicolon.contains(name), let r = named[name] { return (r, j - start) }
        return nil
    }
}
