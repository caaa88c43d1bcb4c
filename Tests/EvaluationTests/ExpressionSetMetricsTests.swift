import Evaluation
import FaceModel
import Foundation
import Media
import XCTest

/// The pure parts of the real-photo expression set on hand-made images: CIELAB, polygon masks, texture, EAR, the
/// lid and mouth gates, the portrait variants and the coefficient edits. No network is loaded.
final class ExpressionSetMetricsTests: XCTestCase {
    // MARK: colour

    func testCIELabMatchesReferenceValues() {
        // Reference values (Lindbloom's calculator, D65, sRGB): white (100, 0, 0), red (53.24, 80.09, 67.20),
        // green (87.73, −86.18, 83.18), mid grey 119 → L* 50.03. The constants are given to 4–7 digits: 0.02 covers them.
        func check(_ rgb: (UInt8, UInt8, UInt8), _ expected: SIMD3<Double>, file: StaticString = #filePath, line: UInt = #line) {
            let lab = CIELab.lab(r: rgb.0, g: rgb.1, b: rgb.2)
            for k in 0..<3 { XCTAssertEqual(lab[k], expected[k], accuracy: 0.02, "\(rgb) component \(k)", file: file, line: line) }
        }
        check((255, 255, 255), SIMD3(100, 0, 0))
        check((255, 0, 0), SIMD3(53.24, 80.09, 67.20))
        check((0, 255, 0), SIMD3(87.73, -86.18, 83.18))
        XCTAssertEqual(CIELab.lab(r: 119, g: 119, b: 119).x, 50.03, accuracy: 0.02)
        XCTAssertEqual(CIELab.deltaE(SIMD3(50, 3, 4), SIMD3(50, 0, 0)), 5, accuracy: 1e-12)
    }

    // MARK: regions

    func testPolygonMaskTakesThePixelsWhoseCentresAreInside() {
        // A square from (2, 2) to (6, 6): pixel centres 2.5…5.5 in x and y, 16 pixels.
        let square = PixelRegion.polygon([SIMD2(2, 2), SIMD2(6, 2), SIMD2(6, 6), SIMD2(2, 6)], width: 10, height: 10)
        XCTAssertEqual(Set(square.pixels), Set((2..<6).flatMap { y in (2..<6).map { y * 10 + $0 } }))
        // Clockwise or not, clipped to the image.
        let clipped = PixelRegion.polygon([SIMD2(-5, -5), SIMD2(-5, 3), SIMD2(3, 3), SIMD2(3, -5)], width: 10, height: 10)
        XCTAssertEqual(clipped.count, 9)
        XCTAssertEqual(square.subtracting(clipped).count, 16 - 1, "only pixel (2, 2) is in both")
        XCTAssertEqual(PixelRegion.polygon([SIMD2(0, 0), SIMD2(1, 1)], width: 4, height: 4).count, 0)
    }

    func testTextureIgnoresFlatPatchesGradientsAndEdgesButNotDetail() throws {
        let all = PixelRegion(width: 16, height: 16, pixels: Array(0..<256))
        let grey = LabImage(try RGBImage(width: 16, height: 16, fill: (128, 128, 128)))
        XCTAssertEqual(try XCTUnwrap(grey.texture(all)), 0, accuracy: 1e-9)
        // A ramp of 4 levels (≈ 1.6 L*) per pixel: a symmetric window's mean is the centre's value (up to the ramp's
        // curvature in L*, < 0.1); only the two columns at each side, where the window is one-sided, keep 1 and ½ a step:
        // RMS ≈ √(2 · 1.25 / 16) · 1.6 ≈ 0.6 L*.
        var ramp = try RGBImage(width: 16, height: 16)
        for y in 0..<16 { for x in 0..<16 { let v = UInt8(100 + 4 * x); ramp.setPixel(x: x, y: y, (v, v, v)) } }
        XCTAssertLessThan(try XCTUnwrap(LabImage(ramp).texture(all)), 0.8)
        // Uniform noise of −12…12 levels has a std of √((25² − 1)/12) = 7.2 levels, about 0.38 L* per level on this skin
        // (≈ 2.7 L*), less the 1/25 the local mean takes: ≈ 2.6.
        XCTAssertGreaterThan(try XCTUnwrap(LabImage(skin(16)).texture(all)), 2, "pore-like noise is texture")
        // A flat patch inside textured skin: its edge against the skin is not counted.
        var patch = try skin(16)
        let square = PixelRegion.polygon([SIMD2(4, 4), SIMD2(12, 4), SIMD2(12, 12), SIMD2(4, 12)], width: 16, height: 16)
        fill(&patch, square, (140, 140, 140))
        XCTAssertEqual(try XCTUnwrap(LabImage(patch).texture(square)), 0, accuracy: 1e-9)
    }

