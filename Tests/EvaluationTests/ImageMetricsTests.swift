@testable import Evaluation
import FaceModel
import Foundation
import Media
import Torch
import XCTest

final class ImageMetricsTests: XCTestCase {
    override func setUp() { useOneThread() }

    func testPSNROfIdenticalImagesIsCapped() throws {
        let a = try Tensor.rand([2, 3, 8, 8], generator: Generator(seed: 1)) * 2 - 1
        XCTAssertEqual(try ImageMetrics.psnr(a, a), [ImageMetrics.psnrCap, ImageMetrics.psnrCap])
    }

    /// A ±σ sign pattern has MSE exactly σ² in [-1, 1] units, σ²/4 in [0, 1]: PSNR = 10·log10(4/σ²).
    func testPSNROfKnownNoiseLevelFollowsTheFormula() throws {
        let a = try Tensor.rand([3, 3, 16, 16], generator: Generator(seed: 2)) * 1.6 - 0.8
        let signs = try (Tensor.randint(0, 2, [3, 3, 16, 16], generator: Generator(seed: 3)).to(.float32) * 2 - 1)
        for sigma in [0.01, 0.1, 0.2] {
            let psnr = try ImageMetrics.psnr(a, a + signs * sigma)
            for p in psnr { XCTAssertEqual(p, 10 * log10(4 / (sigma * sigma)), accuracy: 1e-3) }   // float32 MSE of 768 terms: relative 8√768·u ≈ 1.3e-5 → 6e-5 dB; 1e-3 dB as reported
        }
        let x = try Tensor.zeros([3, 4, 4])
        XCTAssertEqual(try ImageMetrics.psnr(x, x + 0.1)[0], 26.0206, accuracy: 1e-3)   // the 4-decimal value ±5e-5, and 0.1 in float32
    }

    func testPSNRAndSSIMRejectMismatchedShapesNaNAndTinyImages() throws {
        XCTAssertThrowsError(try ImageMetrics.psnr(Tensor.zeros([3, 4, 4]), Tensor.zeros([3, 4, 5])))
        let bad = try Tensor.full([3, 4, 4], Double.nan)
        XCTAssertThrowsError(try ImageMetrics.psnr(bad, Tensor.zeros([3, 4, 4])))
        XCTAssertThrowsError(try ImageMetrics.ssim(Tensor.zeros([3, 10, 20]), Tensor.zeros([3, 10, 20]))) { error in
            XCTAssertTrue("\(error)".contains("at least 11×11"), "\(error)")
        }
        XCTAssertThrowsError(try ImageMetrics.ssim(Tensor.full([3, 16, 16], .infinity), Tensor.zeros([3, 16, 16])))
    }

    /// scikit-image's structural_similarity (gaussian_weights, σ 1.5, population covariance) on three pairs:
    /// noise, a 2-pixel shift, another image (scripts/fixtures/evaluation_ssim_ref.py).
    func testSSIMMatchesScikitImage() throws {
        let f = try Fixture.load("ssim_ref")
        let a = try Fixture.images(f, "a"), b = try Fixture.images(f, "b")
        let expected = try Fixture.tensor(f, "ssim").toArray(Double.self)
        let got = try ImageMetrics.ssim(a, b)
        for (g, e) in zip(got, expected) { XCTAssertEqual(g, e, accuracy: 1e-5) }   // float32 Gaussian sums (7×7 = 49 terms) and the ratio vs skimage's float64: ≈ 8√49·u·4 ≈ 1e-5
        for s in try ImageMetrics.ssim(a, a) { XCTAssertEqual(s, 1, accuracy: 1e-9) }   // identical inputs: numerator and denominator are the same floats
    }

    func testSSIMFallsWithNoiseAndShift() throws {
        let a = try Fixture.images(Fixture.load("ssim_ref"), "a").narrow(0, 0, 1)
        let noise = try Tensor.randn(a.shape, generator: Generator(seed: 5))
        var last = 1.0
        for sigma in [0.02, 0.1, 0.3] {
            let s = try ImageMetrics.ssim(a, (a + noise * sigma).clamp(min: -1, max: 1))[0]
            XCTAssertLessThan(s, last)
            last = s
        }
        let one = try ImageMetrics.ssim(a, a.roll(1, dim: 3))[0], three = try ImageMetrics.ssim(a, a.roll(3, dim: 3))[0]
        XCTAssertLessThan(one, 1)
        XCTAssertLessThan(three, one)
    }

