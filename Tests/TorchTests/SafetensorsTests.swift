import Foundation
import XCTest
import Torch

final class SafetensorsTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    func testRoundTripOfEveryDTypeWithMetadata() throws {
        var tensors: [String: Tensor] = [:]
        let base = try Tensor([1.5, -2.25, 0, 3, 1e-3, -7] as [Float], shape: [2, 3])
        for dtype in DType.allCases {
            tensors["t_\(dtype)"] = try base.to(dtype)
        }
        tensors["scalar"] = try Tensor(scalar: 4)
        tensors["empty"] = try Tensor.zeros([0, 3])
        tensors["noncontiguous"] = try base.transpose(0, 1)
        let meta = ["format": "pt", "unicode": "äβ✓", "empty": ""]
        let data = try Safetensors.encode(tensors, metadata: meta)
        let back = try Safetensors.decode(data)
        XCTAssertEqual(back.metadata, meta)
        XCTAssertEqual(Set(back.tensors.keys), Set(tensors.keys))
        for (k, t) in tensors {
            let r = try XCTUnwrap(back.tensors[k])
            XCTAssertEqual(r.dtype, t.dtype, k)
            XCTAssertEqual(r.shape, t.shape, k)
            XCTAssertEqual(try r.toArray(Double.self), try t.toArray(Double.self), k)
        }
        // The header is padded so the data section starts 8-byte aligned.
        let headerLength = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(headerLength % 8, 0)
    }

    func testFilesWrittenByPythonLoad() throws {
        let f = try Fixture.load("st_python")
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "written by st.py"])
        let t = f.tensors
        XCTAssertEqual(try t.required("f32").floats(), [1.5, -2.25, 3.0, 0.0, 1e-3, -7.5])   // exact: stored bytes of the same float32 literals
        XCTAssertEqual(try t.required("f32").shape, [2, 3])
        XCTAssertEqual(try t.required("f64").toArray(Double.self), [3.141592653589793, -1e300])
        XCTAssertEqual(try t.required("i64").toArray(Int64.self), [-(1 << 40), 7, 0])
        XCTAssertEqual(try t.required("i32").toArray(Int32.self), [-5, 1 << 30])
        XCTAssertEqual(try t.required("u8").toArray(UInt8.self), [0, 255, 17])
        XCTAssertEqual(try t.required("bool").toArray(Bool.self), [true, false, true, true])
        XCTAssertEqual(try t.required("f16").dtype, .float16)
        XCTAssertEqual(try t.required("f16").floats(), [0.5, -1.25, 2048])   // exact: representable in float16
        XCTAssertEqual(try t.required("scalar").shape, [])
        XCTAssertEqual(try t.required("scalar").item(), 4)
        XCTAssertEqual(try t.required("empty").shape, [0, 3])
    }

    // MARK: corrupt files

    /// A valid file with tensors a (F32 [2]) and b (I64 [1]) and the given header, data as given.
    static func file(header: String, data: [UInt8]) -> Data {
        var h = Array(header.utf8)
        var out = Data()
        var n = UInt64(h.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(contentsOf: h)
        h.removeAll()
        out.append(contentsOf: data)
        return out
    }

    static let twelveBytes = [UInt8](repeating: 1, count: 16)

    func expectCorrupt(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        let m = torchErrorMessage({ _ = try Safetensors.decode(data) }, file: file, line: line)
        XCTAssertTrue(m.contains(fragment), "expected '\(fragment)' in: \(m)", file: file, line: line)
    }

    func testValidHandMadeFileLoads() throws {
        let ok = Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#,
                           data: Self.twelveBytes)
        let f = try Safetensors.decode(ok)
        XCTAssertEqual(f.tensors["b"]?.shape, [1])
    }

    func testCorruptHeadersAreRejected() throws {
        let good = Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#,
                             data: Self.twelveBytes)
        expectCorrupt(good.prefix(good.count - 3), "outside the 13-byte data section") // truncated file
        expectCorrupt(Data([1, 2, 3]), "only 3 bytes")
        var huge = good
        huge.replaceSubrange(0..<8, with: [0xff, 0xff, 0, 0, 0, 0, 0, 0])
        expectCorrupt(huge, "header length")
        expectCorrupt(Self.file(header: "{not json", data: []), "not a JSON object")
        expectCorrupt(Self.file(header: "[1, 2]", data: []), "not a JSON object")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                data: [UInt8](repeating: 0, count: 12)), "overlaps or leaves a gap")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#,
                                data: [UInt8](repeating: 0, count: 16)), "overlaps or leaves a gap")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                      "do not match")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 12)),
                      "trailing bytes")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                      "unsupported dtype Q7")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}}"#, data: [UInt8](repeating: 0, count: 8)),
                      "outside")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                      "outside")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                      "bad shape")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F64","shape":[1099511627776,1099511627776,64],"data_offsets":[0,8]}}"#,
                                data: [UInt8](repeating: 0, count: 8)), "overflows")
        expectCorrupt(Self.file(header: #"{"a":{"dtype":"F32","shape":[2]}}"#, data: [UInt8](repeating: 0, count: 8)), "needs dtype")
        expectCorrupt(Self.file(header: #"{"__metadata__":{"k":3}}"#, data: []), "not a string")
    }

    func testRandomCorruptionNeverCrashes() throws {
        let valid = try Safetensors.encode(["x": Tensor.randn([3, 5], generator: Generator(seed: 1)), "y": Tensor.ones([2], dtype: .int64)])
        var rng = SplitMix64(seed: 2024) // reproducible corruption
        var rejected = 0
        for trial in 0..<300 {
            var d = valid
            for _ in 0..<(1 + trial % 4) {
                let i = Int.random(in: 0..<d.count, using: &rng)
                d[i] = UInt8.random(in: 0...255, using: &rng)
            }
            if trial % 5 == 0 { d = d.prefix(Int.random(in: 0..<d.count, using: &rng)) }
            do { _ = try Safetensors.decode(d) } catch is TorchError { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 0)
    }

    func testMissingFileAndAtomicWrite() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertTrue(torchErrorMessage { _ = try Safetensors.load(dir.appendingPathComponent("none.safetensors")) }.contains("cannot read"))
        let url = dir.appendingPathComponent("sub/w.safetensors")
        try Safetensors.save(["w": Tensor.ones([3])], metadata: ["step": "7"], to: url)
        try Safetensors.save(["w": Tensor.zeros([3])], metadata: ["step": "8"], to: url) // overwrite
        let f = try Safetensors.load(url)
        XCTAssertEqual(f.metadata["step"], "8")
        XCTAssertEqual(try f.tensors["w"]!.floats(), [0, 0, 0])   // exact: stored zeros
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["w.safetensors"])
        XCTAssertThrowsError(try Safetensors.encode(["__metadata__": Tensor.ones([1])]))
    }
}

/// A tiny seeded generator for reproducible test corruption.
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