    func testEyeAspectRatio() {
        // Corners 10 apart, lids 4 apart at both pairs: (4 + 4) / (2 · 10).
        let eye: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(3, -2), SIMD2(7, -2), SIMD2(10, 0), SIMD2(7, 2), SIMD2(3, 2)]
        XCTAssertEqual(FaceGeometry.eyeAspectRatio(eye), 0.4, accuracy: 1e-12)
        let closed = eye.map { SIMD2($0.x, $0.y * 0.1) }
        XCTAssertEqual(FaceGeometry.eyeAspectRatio(closed), 0.04, accuracy: 1e-12)
    }

    // MARK: lid and mouth gates on hand-made faces

    /// 68 points with the left eye (42–47) and the mouth (48–67) placed on a 64² image; the rest unused.
    func landmarks(mouthGap: Double = 10) -> [SIMD2<Double>] {
        var l = [SIMD2<Double>](repeating: SIMD2(0, 0), count: 68)
        let eye: [SIMD2<Double>] = [SIMD2(34, 20), SIMD2(38, 17), SIMD2(44, 17), SIMD2(48, 20), SIMD2(44, 23), SIMD2(38, 23)]
        for k in 0..<6 { l[42 + k] = eye[k] }
        // Outer lips 48–59 (clockwise from the left corner), inner 60–67 (60 left corner, 62 top centre, 66 bottom centre).
        let cy = 46.0, h = mouthGap / 2
        let outer: [SIMD2<Double>] = [SIMD2(16, cy), SIMD2(22, cy - h - 6), SIMD2(28, cy - h - 7), SIMD2(32, cy - h - 6),
                                      SIMD2(36, cy - h - 7), SIMD2(42, cy - h - 6), SIMD2(48, cy), SIMD2(42, cy + h + 7),
                                      SIMD2(36, cy + h + 8), SIMD2(32, cy + h + 8), SIMD2(28, cy + h + 8), SIMD2(22, cy + h + 7)]
        let inner: [SIMD2<Double>] = [SIMD2(19, cy), SIMD2(25, cy - h), SIMD2(32, cy - h), SIMD2(39, cy - h), SIMD2(45, cy),
                                      SIMD2(39, cy + h), SIMD2(32, cy + h), SIMD2(25, cy + h)]
        for k in 0..<12 { l[48 + k] = outer[k] }
        for k in 0..<8 { l[60 + k] = inner[k] }
        return l
    }

    /// Skin: a warm colour with deterministic pore-like noise of ±12 levels.
    func skin(_ side: Int) throws -> RGBImage {
        var image = try RGBImage(width: side, height: side)
        var state: UInt64 = 12345
        for y in 0..<side {
            for x in 0..<side {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let n = Int((state >> 33) % 25) - 12
                image.setPixel(x: x, y: y, (UInt8(200 + n), UInt8(150 + n), UInt8(130 + n)))
            }
        }
        return image
    }

    func fill(_ image: inout RGBImage, _ region: PixelRegion, _ rgb: (UInt8, UInt8, UInt8)) {
        for p in region.pixels { image.setPixel(x: p % image.width, y: p / image.width, rgb) }
    }

    func testAFlatGreyLidFailsAndASkinLidPasses() throws {
        let l = landmarks()
        let lid = PixelRegion.polygon((42...47).map { l[$0] }, width: 64, height: 64)
        var grey = try skin(64)
        fill(&grey, lid, (140, 140, 140))
        let failed = ExpressionScorer.lids(closedEyes: (true, false), openEyeLandmarks: l, lab: LabImage(grey))
        XCTAssertEqual(failed.map(\.name), ["lid.left.deltaE", "lid.left.texture"])
        XCTAssertEqual(failed.map(\.pass), [false, false], "\(failed)")
        XCTAssertEqual(try XCTUnwrap(failed[1].value), 0, accuracy: 1e-9, "a flat patch has no texture")

        let passed = ExpressionScorer.lids(closedEyes: (true, false), openEyeLandmarks: l, lab: LabImage(try skin(64)))
        XCTAssertEqual(passed.map(\.pass), [true, true], "\(passed)")
        XCTAssertTrue(ExpressionScorer.lids(closedEyes: (false, false), openEyeLandmarks: l, lab: LabImage(grey)).isEmpty,
                      "no lid is scored where no blink was asked")
    }

    func testSkinBandLiesJustBelowTheEye() {
        let l = landmarks()
        let band = FaceGeometry.skinBelowEye(l, leftEye: true, width: 64, height: 64)
        XCTAssertGreaterThan(band.count, 20)
        let eye = Set(PixelRegion.polygon((42...47).map { l[$0] }, width: 64, height: 64).pixels)
        for p in band.pixels {
            XCTAssertFalse(eye.contains(p), "not in the eye opening")
            // The lower lid runs from the corners (y 20) down to 23; the band starts 0.1 and ends 0.6 eye heights (6 px) under it.
            XCTAssertGreaterThan(Double(p / 64) + 0.5, 20.6, "below the lower lid")
            XCTAssertLessThan(Double(p / 64) + 0.5, 23 + 0.6 * 6, "within about half an eye height")
            XCTAssertTrue((34...48).contains(p % 64), "within the eye's width")
        }
    }

    func testGreenTeethFailAndAPaintedMouthPasses() throws {
        let l = landmarks()
        let inner = FaceGeometry.innerMouth(l, width: 64, height: 64)
        let lips = FaceGeometry.outerMouth(l, width: 64, height: 64).subtracting(inner)
        var green = try skin(64)
        fill(&green, lips, (170, 80, 90))
        fill(&green, inner, (150, 175, 150))
        let failed = ExpressionScorer.mouth(landmarks: l, lab: LabImage(green), showsTeeth: true)
        XCTAssertEqual(failed.first?.name, "mouth.green")
        XCTAssertEqual(failed.first?.value ?? 0, 1, accuracy: 1e-12, "every pixel of a green mouth is green")
        XCTAssertEqual(failed.first?.pass, false)

        // Teeth in the upper half, a dark red cavity below: lighter than the lips, darker than both, nothing green.
        var painted = green
        for p in inner.pixels { painted.setPixel(x: p % 64, y: p / 64, p / 64 < 46 ? (235, 225, 210) : (60, 20, 25)) }
        let passed = ExpressionScorer.mouth(landmarks: l, lab: LabImage(painted), showsTeeth: true)
        XCTAssertEqual(passed.map(\.name), ["mouth.green", "mouth.teeth", "mouth.cavity"])
        XCTAssertEqual(passed.map(\.pass), [true, true, true], "\(passed)")

        // Grey "teeth" darker than the lips fail the teeth gate.
        var dull = green
        fill(&dull, inner, (90, 80, 80))
        XCTAssertEqual(ExpressionScorer.mouth(landmarks: l, lab: LabImage(dull), showsTeeth: true).first { $0.name == "mouth.teeth" }?.pass, false)
        XCTAssertEqual(ExpressionScorer.mouth(landmarks: l, lab: LabImage(dull), showsTeeth: false).map(\.name), ["mouth.green"],
                       "no teeth are asked of a render that shows none")
        // A closed mouth has no inner pixels to score.
        XCTAssertEqual(ExpressionScorer.mouth(landmarks: landmarks(mouthGap: 0), lab: LabImage(painted), showsTeeth: true).compactMap(\.pass), [])
    }

    func testInnerMouthIgnoresFoldedLowerInnerLipPoints() {
        var l = landmarks()
        let straight = FaceGeometry.innerMouth(l, width: 64, height: 64)
        // The model's 65 and 67 below the outer lower lip (as on the astronaut's fit): the opening stays inside the lips.
        l[65].y = 60
        l[67].y = 62
        let folded = FaceGeometry.innerMouth(l, width: 64, height: 64)
        XCTAssertEqual(folded, straight)
        let outer = Set(FaceGeometry.outerMouth(l, width: 64, height: 64).pixels)
        XCTAssertTrue(folded.pixels.allSatisfy { outer.contains($0) })
        XCTAssertGreaterThan(folded.count, 100, "a 10 px gap over 26 px of width")
    }

    // MARK: the set

    func testPortraitVariants() throws {
        var photo = try skin(40)
        photo.setPixel(x: 3, y: 5, (0, 0, 255))
        XCTAssertEqual(PortraitVariants.mirrored(PortraitVariants.mirrored(photo)), photo)
        XCTAssertEqual(PortraitVariants.mirrored(photo).pixel(x: 36, y: 5).b, 255)
        // A zero rotation samples every pixel at its own centre: the picture comes back unchanged.
        XCTAssertEqual(PortraitVariants.rotated(photo, degrees: 0), photo)
        let grey = try RGBImage(width: 40, height: 20, fill: (128, 128, 128))
        let relit = PortraitVariants.relit(grey)
        let row = (0..<40).map { relit.pixel(x: $0, y: 10).r }
        XCTAssertEqual(row, row.sorted(), "brighter to the right")
        XCTAssertLessThan(row[0], 80)
        XCTAssertGreaterThan(row[39], 140)
        let small = PortraitVariants.scaledInPlace(photo, scale: 0.6)
        XCTAssertEqual([small.width, small.height], [40, 40])
        XCTAssertEqual(PortraitVariants.scaledInPlace(grey, scale: 0.6), grey, "edge padding of a flat picture is the same flat picture")
        XCTAssertEqual(ExpressionSet.portraits(all: false).map(\.name), ["astronaut", "grace_hopper"])
        XCTAssertEqual(ExpressionSet.portraits(all: true).count, 8)
    }

    func testDrivesEditTheSourcesCoefficients() throws {
        var names = (0..<64).map { "unit\($0)" }
        names[8] = "eyeBlinkLeft"; names[9] = "eyeBlinkRight"; names[16] = "jawOpen"
        names[35] = "mouthSmileLeft"; names[36] = "mouthSmileRight"; names[29] = "mouthPucker"
        let source = (0..<Coefficients.count).map { Float($0) * 1e-3 }
        let beta = CoefficientPart.expression.range.lowerBound, pose = CoefficientPart.pose.range.lowerBound
        let blink = try XCTUnwrap(ExpressionDrive.blinkLeft.coefficients(editing: source, expressionNames: names))
        XCTAssertEqual(blink[beta + 8], 1)
        XCTAssertEqual(zip(blink, source).filter { $0 != $1 }.count, 1, "only the asked unit changes")
        let yaw = try XCTUnwrap(ExpressionDrive.yawMinus.coefficients(editing: source, expressionNames: names))
        XCTAssertEqual(Double(yaw[pose + 1] - source[pose + 1]), -25 * .pi / 180, accuracy: 1e-6)
        XCTAssertEqual(yaw[pose], source[pose])
        XCTAssertNil(try ExpressionDrive.drivingPhoto.coefficients(editing: source, expressionNames: names))
        let reset = ExpressionDrive.openEyes(blink, source: source, expressionNames: names)
        XCTAssertEqual(reset, source)
        XCTAssertThrowsError(try ExpressionDrive.smile.coefficients(editing: source, expressionNames: Array(names.prefix(30))))
        XCTAssertEqual(ExpressionDrive.allCases.count, 14)
    }
}

/// The talk readout's blink count (issue #22 item 4): runs of frames with the eyes below 0.6 of their median opening.
final class TalkReadoutTests: XCTestCase {
    func testBlinksAreRunsOfClosedFramesCountedOnce() {
        // Open at 0.3 with jitter; blinks of 1, 3 and 5 frames down to 0.05–0.15; a half-closed dip to 0.2 (0.67 of the
        // median) is not a blink.
        var ear = (0..<100).map { 0.3 + 0.01 * sin(Double($0)) }
        ear[10] = 0.1
        for i in 30..<33 { ear[i] = 0.05 }
        for i in 60..<65 { ear[i] = 0.15 }
        ear[80] = 0.2
        XCTAssertEqual(TalkReadout.blinks(eyeAspectRatios: ear), 3)
        XCTAssertEqual(TalkReadout.blinks(eyeAspectRatios: []), 0)
        // A blink at the very start and one at the very end each count.
        ear[0] = 0.05
        ear[99] = 0.05
        XCTAssertEqual(TalkReadout.blinks(eyeAspectRatios: ear), 5)
    }
}