    func testCoefficientErrorsPickTheRightColumns() throws {
        let rho = try Tensor.randn([2, Coefficients.count], generator: Generator(seed: 4))
        XCTAssertEqual(try MotionErrors.expression(rho, rho), [0, 0])
        XCTAssertEqual(try MotionErrors.angles(rho, rho), [0, 0])
        XCTAssertEqual(try MotionErrors.gaze(rho, rho), [0, 0])

        var shifted = try rho.floats()
        let e = CoefficientPart.expression.range.lowerBound, p = CoefficientPart.pose.range.lowerBound
        shifted[e + 3] += 3; shifted[e + 60] += 4        // row 0: expression off by a 3-4-5 triangle
        shifted[p + 1] += 0.5; shifted[p + 4] += 9       // yaw off by 0.5; translation does not count
        shifted[CoefficientPart.identity.range.lowerBound] += 7   // identity does not count either
        let other = try Tensor(shifted, shape: [2, Coefficients.count])
        XCTAssertEqual(try MotionErrors.expression(other, rho)[0], 5, accuracy: 1e-5)   // √(3² + 4²) from float32 differences of values ~1: ≤ a few ulps of 5
        XCTAssertEqual(try MotionErrors.expression(other, rho)[1], 0)
        XCTAssertEqual(try MotionErrors.angles(other, rho)[0], 0.5, accuracy: 1e-6)   // a float32 difference of values ~1: ≤ 1 ulp (1.2e-7)
        XCTAssertEqual(try MotionErrors.gaze(other, rho)[0], 0)
        XCTAssertThrowsError(try MotionErrors.expression(Tensor.zeros([2, 10]), Tensor.zeros([2, 10])))
    }

    func testMetricSummaryAndTable() throws {
        let s = try XCTUnwrap(MetricSummary([1, nil, 3, .nan]))
        XCTAssertEqual(s.mean, 2); XCTAssertEqual(s.count, 2); XCTAssertEqual(s.std, 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertNil(MetricSummary([nil, nil]))
        var row = EvaluationRow(name: "generated")
        row.set(.psnr, [20, 22])
        row[.fid] = MetricSummary(value: 12.5, count: 2)
        let table = try XCTUnwrap(EvaluationTable.markdown(rows: [row], columns: [.psnr, .lpips, .fid]))
        XCTAssertEqual(table, "| images | PSNR ↑ (dB) | FID ↓ |\n|---|---|---|\n| generated | 21.00 ± 1.41 (2) | 12.50 (2) |")
        XCTAssertNil(EvaluationTable.markdown(rows: [row], columns: [.lmdMouth]))
        let tables = EvaluationTable.paperTables(rows: [row])
        XCTAssertTrue(tables.contains("Table 1") && tables.contains("Table 3") && !tables.contains("Pipeline"), tables)
        // Round trip through JSON (metrics keyed by name).
        let data = try JSONEncoder().encode(row)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"psnr\""))
        XCTAssertEqual(try JSONDecoder().decode(EvaluationRow.self, from: data), row)
    }

    func testLandmarkDistances() throws {
        let a = (0..<468).map { SIMD2(Double($0), 0) }
        let b = a.map { $0 + SIMD2(3, 4) }
        XCTAssertEqual(try Landmarks.meanDistance(a, b), 5, accuracy: 1e-12)
        XCTAssertEqual(try Landmarks.meanDistance(a, a, indices: Landmarks.mouth), 0)
        XCTAssertEqual(Landmarks.mouth.count, 40)
        XCTAssertThrowsError(try Landmarks.meanDistance(a, Array(b.prefix(10))))
    }

    /// Landmarks whose face outline is a circle of radius 10 around (32, 32) in a 64² image.
    func circleFace(centre: SIMD2<Double> = SIMD2(32, 32)) -> [SIMD2<Double>] {
        var lm = [SIMD2<Double>](repeating: centre, count: 468)
        let oval = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
                    172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
        for (k, i) in oval.enumerated() {
            let t = 2 * Double.pi * Double(k) / Double(oval.count)
            lm[i] = centre + SIMD2(10 * sin(t), -10 * cos(t))
        }
        return lm
    }

    func testBackgroundChangeIgnoresTheFaceAndMeasuresTheRest() throws {
        let a = try RGBImageFactory.gradient(64, 64)
        var insideOnly = a, outside = a
        for y in 28..<36 { for x in 28..<36 { insideOnly.setPixel(x: x, y: y, (255, 0, 0)) } }
        for y in 0..<64 { for x in 0..<8 { let p = a.pixel(x: x, y: y); outside.setPixel(x: x, y: y, (p.r &+ 10, p.g, p.b)) } }
        let faces = [circleFace()]
        XCTAssertEqual(try XCTUnwrap(RegionChange.meanChange(a, a, outside: faces)), 0)
        XCTAssertEqual(try XCTUnwrap(RegionChange.meanChange(a, insideOnly, outside: faces)), 0, accuracy: 1e-9)
        let mask = try RegionChange.outsideFaces(faces, width: 64, height: 64)
        let area = try mask.sum().item()
        XCTAssertLessThan(area, 64 * 64 - 300)   // the face (r = 10) plus its margin is masked out
        // 10 levels in one of three channels on 8 full columns, all outside the face.
        let expected = 10.0 / 3 * Double(8 * 64) / area
        XCTAssertEqual(try XCTUnwrap(RegionChange.meanChange(a, outside, outside: faces)), expected, accuracy: 1e-4)
        XCTAssertThrowsError(try RegionChange.meanChange(a, try RGBImageFactory.gradient(32, 32), outside: faces))
    }
}

