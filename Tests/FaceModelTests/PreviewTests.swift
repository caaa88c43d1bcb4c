import XCTest
@testable import FaceModel

final class PreviewTests: XCTestCase {
    func testPreview() throws {
        let r = Shared.renderer
        let names = r.model.expressionNames
        let jaw = names.firstIndex(of: "jawOpen")!
        let light = SphericalHarmonics.frontalLight()
        let cs = try Coefficients.concatenate([
            coefficients(),
            coefficients(light: light),
            coefficients(expression: [jaw: 1], light: light),
            coefficients(angles: [0, 0.6, 0], light: light),
            coefficients(angles: [0.3, -0.3, 0.2], light: light, gaze: [0.4, 0.3, 0.4, 0.3]),
        ])
        r.options.renderGaze = true
        let t0 = Date()
        let out = try r.render(cs, width: 256, height: 256)
        print("render 5 faces: \(Date().timeIntervalSince(t0)) s")
        debugSave(out.image, "preview")
    }
}
