import Torch
import Media
import FaceModel
import Foundation
import XCTest
@testable import FaceAnalysis

final class GazeFitTests: XCTestCase {
    /// A frontal render looking to one side: ω read back from the irises has the right sign.
    func testGazeFromIrises() throws {
        let r = try FaceRenderer.makeDefault(options: RenderOptions(background: -0.2, renderGaze: true))
        let analyzer = try MediaPipeShared.analyzer()
        let fitter = try LandmarkFitter(renderer: r, correspondence: try MeshCorrespondence.loadDefault(for: r.model))
        var rho = [Float](repeating: 0, count: Coefficients.count)
        let light = SphericalHarmonics.frontalLight()
        for k in 0..<27 { rho[224 + k] = light[k] }
        for (gx, gy) in [(Float(0.3), Float(0)), (-0.3, 0.15)] {
            rho[257] = gx; rho[258] = gy; rho[259] = gx; rho[260] = gy
            let c = try Coefficients(Tensor(rho, shape: [1, Coefficients.count]))
            let image = try RGBImage(tensor: try Torch.noGrad { try r.render(c, width: 256, height: 256) }.image.select(0, 0))
            let face = try analyzer.analyze(image: image)
            let obs = LandmarkFitter.Observation(landmarks: face.landmarks.map { SIMD2($0.x + 0.5, $0.y + 0.5) }, depths: face.landmarks.map(\.z),
                                                 irisCenters: face.irises!.map { SIMD2($0.center.x + 0.5, $0.center.y + 0.5) })
            let g = try fitter.fit(obs).coefficients.gaze.floats()
            print("true \((gx, gy)) fitted \(g)")
            // Horizontal gaze is read with the right sign at 28–77 % of its size (the iris network places the
            // iris of these synthetic eyes nearer the eye centre than the rendered pupil); vertical gaze is
            // not resolved (measured within 0.2 of truth, see docs/FACEMODEL.md).
            for e in 0..<2 {
                XCTAssertEqual(g[2 * e].sign, gx.sign, "eye \(e) x sign")
                XCTAssertGreaterThan(abs(g[2 * e]), 0.2 * abs(gx), "eye \(e) x size")
                XCTAssertLessThan(abs(g[2 * e]), 1.2 * abs(gx), "eye \(e) x size")
                XCTAssertEqual(g[2 * e + 1], gy, accuracy: 0.25, "eye \(e) y")
            }
        }
    }
}