import Media

enum RGBImageFactory {
    static func gradient(_ w: Int, _ h: Int) throws -> RGBImage {
        var img = try RGBImage(width: w, height: h)
        for y in 0..<h { for x in 0..<w { img.setPixel(x: x, y: y, (UInt8(x * 3 % 200), UInt8(y * 3 % 200), 100)) } }
        return img
    }

    /// Issue #21's sharpness measures: the same picture keeps all its detail; blurring it loses most of the band
    /// (σ 1–2 px) and softens an outline's gradient.
    func testDetailAndOutlineGradientFallWhenThePictureIsBlurred() throws {
        // A disc with a textured inside (a checker of 2-px squares) on grey.
        var sharp = try RGBImage(width: 96, height: 96)
        for y in 0..<96 {
            for x in 0..<96 {
                let dx = Double(x) + 0.5 - 48, dy = Double(y) + 0.5 - 48
                let v: UInt8 = dx * dx + dy * dy < 30 * 30 ? ((x / 2 + y / 2) % 2 == 0 ? 220 : 160) : 60
                sharp.setPixel(x: x, y: y, (v, v, v))
            }
        }
        let blurred = try RGBImage(tensor: Detail.blur(Detail.luminance(sharp) * 2.0 - 1.0, sigma: 1.5).expand([1, 3, 96, 96]).squeeze(0))
        let box = FaceBox(x: 28, y: 28, width: 40, height: 40)
        XCTAssertEqual(try Detail.ratio(sharp, to: sharp, in: box), 1, accuracy: 1e-9)
        XCTAssertLessThan(try Detail.ratio(blurred, to: sharp, in: box), 0.3, "a 1.5-px blur removes most of a 2-px checker")
        let circle = (0..<64).map { k -> SIMD2<Double> in
            let a = Double(k) / 64 * 2 * Double.pi
            return SIMD2(48 + 30 * cos(a), 48 + 30 * sin(a))
        }
        let edge = try Detail.outlineGradient(sharp, outline: circle), soft = try Detail.outlineGradient(blurred, outline: circle)
        XCTAssertGreaterThan(edge, 0.1, "the disc's edge is a step of about 0.4 in luminance")
        XCTAssertLessThan(soft / edge, 0.8, "a blurred outline has a weaker gradient")
        XCTAssertThrowsError(try Detail.ratio(sharp, to: sharp, in: FaceBox(x: 200, y: 200, width: 10, height: 10)))
    }
}
