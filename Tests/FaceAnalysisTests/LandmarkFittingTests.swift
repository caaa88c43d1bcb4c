import Torch
import Media
import FaceModel
import Foundation
import XCTest
@testable import FaceAnalysis

/// The Face Mesh ↔ morphable-model correspondence, the landmark fitter on synthetic renders with known ρ,
/// and landmark masks.
final class LandmarkFittingTests: XCTestCase {
    nonisolated(unsafe) static var renderer: FaceRenderer?
    func renderer() throws -> FaceRenderer {
        if let r = Self.renderer { return r }
        let r = try FaceRenderer.makeDefault(options: RenderOptions(background: -0.2))
        Self.renderer = r
        return r
    }

    func testCorrespondenceLoadsWithSaneCoverage() throws {
        let r = try renderer()
        let c = try MeshCorrespondence.loadDefault(for: r.model)
        XCTAssertEqual(c.count, 468)
        let kept = c.weights.filter { $0 > 0 }.count
        XCTAssertGreaterThan(kept, 300, "most points have a stable place on the model")
        // The inner face (eyes, nose, mouth) must be kept: these drive pose and expression.
        for k in [1, 4, 0, 17, 33, 133, 263, 362, 61, 291, 159, 145, 386, 374] { XCTAssertGreaterThan(c.weights[k], 0.1, "landmark \(k)") }
        // The nose tip lies in front of the eye corners, and the image-left eye corner (33) on the subject's right (−x).
        let p = try c.points(of: r.model.meanShape.unsqueeze(0)).squeeze(0).floats()
        XCTAssertGreaterThan(p[3 * 1 + 2], p[3 * 33 + 2])
        XCTAssertLessThan(p[3 * 33], 0)
        XCTAssertGreaterThan(p[3 * 263], 0)
        XCTAssertGreaterThan(c.cropEnlarge, 1.2)
        XCTAssertLessThan(c.cropEnlarge, 2.5)
    }

    /// Renders ρ with a known pose and an open jaw, runs Face Mesh on the render and fits: the angles come
    /// back within 0.1 rad, the fitted mouth opens within 25 % and is as wide within 3 px, the landmarks
    /// reproject within 1.5 px at 256². (Face Mesh on these renders sits ~3 px from the model's own
    /// surface points; this case measures pitch 0.104 for 0.12, yaw −0.196 for −0.25, roll 0.058 for
    /// 0.08, mouth gap 19.4 px for 24.7.)
    func testFitterRecoversPoseAndExpressionOfARender() throws {
        let r = try renderer()
        let analyzer = try MediaPipeShared.analyzer()
        let corr = try MeshCorrespondence.loadDefault(for: r.model)
        let fitter = try LandmarkFitter(renderer: r, correspondence: corr)
        let jaw = try XCTUnwrap(r.model.expressionNames.firstIndex(of: "jawOpen"))
        var rng = SplitMix64(seed: 42)
        var rho = [Float](repeating: 0, count: Coefficients.count)
        for k in 0..<80 { rho[k] = 0.6 * rng.normal() }
        rho[80 + jaw] = 0.45
        let light = SphericalHarmonics.frontalLight()
        for k in 0..<27 { rho[224 + k] = light[k] }
        let truePose: [Float] = [0.12, -0.25, 0.08, 0.03, -0.02, 0.1]
        for k in 0..<6 { rho[251 + k] = truePose[k] }
        let c = try Coefficients(Tensor(rho, shape: [1, Coefficients.count]))
        let out = try Torch.noGrad { try r.render(c, width: 256, height: 256) }
        let image = try RGBImage(tensor: out.image.select(0, 0))
        let face = try analyzer.analyze(image: image)
        let lm = face.landmarks.map { SIMD2($0.x + 0.5, $0.y + 0.5) }
        let fit = try fitter.fit(.init(landmarks: lm, depths: face.landmarks.map { $0.z }))
        let got = try fit.coefficients.pose.floats()
        print("true pose \(truePose)\nfitted   \(got)\njaw \(try fit.coefficients.expression.floats()[jaw]) reprojection \(fit.reprojectionError) px")
        for k in 0..<3 { XCTAssertEqual(got[k], truePose[k], accuracy: 0.1, "angle \(k)") }
        // Expression: blendshape units overlap (jawOpen vs the MakeHuman mouth units), so check what they
        // do: the mouth opening (inner-lip gap 13–14) and width (corners 61–291) of the fitted model.
        let trueLm = try fitter.project(c).floats(), fitLm = try fitter.project(fit.coefficients).floats()
        func dist(_ p: [Float], _ a: Int, _ b: Int) -> Double {
            Double(((p[2 * a] - p[2 * b]) * (p[2 * a] - p[2 * b]) + (p[2 * a + 1] - p[2 * b + 1]) * (p[2 * a + 1] - p[2 * b + 1])).squareRoot())
        }
        print("mouth gap true \(dist(trueLm, 13, 14)) fitted \(dist(fitLm, 13, 14)); width \(dist(trueLm, 61, 291)) / \(dist(fitLm, 61, 291))")
        XCTAssertEqual(dist(fitLm, 13, 14), dist(trueLm, 13, 14), accuracy: 0.25 * dist(trueLm, 13, 14), "mouth opening (px)")
        XCTAssertEqual(dist(fitLm, 61, 291), dist(trueLm, 61, 291), accuracy: 3, "mouth width (px)")
        XCTAssertLessThan(fit.reprojectionError, 1.5)
    }

