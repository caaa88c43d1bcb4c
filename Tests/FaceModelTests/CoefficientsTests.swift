import Torch
import XCTest
@testable import FaceModel

final class CoefficientsTests: XCTestCase {
    /// Row r, column c holds r·1000 + c, so every slice can be checked by value.
    func indexed(_ rows: Int) throws -> Coefficients {
        var v: [Float] = []
        for r in 0..<rows { for c in 0..<Coefficients.count { v.append(Float(r * 1000 + c)) } }
        return try Coefficients(Tensor(v, shape: [rows, Coefficients.count]))
    }

    func testLayoutFollowsThePaperOrder() throws {
        var next = 0
        for p in CoefficientPart.allCases {
            XCTAssertEqual(p.range.lowerBound, next, "\(p) starts where the previous part ends")
            next = p.range.upperBound
        }
        XCTAssertEqual(next, 261)
        XCTAssertEqual(CoefficientPart.allCases.map(\.count), [80, 64, 80, 27, 6, 4])
    }

    func testNamedSlicesPickTheirColumns() throws {
        let c = try indexed(2)   // exact below: slices of integer-valued floats, no arithmetic
        XCTAssertEqual(try c.identity.shape, [2, 80])
        XCTAssertEqual(try c.expression.floats().first, 80)
        XCTAssertEqual(try c.texture.floats().first, 144)
        XCTAssertEqual(try c.illumination.floats().first, 224)
        XCTAssertEqual(try c.angles.floats(), [251, 252, 253, 1251, 1252, 1253])
        XCTAssertEqual(try c.translation.floats(), [254, 255, 256, 1254, 1255, 1256])
        XCTAssertEqual(try c.gaze.floats(), [257, 258, 259, 260, 1257, 1258, 1259, 1260])
    }

    func testReenactTakesAppearanceFromSourceAndMotionFromDriver() throws {
        let source = try indexed(1)                       // values 0..260
        let driver = try Coefficients(indexed(3).tensor + 100_000)
        let mixed = try Coefficients.reenact(source: source, driver: driver)
        XCTAssertEqual(mixed.batch, 3)
        let rows = try mixed.tensor.floats()
        for r in 0..<3 {
            for p in CoefficientPart.allCases {
                for col in p.range {
                    let expected = p.isAppearance ? Float(col) : Float(100_000 + r * 1000 + col)
                    XCTAssertEqual(rows[r * 261 + col], expected, "row \(r) \(p) column \(col)")
                }
            }
        }
        XCTAssertThrowsError(try Coefficients.reenact(source: indexed(2), driver: driver))
    }

    func testSwapTakesOnlyIdentityFromSource() throws {
        let source = try indexed(1)
        let target = try Coefficients(indexed(2).tensor + 100_000)
        let rows = try Coefficients.swap(source: source, target: target).tensor.floats()
        for r in 0..<2 {
            for col in 0..<261 {
                let expected = col < 80 ? Float(col) : Float(100_000 + r * 1000 + col)
                XCTAssertEqual(rows[r * 261 + col], expected)
            }
        }
    }

    func testWindowsAreClampedAtTheEnds() throws {
        let c = try indexed(4)
        let w = try c.windows(radius: 1)
        XCTAssertEqual(w.shape, [4, 3, 261])
        let first = try w.select(2, 0).floats()   // column 0 = row·1000
        XCTAssertEqual(first, [0, 0, 1000, 0, 1000, 2000, 1000, 2000, 3000, 2000, 3000, 3000])
        XCTAssertEqual(try c.flattenedWindows(radius: 1).shape, [4, 783])
        XCTAssertEqual(try c.windows(radius: 0).shape, [4, 1, 261])
        XCTAssertThrowsError(try c.windows(radius: -1))
    }

    func testDeep3DFaceReconReorderingRoundTrips() throws {
        let d = try Tensor.arange(0, 257).reshape([1, 257])
        let c = try Coefficients.fromDeep3DFaceRecon(d)
        XCTAssertEqual(try c.angles.floats(), [224, 225, 226])
        XCTAssertEqual(try c.illumination.floats().first, 227)
        XCTAssertEqual(try c.translation.floats(), [254, 255, 256])
        XCTAssertEqual(try c.gaze.floats(), [0, 0, 0, 0])
        XCTAssertEqual(try c.toDeep3DFaceRecon().floats(), try d.floats())
    }

    func testPartsInitialiserBroadcastsAndReplacing() throws {
        let e = try Tensor.ones([3, 64])
        let c = try Coefficients(expression: e, pose: Tensor([Float](repeating: 2, count: 6)))
        XCTAssertEqual(c.batch, 3)
        XCTAssertEqual(try c.pose.sum().item(), 36)
        let r = try c.replacing(.gaze, with: Tensor([Float](repeating: 0.5, count: 4)))
        XCTAssertEqual(try r.gaze.sum().item(), 6)
        XCTAssertEqual(try r.expression.sum().item(), 192)
        XCTAssertThrowsError(try c.replacing(.gaze, with: Tensor.ones([3, 5])))
        XCTAssertThrowsError(try Coefficients(expression: Tensor.ones([2, 63])))
    }

    func testRejectsWrongShapeAndNonFiniteValues() throws {
        XCTAssertThrowsError(try Coefficients(Tensor.zeros([2, 260])))
        XCTAssertThrowsError(try Coefficients(Tensor.zeros([2, 261], dtype: .int64)))
        var v = [Float](repeating: 0, count: 261)
        v[100] = .nan
        XCTAssertThrowsError(try Coefficients(Tensor(v, shape: [1, 261]))) { e in
            XCTAssertTrue("\(e)".contains("NaN"), "\(e)")
        }
        v[100] = .infinity
        XCTAssertThrowsError(try Coefficients(Tensor(v, shape: [1, 261])))
    }

