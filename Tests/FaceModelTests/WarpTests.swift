import Foundation
import Media
import Torch
import XCTest
@testable import FaceModel

/// The 3DMM-derived dense correspondence (issue #10): warping a render of ρ_s with the field of (ρ_s → ρ_t)
/// must reproduce the render of ρ_t where the field says it is valid.
final class WarpTests: XCTestCase {
    func psnr(_ a: Tensor, _ b: Tensor, mask: Tensor) throws -> Double {
        let m = try mask.expand(a.shape)
        let mse = try ((a - b).square() * m).sum().item() / max(1, try m.sum().item()) / 4   // [-1, 1] → [0, 1]
        return 10 * log10(1 / max(mse, 1e-12))
    }

    func coefficients(yaw: Float, pitch: Float = 0, jaw: Float = 0, smile: Float = 0, shift: Float = 0, blinkRight: Float = 0) throws -> Coefficients {
        let names = Shared.renderer.model.expressionNames
        var row = [Float](repeating: 0, count: Coefficients.count)
        row[CoefficientPart.expression.range.lowerBound + names.firstIndex(of: "eyeBlinkRight")!] = blinkRight
        row[CoefficientPart.expression.range.lowerBound + names.firstIndex(of: "jawOpen")!] = jaw
        row[CoefficientPart.expression.range.lowerBound + names.firstIndex(of: "mouthSmileLeft")!] = smile
        row[CoefficientPart.pose.range.lowerBound + 0] = pitch
        row[CoefficientPart.pose.range.lowerBound + 1] = yaw
        row[CoefficientPart.pose.range.lowerBound + 3] = shift
        // Ambient light only (SH band 0 of each channel): shading then does not change with pose, so the
        // warped source must match the target render wherever the geometry does.
        for c in 0..<3 { row[CoefficientPart.illumination.range.lowerBound + 9 * c] = SphericalHarmonics.frontalLight()[9 * c] }
        // A little identity and texture so the surface has features.
        for k in 0..<10 { row[CoefficientPart.identity.range.lowerBound + k] = Float(k % 3) * 0.4 - 0.4 }
        for k in 0..<10 { row[CoefficientPart.texture.range.lowerBound + k] = Float(k % 4) * 0.5 - 0.7 }
        return try Coefficients(Tensor(row, shape: [1, Coefficients.count]))
    }

