import Torch
import XCTest
@testable import FaceModel

final class FitterTests: XCTestCase {
    /// Renders a face with known expression and pose, then fits expression, pose and light from zero.
    func testRecoversExpressionAndPoseOfARenderedFace() throws {
        let r = Shared.renderer
        let jaw = r.model.expressionNames.firstIndex(of: "jawOpen")!
        let smile = r.model.expressionNames.firstIndex(of: "mouthSmileLeft")!
        let light = SphericalHarmonics.frontalLight()
        let truth = try coefficients(expression: [jaw: 0.6, smile: 0.4], angles: [-0.05, 0.2, 0.03],
                                     translation: [0.05, -0.04, 0], light: light)
        var options = CoefficientFitter.Options()
        options.parts = [.expression, .pose, .illumination]
        options.size = 96
        options.iterations = 60
        options.learningRate = 0.04
        let target = try r.render(truth, width: 96, height: 96)
        let fitter = CoefficientFitter(renderer: r, options: options)
        let result = try fitter.fit(image: target.image, landmarks: target.landmarks)
        let got = result.coefficients
        let expr = try got.expression.floats(), angles = try got.angles.floats(), trans = try got.translation.floats()
        print("fit: loss \(result.losses.first!) → \(result.losses.last!), jaw \(expr[jaw]), smile \(expr[smile]), angles \(angles), t \(trans)")
        XCTAssertLessThan(result.losses.last!, 0.2 * result.losses.first!)
        XCTAssertEqual(angles[1], 0.2, accuracy: 0.04, "yaw")
        XCTAssertEqual(angles[0], -0.05, accuracy: 0.04, "pitch")
        XCTAssertEqual(trans[0], 0.05, accuracy: 0.03)
        XCTAssertEqual(expr[jaw], 0.6, accuracy: 0.2, "jawOpen")
        let landmarkError = try (r.landmarks(coefficients: got, size: 96) - target.landmarks).abs().mean().item()
        XCTAssertLessThan(landmarkError, 1.0, "mean landmark error in pixels")
        XCTAssertThrowsError(try fitter.fit(image: Tensor.zeros([1, 3, 64, 64])))
    }
}
