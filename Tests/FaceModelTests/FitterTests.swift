import Torch
import XCTest
@testable import FaceModel

final class FitterTests: XCTestCase {
    /// Renders a face with known expression, pose and light, then fits expression, pose and light from zero.
    /// Every coefficient the truth sets is asserted, each gated close to the value this fit reaches
    /// (measured values in the comments; 60 Adam steps at 96², single-threaded).
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
        let fittedLight = try got.illumination.floats()
        let others = expr.enumerated().filter { $0.offset != jaw && $0.offset != smile }.map { abs($0.element) }
        let largest = expr.enumerated().sorted { abs($0.element) > abs($1.element) }.prefix(5)
            .map { "\(r.model.expressionNames[$0.offset]) \(String(format: "%.3f", $0.element))" }
        print("fit: largest expression modes \(largest.joined(separator: ", "))")
        let lightError = zip(fittedLight, light).map { abs($0 - $1) }.max()!
        print("fit: loss \(result.losses.first!) → \(result.losses.last!), jaw \(expr[jaw]), smile \(expr[smile]), "
              + "largest other expression \(others.max()!), angles \(angles), t \(trans), light max error \(lightError)")
        XCTAssertLessThan(result.losses.last!, 0.06 * result.losses.first!)                // 0.049
        XCTAssertEqual(angles[0], -0.05, accuracy: 0.005, "pitch")                         // −0.0493
        XCTAssertEqual(angles[1], 0.2, accuracy: 0.005, "yaw")                             // 0.1986
        XCTAssertEqual(angles[2], 0.03, accuracy: 0.005, "roll")                           // 0.0316
        XCTAssertEqual(trans[0], 0.05, accuracy: 0.005, "tx")                              // 0.0507
        XCTAssertEqual(trans[1], -0.04, accuracy: 0.005, "ty")                             // −0.0416
        XCTAssertEqual(trans[2], 0, accuracy: 0.015, "tz")                                 // −0.0076
        XCTAssertEqual(expr[jaw], 0.6, accuracy: 0.1, "jawOpen")                           // 0.543
        // The smile is recovered only in part: other mouth modes (mouthPucker −0.19, mouthLowerDownLeft 0.18,
        // mouthLowerDownRight 0.15) explain the same landmarks and pixels at 96² (landmarks within 0.07 px).
        XCTAssertEqual(expr[smile], 0.4, accuracy: 0.25, "mouthSmileLeft")                 // 0.196
        XCTAssertGreaterThan(expr[smile], 0.1, "mouthSmileLeft is recovered in part")
        XCTAssertLessThan(others.max()!, 0.25, "no other expression mode takes over")      // 0.187
        XCTAssertLessThan(lightError, 0.07, "illumination (largest error of the 27 SH values)")  // 0.047
        let landmarkError = try (r.landmarks(coefficients: got, size: 96) - target.landmarks).abs().mean().item()
        print("fit: mean landmark error \(landmarkError) px")
        XCTAssertLessThan(landmarkError, 0.15, "mean landmark error in pixels")           // 0.072
        XCTAssertThrowsError(try fitter.fit(image: Tensor.zeros([1, 3, 64, 64])))
    }
}