    /// Issue #21: a field rasterized in ρ's crop, evaluated over another square of the same picture (shifted by a
    /// fraction of a pixel, 3/4 of a field pixel per pixel), points at the same picture points. Pixels of the new square
    /// whose centres fall on field pixel centres must carry exactly that pixel's source point, in the new square's units.
    func testAFieldReframedIntoAnotherSquarePointsAtTheSamePicturePoints() throws {
        let warper = try FaceWarper(model: Shared.renderer.model)
        let field = try warper.field(source: coefficients(yaw: 0), target: coefficients(yaw: 0.3, jaw: 0.5), size: 96)
        // New pixel q sits at field pixel 0.75·q + (7.125, −3.875); centres j + ½ land on field centres when 4 | j.
        let target = SquareMapping(scale: 0.75, offsetX: 7.125, offsetY: -3.875)
        let source = SquareMapping(scale: 1 / 0.75, offsetX: -7.125 / 0.75, offsetY: 3.875 / 0.75)
        let moved = try field.reframed(size: 128, target: target, source: source)
        XCTAssertEqual(moved.size, 128)
        let old = try field.sourcePoints.contiguous().floats(), new = try moved.sourcePoints.contiguous().floats()
        let oldValid = try field.valid.contiguous().floats(), newValid = try moved.valid.contiguous().floats()
        var checked = 0
        for j in stride(from: 8, to: 128, by: 4) {
            for k in stride(from: 8, to: 128, by: 4) {
                let i = Int(0.75 * Double(j) + 7), l = Int(0.75 * Double(k) - 4)
                guard (0..<96).contains(i), (0..<96).contains(l) else { continue }
                let o = 2 * (l * 96 + i), n = 2 * (k * 128 + j)
                let expected = source.apply(x: Double(old[o]), y: Double(old[o + 1]))
                // float32 points of about 100 px, scaled by 4/3: a few ulps.
                XCTAssertEqual(Double(new[n]), expected.x, accuracy: 1e-3)
                XCTAssertEqual(Double(new[n + 1]), expected.y, accuracy: 1e-3)
                XCTAssertEqual(newValid[k * 128 + j], oldValid[l * 96 + i])
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 500)
        // A change of resolution alone is `resized`.
        let half = try field.reframed(size: 48, target: .scaling(2), source: .scaling(0.5))
        XCTAssertEqual(try half.sourcePoints.floats(), try field.resized(to: 48).sourcePoints.floats())
    }

    /// Issue #21 item 2: the motion outside the face continues the face's own, so the map has no step at the edge of the
    /// model's mesh, and a jaw drop takes what lies below the chin (the neck) along: the first pixel below the target's
    /// chin comes from just below the source's chin, not from the source's face. A step is measured as the largest
    /// change of source point between neighbouring pixels across the edge (less the pixel between them); the old
    /// blurred residual stepped by several pixels at the chin.
    func testTheMotionOutsideTheFaceContinuesTheFacesOwn() throws {
        let size = 128
        let warper = try FaceWarper(model: Shared.renderer.model)
        let field = try warper.field(source: coefficients(yaw: 0), target: coefficients(yaw: 0, jaw: 0.9), size: size)
        let sourceField = try warper.field(source: coefficients(yaw: 0), target: coefficients(yaw: 0), size: size)
        let points = try field.sourcePoints.contiguous().floats(), face = try field.face.contiguous().floats()
        // The open mouth is a real step (the lips part over the interior): the mouth and a pixel around it are left out.
        let nearMouth = try F.maxPool2d(field.mouth, kernel: 5, stride: 1, padding: 2).contiguous().floats()
        let sourceFace = try sourceField.face.contiguous().floats()
        func step(_ p: Int, _ q: Int) -> Float {
            let dx = points[2 * p] - points[2 * q], dy = points[2 * p + 1] - points[2 * q + 1]
            // Less the pixel apart the two are, so a still map steps by 0.
            return abs((dx * dx + dy * dy).squareRoot() - 1)
        }
        var across: Float = 0, within: Float = 0
        for y in 1..<(size - 1) {
            for x in 1..<(size - 1) {
                let p = y * size + x
                for q in [p + 1, p + size] where nearMouth[p] == 0 && nearMouth[q] == 0 {
                    if face[p] != face[q] { across = max(across, step(p, q)) } else if face[p] == 1 { within = max(within, step(p, q)) }
                }
            }
        }
        print(String(format: "largest step between neighbours: across the face's edge %.2f px, inside the face %.2f px", across, within))
        // The lower face stretches by about a third of a pixel per pixel under this jaw drop; a continued map steps by about
        // that plus the continuation's interpolation (measured 2.0 px), the old blurred residual by 5 px and more.
        XCTAssertLessThan(across, 3)
        // The chin: the lowest face pixel of the middle column, in the target and in the source.
        let mid = size / 2
        let targetChin = (0..<size).last { face[$0 * size + mid] == 1 }!, sourceChin = (0..<size).last { sourceFace[$0 * size + mid] == 1 }!
        XCTAssertGreaterThan(targetChin, sourceChin + 3, "the jaw drop moves the chin down")
        let below = (targetChin + 1) * size + mid
        let from = (x: points[2 * below], y: points[2 * below + 1]), chin = points[2 * (targetChin * size + mid) + 1]
        print(String(format: "chin row: target %d, source %d; the target's chin comes from y %.1f, the pixel below it from (%.1f, %.1f)",
                     targetChin, sourceChin, chin, from.x, from.y))
        XCTAssertGreaterThan(from.y, Float(sourceChin) + 1, "below the chin comes from below the source's chin")
        XCTAssertLessThan(abs(from.y - chin), 1.8, "…next to where the chin comes from (measured 1.2 px; the old map 2.2)")
        XCTAssertEqual(try field.valid.contiguous().floats()[below], 1)
    }

    /// A dark rim crossing the lid skin (glasses) ends the skin a closing lid is stretched from, just below the rim; a
    /// lid with nothing dark above it keeps its top curve. An eye 40 px wide at the centre of a 128² crop, lash line
    /// 0.1 eye widths above the corner line at mid-lid, brow 0.6 above; the rim is a 3-px band 0.3 eye widths above
    /// the corners at a third of the skin's luminance.
    func testALidStopsBelowADarkRimAboveIt() throws {
        let size = 128
        let eye = EyelidMap.Eye(origin: SIMD2(44, 64), axisU: SIMD2(1, 0), axisV: SIMD2(0, 1), width: 40, upper: (a: -0.4, b: 0),
                                lower: (a: 0.4, b: 0), brow: try XCTUnwrap(Parabola(fitting: [SIMD2(0, -0.6), SIMD2(0.5, -0.6), SIMD2(1, -0.6)])))
        var plain = [Float](repeating: 0.7, count: size * size)
        // The lash line itself is dark, as in a photo: 3 px along the lid curve.
        for x in 44..<84 {
            let y = Int((64 + 40 * eye.lash((Float(x) + 0.5 - 44) / 40)).rounded())
            for dy in -2...0 { plain[(y + dy) * size + x] = 0.15 }
        }
        XCTAssertNil(eye.withSkinLimit(luminance: plain, size: size).skinLimit, "nothing dark above the lashes")
        var rimmed = plain
        let rimTop = 64 - Int(0.3 * 40)   // v = −0.3 … −0.225 eye widths: y 52–54
        for x in 0..<size { for y in rimTop..<(rimTop + 3) { rimmed[y * size + x] = 0.25 } }
        let limited = eye.withSkinLimit(luminance: rimmed, size: size)
        XCTAssertNotNil(limited.skinLimit)
        for u in [Float(0.3), 0.5, 0.7] {
            let top = limited.skinTop(u)
            // The rim's lower edge is at v = −0.225 (y 55); the skin starts within a pixel (0.025) and 0.03 below it.
            XCTAssertGreaterThan(top, -0.225, "the skin stops below the rim at u \(u)")
            XCTAssertLessThan(top, -0.225 + 0.03 + 0.05, "but not far below it at u \(u)")
            XCTAssertEqual(eye.skinTop(u), eye.top(u), accuracy: 1e-6, "without a limit, the top curve")
        }
    }

    /// The photo driven by itself keeps its eyes: where the source's upper lid was moved onto the photo's lash line
    /// (here 0.05 eye widths above the model's lid at mid-lid), an unmoved target lid is not a closing one, and the
    /// target's eye opening is the source's. Before, the model's lid of the target was compared with the photo's lash
    /// line of the source: every frame closed a strip of the eye (the astronaut's right eye, narrower in every frame).
    func testAnUnmovedEyeStaysAsThePhotoShowsIt() throws {
        let size = 128
        let target = try landmarks(try coefficients(yaw: 0), size: size)
        let model = EyelidMap.sourceEyes(landmarks: target, luminance: nil, size: size)
        var photo = try XCTUnwrap(model[0])
        photo = EyelidMap.Eye(origin: photo.origin, axisU: photo.axisU, axisV: photo.axisV, width: photo.width,
                              upper: (photo.upper.a - 0.2, photo.upper.b), lower: photo.lower, brow: photo.brow)
        photo.modelUpper = try XCTUnwrap(model[0]).upper
        let lids = EyelidMap(sourceEyes: [photo, model[1]], targetLandmarks: target)
        var closing = 0, opening = 0, differ = 0
        for y in 0..<size {
            for x in 0..<size {
                let q = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                if lids.lidSource(q) != nil { closing += 1 }
                if lids.inSourceOpening(q) { opening += 1 }
                if lids.inSourceOpening(q) != lids.inTargetOpening(q) { differ += 1 }
            }
        }
        XCTAssertGreaterThan(opening, 20, "the photo's eye opening covers tens of pixels at 128²")
        XCTAssertEqual(closing, 0, "no lid closes when nothing moves")
        XCTAssertEqual(differ, 0, "the target's eye opening is the photo's")
    }

    /// A lid the target closes (issue #20) is made from the source's own lid skin: valid, taken from above the source's
    /// lash line (never from the eyeball, whose iris and lashes would paint a dark smear on the lid), and stretched
    /// downwards; a lid equally closed in both, or not moving, is the plain 3DMM correspondence.
    func testAClosingEyelidTakesTheSourcesLidSkin() throws {
        let size = 128
        let warper = try FaceWarper(model: Shared.renderer.model)
        let open = try coefficients(yaw: 0), closed = try coefficients(yaw: 0, blinkRight: 1)
        let source = try warper.prepare(source: open, size: size)
        let field = try warper.field(source: source, target: Coefficients.concatenate([closed, open]))
        let closing = try XCTUnwrap(field.lids, "a full blink closes a lid")
        let points = try closing.points.contiguous().floats(), weights = try closing.weights.contiguous().floats()
        let valid = try field.valid.contiguous().floats(), face = try field.face.contiguous().floats(), plane = size * size
        // The subject's right eye: its frame in the source and in the closed target.
        let lids = EyelidMap(sourceEyes: source.eyes, targetLandmarks: try landmarks(closed, size: size))
        let (src, tgt) = try XCTUnwrap(lids.pairs.first)
        var lidPixels = 0, fromEyeball = 0, invalid = 0, below = 0
        for p in 0..<plane where face[p] > 0 {
            let q = SIMD2(Float(p % size) + 0.5, Float(p / size) + 0.5)
            let (u, v) = tgt.local(q)
            // The part of the closed lid that covers what was the open eye in the source (well inside the corners).
            guard u > 0.2, u < 0.8, v > src.lash(u) + 0.05, v < tgt.lash(u) - 0.02 else { continue }
            lidPixels += 1
            XCTAssertEqual(weights[p], 1, accuracy: 1e-6, "well inside a fully closed lid, the lid is all stretched skin")
            let from = SIMD2(points[2 * p], points[2 * p + 1])
            if src.inOpening(from) { fromEyeball += 1 }
            if valid[p] == 0 { invalid += 1 }
            if src.local(from).v > src.lash(src.local(from).u) + 1e-3 { below += 1 }
        }
        print("closing lid: \(lidPixels) px, \(fromEyeball) from the eyeball, \(invalid) not valid")
        XCTAssertGreaterThan(lidPixels, 15, "a full blink at 128² covers tens of pixels of the open eye")
        XCTAssertEqual(fromEyeball, 0, "no lid pixel may sample the source's eyeball")
        XCTAssertEqual(below, 0, "every lid pixel comes from the source's lid, above its lash line")
        XCTAssertEqual(invalid, 0, "the stretched lid is the warp's, not the generator's")
        // No motion: the lid map stays out of it, the field is the identity on the face.
        XCTAssertEqual(weights[(2 * plane)..<(4 * plane)].max(), 0, "an open eye has no closing lid")
        let sourcePoints = try field.sourcePoints.contiguous().floats()
        var moved: Float = 0
        for p in 0..<plane where face[plane + p] > 0 {
            let qx = Float(p % size) + 0.5, qy = Float(p / size) + 0.5
            moved = max(moved, abs(sourcePoints[2 * (plane + p)] - qx) + abs(sourcePoints[2 * (plane + p) + 1] - qy))
        }
        // Float32 projection of the same mesh twice: well under a thousandth of a pixel at 128².
        XCTAssertLessThan(moved, 1e-2)
    }

    /// Issue #20: a closing lid's stretched skin comes from a thin band above the lashes, lit otherwise than the socket
    /// around it. Over a 64² picture of textured skin, a lid lighter by 0.4 with its own grain, under a dark bar (a
    /// glasses rim): after `harmonisedLids` the lid's mean is the skin's around it (the bar does not darken it), and
    /// its grain is kept.
    func testAClosedLidTakesTheLightOfTheSkinAroundIt() throws {
        let n = 64
        var rng = SplitMix64(seed: 7)
        var image = [Float](repeating: 0, count: 3 * n * n), lid = [Float](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                let grain = rng.uniform(-0.05, 0.05)
                let inLid = pow(Float(x - 32) / 14, 2) + pow(Float(y - 34) / 6, 2) < 1
                let rim = y >= 24 && y < 27
                let value: Float = rim ? -0.9 : (inLid ? 0.2 : -0.2) + grain
                for c in 0..<3 { image[c * n * n + y * n + x] = value }
                if inLid { lid[y * n + x] = 1 }
            }
        }
        let picture = try Tensor(image, shape: [1, 3, n, n]), weight = try Tensor(lid, shape: [1, 1, n, n])
        let out = try FaceWarpField.harmonisedLids(picture, lid: weight, skin: weight, scale: 4)
        let before = try picture.narrow(1, 0, 1).contiguous().floats(), after = try out.narrow(1, 0, 1).contiguous().floats()
        let inside = (0..<(n * n)).filter { lid[$0] > 0 }
        func mean(_ v: [Float]) -> Float { inside.map { v[$0] }.reduce(0, +) / Float(inside.count) }
        // The grain: each pixel less its row neighbours' mean, inside the lid away from its edge (low frequencies cancel).
        let core = inside.filter { lid[$0 - 1] > 0 && lid[$0 + 1] > 0 }
        func grain(_ v: [Float]) -> Float {
            let d = core.map { v[$0] - 0.5 * (v[$0 - 1] + v[$0 + 1]) }
            return (d.map { $0 * $0 }.reduce(0, +) / Float(d.count)).squareRoot()
        }
        print("lid mean \(mean(before)) → \(mean(after)) (skin −0.2), grain \(grain(before)) → \(grain(after))")
        XCTAssertEqual(mean(before), 0.2, accuracy: 0.01)
        // The skin's mean is −0.2; the fill between blocks of 4 px leaves a few hundredths.
        XCTAssertEqual(mean(after), -0.2, accuracy: 0.05, "the lid takes the light of the skin around it, not of the rim")
        XCTAssertGreaterThan(grain(after), 0.85 * grain(before), "the lid keeps its own grain")
        // Outside the lid nothing changes.
        let outside = (0..<(n * n)).filter { lid[$0] == 0 }
        XCTAssertLessThan(outside.map { abs(after[$0] - before[$0]) }.max() ?? 1, 1e-6)
    }

