import Torch
import XCTest
@testable import FaceModel

/// Projection, rotation, spherical harmonics and the rasterizer against hand-computed values.
final class GeometryTests: XCTestCase {
    func testProjectionMatchesHandComputedValues() throws {
        let p = try Tensor([0.5, -0.2, 1.0] as [Float], shape: [1, 1, 3])
        let (px, depth) = try Camera.deep3DFaceRecon(size: 224).project(p)
        // d = 10 − 1 = 9; u = 112 + 1015·0.5/9; v = 112 − 1015·(−0.2)/9.
        let uv = try px.floats()
        XCTAssertEqual(uv[0], 168.38889, accuracy: 1e-3)   // a few float32 roundings of values ≤ 340 (ulp 3e-5) and the 5-digit decimal
        XCTAssertEqual(uv[1], 134.55556, accuracy: 1e-3)
        XCTAssertEqual(try depth.floats()[0], 9, accuracy: 1e-6)
        // Twice the size: focal and centre double, so pixel coordinates double.
        let uv2 = try Camera.deep3DFaceRecon(size: 448).project(p).pixels.floats()
        XCTAssertEqual(uv2[0], 2 * uv[0], accuracy: 1e-3)
        XCTAssertEqual(uv2[1], 2 * uv[1], accuracy: 1e-3)
    }

    func testRotationAxesAndOrder() throws {
        func rotate(_ angles: [Float], _ v: [Float]) throws -> [Float] {
            let r = try Pose.rotationMatrix(Tensor(angles, shape: [1, 3]))
            return try Pose.apply(Tensor(v, shape: [1, 1, 3]), rotation: r, translation: Tensor.zeros([1, 3])).floats()
        }
        let h = Float.pi / 2
        assertClose(try rotate([0, h, 0], [0, 0, 1]), [1, 0, 0])   // yaw: the nose turns to +x
        assertClose(try rotate([h, 0, 0], [0, 1, 0]), [0, 0, 1])   // pitch: the forehead comes forward
        assertClose(try rotate([0, 0, h], [1, 0, 0]), [0, 1, 0])   // roll
        // R = Rz·Ry·Rx, written out by hand for (a, b, c) = (0.3, −0.2, 0.5).
        let (a, b, c) = (0.3, -0.2, 0.5)
        let rx = [[1, 0, 0], [0, cos(a), -sin(a)], [0, sin(a), cos(a)]]
        let ry = [[cos(b), 0, sin(b)], [0, 1, 0], [-sin(b), 0, cos(b)]]
        let rz = [[cos(c), -sin(c), 0], [sin(c), cos(c), 0], [0, 0, 1]]
        func mul(_ x: [[Double]], _ y: [[Double]]) -> [[Double]] {
            (0..<3).map { i in (0..<3).map { j in (0..<3).reduce(0) { $0 + x[i][$1] * y[$1][j] } } }
        }
        let expected = mul(mul(rz, ry), rx).flatMap { $0 }.map { Float($0) }
        let got = try Pose.rotationMatrix(Tensor([Float(a), Float(b), Float(c)], shape: [1, 3])).floats()
        assertClose(got, expected)
    }

    func testSphericalHarmonicsConstantsAndLayout() throws {
        let up = try Tensor([0, 0, 1] as [Float], shape: [1, 1, 3])
        let h = try SphericalHarmonics.basis(up).floats()
        // a0·c0 = √π/2, a1·c1 = √π, a2·c2 = 2.4270324, so H6(z = 1) = a2·c2/√3.
        assertClose(h, [0.886227, 0, 1.772454, 0, 0, 0, 1.401248, 0, 0], tolerance: 1e-5)
        let diag = try Tensor([Float(0.5).squareRoot(), Float(0.5).squareRoot(), 0], shape: [1, 1, 3])
        assertClose(try SphericalHarmonics.basis(diag).floats(),
                    [0.886227, -1.253314, 0, -1.253314, 1.213516, 0, -0.700624, 0, 0], tolerance: 1e-5)
        // γ is RGB-major (γ[c·9 + k]) and band 0 gets +0.8: γ_R2 = 0.5 brightens red only.
        var g = [Float](repeating: 0, count: 27)
        g[2] = 0.5
        let s = try SphericalHarmonics.shading(normals: up, gamma: Tensor(g, shape: [1, 27])).floats()
        assertClose(s, [0.8 * 0.886227 + 0.5 * 1.772454, 0.8 * 0.886227, 0.8 * 0.886227], tolerance: 1e-5)
    }

    func testRasterizerCoverageFollowsPixelCentres() throws {
        // Right triangle (2,2), (12,2), (2,12): centres with j, i ≥ 2 and i + j ≤ 13 → 55 pixels.
        for winding in [[0, 1, 2], [0, 2, 1]] as [[Int32]] {
            let r = try Rasterizer.rasterize(pixels: [2, 2, 12, 2, 2, 12], depth: [5, 5, 5], triangles: winding,
                                             width: 16, height: 16, bandRows: 3)
            XCTAssertEqual(r.coveredPixelCount, 55)
            XCTAssertEqual(r.triangleIds[2 * 16 + 2], 0)
            XCTAssertEqual(r.triangleIds[11 * 16 + 2], 0)
            XCTAssertEqual(r.triangleIds[11 * 16 + 3], -1)
            XCTAssertEqual(r.depth[2 * 16 + 2], 5, accuracy: 1e-5)
        }
    }

    func testRasterizerKeepsTheNearestSurface() throws {
        // Two squares over the whole 8×8 image, at depths 5 and 3, given in both orders.
        let square: [Float] = [0, 0, 8, 0, 8, 8, 0, 8]
        let quads: [Int32] = [0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7]
        for (near, far) in [(Float(3), Float(5)), (5, 3)] {
            let r = try Rasterizer.rasterize(pixels: square + square, depth: [near, near, near, near, far, far, far, far],
                                             triangles: quads, width: 8, height: 8)
            let nearFirst = near < far
            XCTAssertTrue(r.triangleIds.allSatisfy { nearFirst ? $0 < 2 : $0 >= 2 })
            XCTAssertEqual(r.depth[9], min(near, far), accuracy: 1e-5)
        }
    }

    func testRasterizerSkipsBadTrianglesAndRejectsBadInput() throws {
        // Behind the camera, degenerate, and NaN triangles draw nothing.
        let r = try Rasterizer.rasterize(pixels: [0, 0, 8, 0, 0, 8, 1, 1, 2, 2, 3, 3, .nan, 0, 8, 8, 0, 8],
                                         depth: [-1, 5, 5, 5, 5, 5, 5, 5, 5], triangles: [0, 1, 2, 3, 4, 5, 6, 7, 8],
                                         width: 8, height: 8)
        XCTAssertEqual(r.coveredPixelCount, 0)
        XCTAssertThrowsError(try Rasterizer.rasterize(pixels: [0, 0], depth: [1], triangles: [0, 0, 5], width: 4, height: 4))
        XCTAssertThrowsError(try Rasterizer.rasterize(pixels: [0, 0], depth: [1], triangles: [0, 0, 0], width: 0, height: 4))
        XCTAssertThrowsError(try Rasterizer.rasterize(pixels: [0, 0, 1], depth: [1], triangles: [0, 0, 0], width: 4, height: 4))
    }

    func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tolerance, file: file, line: line) }
    }
}
