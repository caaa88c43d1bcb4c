import Torch
import XCTest
@testable import TGDMModel

/// The committed python3-torch reference numbers (scripts/fixtures/tgdm_blocks_ref.py).
enum Fixture {
    static let blocks: [String: Tensor] = {
        guard let url = Bundle.module.url(forResource: "tgdm_blocks", withExtension: "safetensors", subdirectory: "Fixtures"),
              let f = try? Safetensors.load(url) else { return [:] }
        return f.tensors
    }()

    static func tensor(_ key: String) throws -> Tensor {
        guard let t = blocks[key] else { throw TGDMError.invalidInput("fixture has no '\(key)'") }
        return t
    }

    /// Entries under `prefix.`, with the prefix removed.
    static func state(_ prefix: String) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in blocks where k.hasPrefix(prefix + ".") { d[String(k.dropFirst(prefix.count + 1))] = v }
        return d
    }
}

/// max |a − b|.
func maxAbsDiff(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) throws -> Double {
    XCTAssertEqual(a.shape, b.shape, file: file, line: line)
    return try (a - b).abs().max().item()
}
