import Torch
import XCTest
@testable import FaceModel

final class ModelTests: XCTestCase {
    func testDefaultModelShapesAndIndices() throws {
        let m = Shared.model
        let v = m.vertexCount
        XCTAssertGreaterThan(v, 1000)
        XCTAssertEqual(m.identityBasis.shape, [3 * v, 80])
        XCTAssertEqual(m.expressionBasis.shape, [3 * v, 64])
        XCTAssertEqual(m.textureBasis.shape, [3 * v, 80])
        XCTAssertEqual(m.meanTexture.shape, [v, 3])
        XCTAssertEqual(Set(try m.landmarkIndices.toArray(Int64.self)).count, 68, "68 distinct landmark vertices")
        XCTAssertNotNil(m.leftEyeVertices)
        XCTAssertEqual(m.expressionNames.count, 64)
        XCTAssertTrue(m.expressionNames.contains("jawOpen"))
        // Albedo in [0, 1]; the mean shape is centred and about 1.5 units (decimetres) wide.
        XCTAssertGreaterThanOrEqual(try m.meanTexture.min().item(), 0)
        XCTAssertLessThanOrEqual(try m.meanTexture.max().item(), 1)
        let xs = try m.meanShape.select(1, 0)
        let width = try xs.max().item() - xs.min().item()
        XCTAssertGreaterThan(width, 1.2)
        XCTAssertLessThan(width, 2.2)
        // Triangles wind counter-clockwise seen from outside: the normal at the nose tip points to +z.
        let normals = try Shared.renderer.vertexNormals(m.meanShape.unsqueeze(0)).squeeze(0)
        let tip = Int(try m.landmarkIndices.toArray(Int64.self)[30])
        XCTAssertGreaterThan(try normals.select(0, tip).floats()[2], 0.8)
    }

    func testEquationSevenIsLinear() throws {
        let m = Shared.model
        let zeroA = try Tensor.zeros([1, 80]), zeroB = try Tensor.zeros([1, 64])
        XCTAssertEqual(try (m.shape(identity: zeroA, expression: zeroB).squeeze(0) - m.meanShape).abs().max().item(), 0)
        let alpha = try Tensor.randn([2, 80], generator: Generator(seed: 3))
        let beta = try Tensor.randn([2, 64], generator: Generator(seed: 4))
        let s = try m.shape(identity: alpha, expression: beta)
        XCTAssertEqual(s.shape, [2, m.vertexCount, 3])
        // Vertex 7, coordinate 1 by hand: S̄ + Σ B_id α + Σ B_exp β.
        let row = 7 * 3 + 1
        let byHand = try Double(m.meanShape.select(0, 7).floats()[1]) +
            (m.identityBasis.select(0, row) * alpha.select(0, 1)).sum().item() +
            (m.expressionBasis.select(0, row) * beta.select(0, 1)).sum().item()
        XCTAssertEqual(try s.select(0, 1).select(0, 7).floats()[1], Float(byHand), accuracy: 1e-4)   // float32 sums of 144 basis terms vs float64: 8√144·u·|terms| with |terms| ≤ 10
        let t = try m.texture(Tensor.zeros([1, 80]))
        XCTAssertEqual(try (t.squeeze(0) - m.meanTexture).abs().max().item(), 0)   // exact: zero coefficients add exact zeros
        XCTAssertThrowsError(try m.shape(identity: Tensor.zeros([1, 79]), expression: zeroB))
        XCTAssertThrowsError(try m.shape(identity: Tensor.zeros([2, 80]), expression: zeroB))
    }

    /// A small valid model (a tetrahedron with 68 landmark slots on its 4 vertices).
    func tinyTensors() throws -> [String: Tensor] {
        let v = 4
        return [
            "mean_shape": try Tensor([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1] as [Float], shape: [v, 3]),
            "id_basis": try Tensor.zeros([3 * v, 80]), "exp_basis": try Tensor.zeros([3 * v, 64]),
            "mean_texture": try Tensor.full([v, 3], 0.5), "tex_basis": try Tensor.zeros([3 * v, 80]),
            "triangles": try Tensor([0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3] as [Int64], shape: [4, 3]),
            "landmarks": try Tensor((0..<68).map { Int64($0 % 4) }),
        ]
    }

