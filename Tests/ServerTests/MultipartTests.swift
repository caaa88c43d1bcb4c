import Foundation
@testable import Server
import XCTest

/// The multipart parser: what browsers and curl send parses, malformed bodies throw (never trap), work stays linear.
final class MultipartTests: XCTestCase {
    func testParsesFieldsAndBinaryFilesWithPreambleAndEpilogue() throws {
        // File content that contains CRLF, "--", and a prefix of the delimiter must come back byte for byte.
        let tricky = Data([0, 1, 2, 13, 10, 45, 45, 120, 13, 10]) + Data("\r\n--bound".utf8) + Data([255, 254])
        let (type, body) = Multipart.build([
            ("options", "o.json", "application/json", Data(#"{"driver":"image"}"#.utf8)),
            ("source", "face \"1\".png", "image/png", tricky),
            ("note", nil, nil, Data()),
        ], boundary: "boundary")
        let withPreamble = Data("This is a preamble.\r\n".utf8) + body + Data("epilogue bytes".utf8)
        let boundary = try Multipart.boundary(contentType: type)
        XCTAssertEqual(boundary, "boundary")
        let parts = try Multipart.parse([UInt8](withPreamble), boundary: boundary)
        XCTAssertEqual(parts.map(\.name), ["options", "source", "note"])
        XCTAssertEqual(parts[0].body, Array(#"{"driver":"image"}"#.utf8))
        XCTAssertEqual(parts[0].contentType, "application/json")
        XCTAssertEqual(parts[1].filename, "face \"1\".png")
        XCTAssertEqual(parts[1].body, [UInt8](tricky))
        XCTAssertNil(parts[2].filename)
        XCTAssertEqual(parts[2].body, [])
    }

    func testBoundaryFromContentType() throws {
        XCTAssertEqual(try Multipart.boundary(contentType: "multipart/form-data; boundary=\"a b:c\""), "a b:c")
        XCTAssertEqual(try Multipart.boundary(contentType: "Multipart/Form-Data;charset=utf-8; boundary=xyz"), "xyz")
        for bad in ["application/json", "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"unterminated",
                    "multipart/form-data; boundary=" + String(repeating: "x", count: 71), "multipart/form-data; boundary=a\u{7}b"] {
            XCTAssertThrowsError(try Multipart.boundary(contentType: bad), bad)
        }
    }

    func testMalformedBodiesThrowWithAMessage() {
        let b = "XyZ"
        let cases: [(String, String)] = [
            ("", "no boundary found"),
            ("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", "missing close delimiter"),
            ("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nvalue\r\n--XyZ--", "unterminated part headers"),
            ("--XyZ\r\n\r\nvalue\r\n--XyZ--", "without Content-Disposition"),
            ("--XyZ\r\nContent-Type: text/plain\r\n\r\nvalue\r\n--XyZ--", "without Content-Disposition"),
            ("--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--XyZ--", "not form-data"),
            ("--XyZ\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nv\r\n--XyZ--", "without a name"),
            ("--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--XyZ--", "unterminated quoted"),
            ("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n folded\r\n\r\nv\r\n--XyZ--", "bad part header line"),
            ("--XyZ\r\nContent-Disposition: form-data; name=\"\u{e9}\"\r\n\r\nv\r\n--XyZ--", "non-ASCII"),
            ("--XyZ--", "no parts"),
            ("--XyZjunk\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--", "bad delimiter line"),
        ]
        for (body, needle) in cases {
            XCTAssertThrowsError(try Multipart.parse(Array(body.utf8), boundary: b), body) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(body.debugDescription): \(e)")
            }
        }
    }

    func testLimitsOnPartsAndHeaders() {
        let many = (0..<20).map { ("f\($0)", nil as String?, nil as String?, Data("x".utf8)) }
        let (_, body) = Multipart.build(many, boundary: "b")
        XCTAssertThrowsError(try Multipart.parse([UInt8](body), boundary: "b")) { XCTAssertTrue("\($0)".contains("more than 16 parts")) }
        let longHeader = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: \(String(repeating: "p", count: 9000))\r\n\r\nv\r\n--b--"
        XCTAssertThrowsError(try Multipart.parse(Array(longHeader.utf8), boundary: "b")) { XCTAssertTrue("\($0)".contains("longer than")) }
    }

    /// Seeded random mutations of a valid body: every outcome is a result or a MultipartError, never a trap.
    func testRandomMutationsNeverTrap() {
        let (_, valid) = Multipart.build([("options", nil, "application/json", Data("{}".utf8)),
                                          ("source", "s.png", "image/png", Data((0..<200).map { UInt8($0 % 251) }))], boundary: "q1")
        var rng = SplitMix64(seed: 42)
        var parsed = 0, refused = 0
        for _ in 0..<3000 {
            var bytes = [UInt8](valid)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                default: bytes = Array(bytes[0..<i])
                }
                if bytes.isEmpty { bytes = [0] }
            }
            do { _ = try Multipart.parse(bytes, boundary: "q1"); parsed += 1 } catch is MultipartError { refused += 1 } catch {
                XCTFail("unexpected error type \(error)")
            }
        }
        XCTAssertEqual(parsed + refused, 3000)
        XCTAssertGreaterThan(refused, 100)
    }

    /// A body full of near-delimiters is parsed in linear work (KMP), not quadratic: the comparisons are counted,
    /// not timed, so the test means the same on a loaded machine and a fast one.
    func testAdversarialBodyTakesLinearWork() throws {
        let boundary = String(repeating: "a", count: 70)
        let near = Array("\r\n--\(String(repeating: "a", count: 69))b".utf8)
        var content: [UInt8] = []
        content.reserveCapacity(1 << 20)
        while content.count < 1 << 20 { content += near }
        let (_, body) = Multipart.build([("source", "x", nil, Data(content))], boundary: boundary)
        var work = 0
        let parts = try Multipart.parse([UInt8](body), boundary: boundary, work: &work)
        XCTAssertEqual(parts.first?.body.count, content.count)
        // KMP's bound is 2 comparisons per byte searched; a naive search here does ~70 (the delimiter's length) per
        // near-delimiter, i.e. ~0.95 × 70 per byte: the gate is far from both.
        XCTAssertLessThanOrEqual(work, 2 * body.count)
        XCTAssertGreaterThanOrEqual(work, content.count)   // the search did look at every content byte
    }
}

/// A small seeded generator (SplitMix64) for reproducible mutations.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
