import Foundation
import XCTest
import Torch

/// Fixture files written by scripts/fixtures/torch_ops.py (python3-torch, the same libtorch).
enum Fixture {
    static func url(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw TorchError("fixture \(name).safetensors is missing; run /usr/bin/python3 scripts/fixtures/torch_ops.py")
        }
        return url
    }

    static func load(_ name: String) throws -> Safetensors.File { try Safetensors.load(url(name)) }
}

extension Dictionary where Key == String, Value == Tensor {
    /// The tensor under `key`, or a thrown error naming the key (a fixture that lost a tensor fails loudly).
    func required(_ key: String) throws -> Tensor {
        guard let t = self[key] else { throw TorchError("fixture has no tensor '\(key)'") }
        return t
    }
}

/// Fails the test unless `actual` and `expected` have the same shape and |a − e| ≤ atol + rtol·|e|
/// everywhere (NaN matches NaN). Reports the worst element.
func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Double = 1e-5, rtol: Double = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) throws {
    guard actual.shape == expected.shape else {
        XCTFail("\(what): shape \(actual.shape) != expected \(expected.shape)", file: file, line: line)
        return
    }
    let a = try actual.toArray(Double.self), e = try expected.toArray(Double.self)
    var worst: (index: Int, excess: Double)? = nil
    for i in 0..<a.count {
        if a[i].isNaN && e[i].isNaN { continue }
        let excess = Swift.abs(a[i] - e[i]) - (atol + rtol * Swift.abs(e[i]))
        if !(excess <= 0), excess > (worst?.excess ?? -1) || excess.isNaN { worst = (i, excess) }
    }
    if let w = worst {
        XCTFail("\(what): element \(w.index) is \(a[w.index]), expected \(e[w.index]) (atol \(atol), rtol \(rtol))", file: file, line: line)
    }
}

/// Runs `body` and returns the thrown TorchError's message, failing when nothing (or something else) is thrown.
func torchErrorMessage(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        try body()
        XCTFail("expected a TorchError, nothing was thrown", file: file, line: line)
    } catch let e as TorchError {
        return e.message
    } catch {
        XCTFail("expected a TorchError, got \(error)", file: file, line: line)
    }
    return ""
}