    func testJSONAndSafetensorsRoundTrip() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try Coefficients(Tensor.randn([3, 261], generator: Generator(seed: 1)))
        for name in ["c.json", "c.safetensors"] {
            let url = dir.appendingPathComponent(name)
            try c.save(to: url)
            let back = try Coefficients.load(from: url)
            XCTAssertEqual(back.batch, 3)
            XCTAssertLessThan(try (back.tensor - c.tensor).abs().max().item(), 1e-6, name)   // JSON's decimals read back to the same floats (shortest round-trip form); safetensors copies bytes
        }
        // The JSON is readable: named parts per frame.
        let text = try String(contentsOf: dir.appendingPathComponent("c.json"), encoding: .utf8)
        for key in ["\"frames\"", "\"identity\"", "\"expression\"", "\"illumination\"", "\"angles\"", "\"translation\"", "\"gaze\""] {
            XCTAssertTrue(text.contains(key), key)
        }
    }

    func testRejectsBadFiles() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ s: String, _ name: String) throws -> URL {
            let u = dir.appendingPathComponent(name)
            try s.write(to: u, atomically: true, encoding: .utf8)
            return u
        }
        let goodData = try Coefficients.zeros(batch: 2).jsonData()
        let good = String(data: goodData, encoding: .utf8)!
        // Wrong length in the second frame.
        var dict = try JSONSerialization.jsonObject(with: goodData) as! [String: Any]
        var frames = dict["frames"] as! [[String: Any]]
        frames[1]["gaze"] = [0, 0, 0]
        dict["frames"] = frames
        let short = String(data: try JSONSerialization.data(withJSONObject: dict), encoding: .utf8)!
        XCTAssertThrowsError(try Coefficients.load(from: write(short, "short.json"))) { e in
            XCTAssertTrue("\(e)".contains("frame 1: gaze has 3 values"), "\(e)")
        }
        XCTAssertThrowsError(try Coefficients.load(from: write(good.replacingOccurrences(of: "tgdm-3dmm-coefficients", with: "x"), "fmt.json")))
        XCTAssertThrowsError(try Coefficients.load(from: write("{\"format\": \"tgdm-3dmm-coefficients\", \"version\": 1, \"frames\": [{}]}", "missing.json"))) { e in
            XCTAssertTrue("\(e)".contains("missing"), "\(e)")
        }
        XCTAssertThrowsError(try Coefficients.load(from: write("not json", "garbage.json")))
        XCTAssertThrowsError(try Coefficients.load(from: write("{}", "x.txt")))
        XCTAssertThrowsError(try Coefficients.load(from: dir.appendingPathComponent("absent.json")))
        // Safetensors: NaN, wrong shape, wrong key, truncated.
        var v = [Float](repeating: 0, count: 261)
        v[3] = .nan
        let nanURL = dir.appendingPathComponent("nan.safetensors")
        try Safetensors.save(["coefficients": Tensor(v, shape: [1, 261])], to: nanURL)
        XCTAssertThrowsError(try Coefficients.load(from: nanURL)) { e in XCTAssertTrue("\(e)".contains("NaN"), "\(e)") }
        let shapeURL = dir.appendingPathComponent("shape.safetensors")
        try Safetensors.save(["coefficients": Tensor.zeros([1, 257])], to: shapeURL)
        XCTAssertThrowsError(try Coefficients.load(from: shapeURL)) { e in XCTAssertTrue("\(e)".contains("261"), "\(e)") }
        let keyURL = dir.appendingPathComponent("key.safetensors")
        try Safetensors.save(["rho": Tensor.zeros([1, 261])], to: keyURL)
        XCTAssertThrowsError(try Coefficients.load(from: keyURL))
        let truncURL = dir.appendingPathComponent("trunc.safetensors")
        try Data(try Data(contentsOf: shapeURL).prefix(20)).write(to: truncURL)
        XCTAssertThrowsError(try Coefficients.load(from: truncURL))
    }
}

/// `save(to: "….json")` streams the document frame by frame; it must be byte-identical to `jsonData()`.
final class CoefficientJSONStreamingTests: XCTestCase {
    func testStreamedJSONEqualsTheEncoderBytes() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var values = try Tensor.randn([4, 261], generator: Generator(seed: 2)).floats()
        // Values whose text form differs between printers: integral, tiny, huge, negative zero, subnormal.
        let special: [Float] = [0, 1, -2, 1e-5, 1e-38, 3e20, -0.0, 1.0e-45, 123456789, 0.1, 1.0 / 3]
        for (i, v) in special.enumerated() { values[i * 7] = v }
        // 2100 frames: the writer reads the tensor 1024 rows at a time.
        let long = try Tensor.randn([2100, 261], generator: Generator(seed: 3)).floats()
        for batch in [1, 4, 2100] {
            let rows = batch == 2100 ? long : Array(values.prefix(batch * 261))
            let c = try Coefficients(Tensor(rows, shape: [batch, 261]))
            let url = dir.appendingPathComponent("c\(batch).json")
            try c.save(to: url)
            let streamed = try Data(contentsOf: url), encoded = try c.jsonData()
            XCTAssertEqual(String(decoding: streamed, as: UTF8.self), String(decoding: encoded, as: UTF8.self))
            XCTAssertEqual(try Coefficients.load(from: url).tensor.floats(), try c.tensor.floats())   // exact: a save/load round trip
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["c1.json", "c2100.json", "c4.json"],
                       "no temporary files left")
    }
}