    func landmarks(_ c: Coefficients, size: Int) throws -> [Float] {
        let indices = try Shared.renderer.model.landmarkIndices.toArray(Int64.self).map { Int($0) }
        let p = try Torch.noGrad { try Shared.renderer.geometry(c, camera: .deep3DFaceRecon(size: size)).projected.contiguous().floats() }
        return indices.flatMap { [p[2 * $0], p[2 * $0 + 1]] }
    }

    func testWarpedSourceRenderMatchesTheTargetRender() throws {
        let size = 128
        let warper = try FaceWarper(model: Shared.renderer.model)
        let source = try coefficients(yaw: 0.15)
        let target = try Coefficients.concatenate([coefficients(yaw: -0.2, pitch: 0.08, jaw: 0.5, smile: 0.4, shift: 0.05),
                                                   coefficients(yaw: 0.3, pitch: -0.05)])
        let field = try warper.field(source: source, target: target, size: size)
        let s = try Torch.noGrad { try Shared.renderer.render(source, width: size, height: size).image }
        let t = try Torch.noGrad { try Shared.renderer.render(target, width: size, height: size).image }
        let warped = try field.warp(s)
        XCTAssertEqual(warped.shape, [2, 3, size, size])
        let validFace = try field.valid * field.face
        for i in 0..<2 {
            let m = try validFace.select(0, i)
            let warpedPSNR = try psnr(warped.select(0, i), t.select(0, i), mask: m)
            let unwarpedPSNR = try psnr(s.squeeze(0), t.select(0, i), mask: m)
            let coverage = try m.sum().item() / max(1, try field.face.select(0, i).sum().item())
            print(String(format: "frame %d: warped %.1f dB, unwarped %.1f dB, valid %.0f%% of the face, mouth %.0f px", i, warpedPSNR,
                         unwarpedPSNR, 100 * coverage, try field.mouth.select(0, i).sum().item()))
            XCTAssertGreaterThan(warpedPSNR, 26)   // measured 29.2 and 30.7 dB
            XCTAssertGreaterThan(warpedPSNR, unwarpedPSNR + 8)
            XCTAssertGreaterThan(coverage, 0.85)
        }
        if let dir = ProcessInfo.processInfo.environment["TGDM_WARP_DEBUG"] {
            try ImageGrid.save([s.squeeze(0), t.select(0, 0), warped.select(0, 0), validFace.select(0, 0).expand([3, size, size]) * 2 - 1,
                                t.select(0, 1), warped.select(0, 1), validFace.select(0, 1).expand([3, size, size]) * 2 - 1],
                               columns: 7, to: URL(fileURLWithPath: dir).appendingPathComponent("warp.png"))
        }
    }
}