    /// Masks on a known landmark set: a square outline and a mouth opening.
    func testMasksFromLandmarks() throws {
        var lm = [SIMD3<Double>](repeating: SIMD3(50, 50, 0), count: 468)
        // Face oval on a circle of radius 30 around (50, 50); inner lips on a 10×4 ellipse at (50, 70).
        for (i, k) in FaceMeshTopology.faceOval.enumerated() {
            let t = 2 * Double.pi * Double(i) / Double(FaceMeshTopology.faceOval.count)
            lm[k] = SIMD3(50 + 30 * cos(t), 50 + 30 * sin(t), 0)
        }
        for (i, k) in FaceMeshTopology.lipsInner.enumerated() {
            let t = 2 * Double.pi * Double(i) / Double(FaceMeshTopology.lipsInner.count)
            lm[k] = SIMD3(50 + 10 * cos(t), 70 + 4 * sin(t), 0)
        }
        let face = try LandmarkMasks.faceRegion(lm, width: 100, height: 100)
        let area = face.reduce(0, +)
        XCTAssertEqual(Double(area), Double.pi * 900, accuracy: 40)   // a 36-gon inscribed in the circle
        XCTAssertEqual(face[50 * 100 + 50], 1)
        XCTAssertEqual(face[5 * 100 + 5], 0)
        let mouth = try LandmarkMasks.mouthInterior(lm, width: 100, height: 100)
        XCTAssertEqual(Double(mouth.reduce(0, +)), Double.pi * 40, accuracy: 15)
        XCTAssertEqual(mouth[70 * 100 + 50], 1)
        let noMouth = try LandmarkMasks.faceRegion(lm, width: 100, height: 100, excludingMouth: true)
        XCTAssertEqual(noMouth[70 * 100 + 50], 0)
        XCTAssertEqual(noMouth.reduce(0, +), area - mouth.reduce(0, +))
        XCTAssertThrowsError(try LandmarkMasks.faceRegion(Array(lm.prefix(10)), width: 100, height: 100))
        var bad = lm
        bad[FaceMeshTopology.faceOval[0]] = SIMD3(.nan, 0, 0)
        XCTAssertThrowsError(try LandmarkMasks.faceRegion(bad, width: 100, height: 100))
    }
}
