import Foundation
import Torch
import XCTest
@testable import FaceModel

/// The drawn mouth interior (issue #20): teeth, tongue, gums and cavity in the person's colouring, inside the lips of ρ̂.
final class MouthInteriorTests: XCTestCase {
    /// CIELAB a* (green < 0 < red) of an sRGB colour in [0, 1], D65.
    func aStar(_ c: SIMD3<Float>) -> Float {
        func linear(_ v: Float) -> Float { v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4) }
        let r = linear(c.x), g = linear(c.y), b = linear(c.z)
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, y = 0.2126 * r + 0.7152 * g + 0.0722 * b
        func f(_ t: Float) -> Float { t > 0.008856 ? pow(t, 1 / 3) : 7.787 * t + 16 / 116 }
        return 500 * (f(x) - f(y))
    }
    func luma(_ c: SIMD3<Float>) -> Float { 0.299 * c.x + 0.587 * c.y + 0.114 * c.z }

    let lips = SIMD3<Float>(0.72, 0.42, 0.40), skin = SIMD3<Float>(0.85, 0.66, 0.55)

    func testThePaletteTakesThePhotosTeethWhenItShowsThem() {
        // Twenty light grey-ivory pixels among lip-coloured ones: the photo's teeth.
        let teeth = [SIMD3<Float>](repeating: SIMD3(0.86, 0.82, 0.74), count: 20) + [SIMD3<Float>](repeating: lips, count: 30)
        let shown = MouthPalette.estimate(lips: lips, skin: skin, teethPixels: teeth)
        XCTAssertTrue(shown.teethFromPhoto)
        // Mean of identical float32 values: exact up to the rounding of one division.
        XCTAssertEqual(shown.teeth.x, 0.86, accuracy: 1e-5)
        // A lip highlight is lighter than the lips but not a tooth: the teeth are made instead.
        let highlight = [SIMD3<Float>](repeating: SIMD3(0.85, 0.6, 0.58), count: 20)
        let made = MouthPalette.estimate(lips: lips, skin: skin, teethPixels: highlight)
        XCTAssertFalse(made.teethFromPhoto)
        for p in [shown, made] {
            XCTAssertGreaterThan(luma(p.teeth), luma(p.gums) + 0.1, "teeth lighter than the gums")
            XCTAssertLessThan(luma(p.cavity), 0.5 * luma(p.tongue), "the cavity is dark")
            for c in [p.teeth, p.gums, p.tongue, p.cavity] { XCTAssertGreaterThanOrEqual(aStar(c), -1, "no green cast: \(c)") }
        }
    }

    func testAnOpenMouthShowsUpperTeethUnderTheLipADarkCavityAndATongue() throws {
        let interior = try MouthInterior(renderer: Shared.renderer)
        let names = Shared.model.expressionNames
        let jaw = try XCTUnwrap(names.firstIndex(of: "jawOpen"))
        let size = 256
        let closed = try coefficients(), open = try coefficients(expression: [jaw: 0.7])
        let palette = MouthPalette.estimate(lips: lips, skin: skin, teethPixels: [])
        let layer = try interior.layer(Coefficients.concatenate([closed, open]), size: size, palette: palette)
        XCTAssertEqual(layer.colour.shape, [2, 3, size, size])
        XCTAssertGreaterThan(layer.opening[1], layer.opening[0] + 0.2, "jawOpen parts the lips")
        let coverage = try layer.coverage.contiguous().floats(), colour = try layer.colour.contiguous().floats()
        let plane = size * size
        let area = (0..<2).map { b in coverage[(b * plane)..<((b + 1) * plane)].reduce(0, +) }
        // The model's rest mouth is slightly parted (547 px at 256²); jawOpen 0.7 doubles it (1149 px).
        XCTAssertGreaterThan(area[1], 1.6 * area[0], "the open mouth's interior is larger than the rest mouth's")
        // The open mouth's pixels, by row: the top rows are teeth (light), the middle is cavity (dark), and no pixel is green.
        var rows: [Int: [SIMD3<Float>]] = [:]
        for i in 0..<plane where coverage[plane + i] > 0 {
            let c = SIMD3((colour[3 * plane + i] + 1) / 2, (colour[4 * plane + i] + 1) / 2, (colour[5 * plane + i] + 1) / 2)
            XCTAssertGreaterThanOrEqual(aStar(c), -1, "green cast at pixel \(i)")
            rows[i / size, default: []].append(c)
        }
        let ys = rows.keys.sorted()
        let top = ys.prefix(max(1, ys.count / 6)).flatMap { rows[$0]! }, middle = ys[ys.count / 3..<ys.count / 2].flatMap { rows[$0]! }
        let topLight = top.map(luma).sorted()[top.count / 2], middleLight = middle.map(luma).sorted()[middle.count / 2]
        print("open mouth: \(Int(area[1])) px, top rows median luma \(topLight), middle \(middleLight)")
        XCTAssertGreaterThan(topLight, luma(palette.teeth) * 0.6, "upper teeth under the upper lip")
        XCTAssertLessThan(middleLight, luma(lips) * 0.6, "a dark cavity behind the teeth")
        XCTAssertTrue(middle.contains { luma($0) < luma(palette.tongue) } , "cavity darker than the tongue")
        // Outside the lips the layer is empty (−1) and not covered.
        XCTAssertEqual(colour[0], -1)
        XCTAssertEqual(coverage[0], 0)
    }
}