    func testValidationRejectsBrokenModels() throws {
        XCTAssertNoThrow(try MorphableModel(tensors: tinyTensors()))
        func expectError(_ change: (inout [String: Tensor]) throws -> Void, _ fragment: String) throws {
            var t = try tinyTensors()
            try change(&t)
            XCTAssertThrowsError(try MorphableModel(tensors: t)) { e in
                XCTAssertTrue("\(e)".contains(fragment), "'\(e)' should mention '\(fragment)'")
            }
        }
        try expectError({ $0["exp_basis"] = nil }, "missing tensor 'exp_basis'")
        try expectError({ $0["id_basis"] = try Tensor.zeros([12, 79]) }, "id_basis")
        try expectError({ $0["triangles"] = try Tensor([0, 1, 4] as [Int64], shape: [1, 3]) }, "outside 0..<4")
        try expectError({ $0["triangles"] = try Tensor([0, 1, -1] as [Int64], shape: [1, 3]) }, "outside 0..<4")
        try expectError({ $0["landmarks"] = try Tensor([0, 1] as [Int64]) }, "68")
        try expectError({ $0["mean_shape"] = try Tensor([Float.nan] + [Float](repeating: 0, count: 11), shape: [4, 3]) }, "NaN")
        try expectError({ $0["triangles"] = try Tensor.zeros([1, 3]) }, "integers")
        try expectError({ $0["eye_left_vertices"] = try Tensor([0] as [Int64]) }, "both")
    }

    func testSaveLoadRoundTripAndCorruptFile() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.safetensors")
        try MorphableModel(tensors: tinyTensors(), metadata: ["name": "tiny"]).save(to: url)
        let back = try MorphableModel(contentsOf: url)
        XCTAssertEqual(back.metadata["name"], "tiny")
        XCTAssertEqual(back.triangleIndices, [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3])
        let bad = dir.appendingPathComponent("bad.safetensors")
        try Data(try Data(contentsOf: url).prefix(100)).write(to: bad)
        XCTAssertThrowsError(try MorphableModel(contentsOf: bad))
        XCTAssertThrowsError(try MorphableModel(contentsOf: dir.appendingPathComponent("none.safetensors")))
    }

    /// The converter for Deep3DFaceRecon's BFM_model_front.mat (scripts/facemodel/convert_bfm.py),
    /// run by scripts/fixtures/face_bfm_fixture.py on a synthetic .mat.
    func testConvertedBFMLayoutLoads() throws {
        let m = try MorphableModel(contentsOf: fixtureURL("face_bfm_tiny.safetensors"))
        XCTAssertEqual(m.vertexCount, 6)
        // The synthetic meanshape is vertex k = (k, 2k, 3k) + (10, 20, 30), recentred to zero mean.
        let mean = try m.meanShape.floats()
        XCTAssertEqual(mean[0], -2.5, accuracy: 1e-5)
        XCTAssertEqual(mean[3 * 5 + 2], 7.5, accuracy: 1e-5)
        // 1-based tri and keypoints became 0-based; meantex 0–255 became 0–1.
        XCTAssertEqual(Array(m.triangleIndices.prefix(3)), [0, 1, 2])
        XCTAssertEqual(try m.landmarkIndices.toArray(Int64.self)[0], 0)
        XCTAssertEqual(try m.meanTexture.max().item(), 1, accuracy: 1e-5)
        XCTAssertEqual(try m.identityBasis.select(0, 4).floats()[1], 0.5, accuracy: 1e-6)
        XCTAssertNil(m.leftEyeVertices)
    }
}
