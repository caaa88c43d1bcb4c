import Evaluation
import FaceModel
import Foundation
import Media
import Torch
import XCTest

/// `tgdm eval folder` / `video` on tiny inputs (two images, a few frames).
final class PairedEvaluatorTests: XCTestCase {
    override func setUp() { useOneThread() }

    static func evaluator(motion: Bool = false) throws -> PairedEvaluator { try Networks.pairedEvaluator(motion: motion) }

    /// Generated = reference for one image, a shifted copy for the other; the source is the 512² photo.
    func testFolderPairsByNameAndScoresKnownCases() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gen = dir.appendingPathComponent("generated"), ref = dir.appendingPathComponent("reference")
        for d in [gen, ref] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let photo = try Networks.face128()
        try photo.write(to: gen.appendingPathComponent("a.png"))
        try photo.write(to: ref.appendingPathComponent("a.png"))
        try shifted(photo, dx: 4, dy: 0).write(to: gen.appendingPathComponent("b.png"))
        try photo.write(to: ref.appendingPathComponent("b.png"))
        try photo.write(to: gen.appendingPathComponent("unmatched.png"))
        // ρ̂ sidecar for a.png: zero expression and pose, so Exp/Angle vs ρ̂ is the readout's own ‖β‖ and ‖angles‖.
        try Coefficients(Tensor.zeros([1, 261])).save(to: gen.appendingPathComponent("a.coeffs.json"))

        let report = try Self.evaluator(motion: true).evaluateFolders(generated: gen, reference: ref, source: Fixture.checkout("Tests/MediaTests/Fixtures/astronaut_256.png"))
        XCTAssertEqual(report.frames, 2)
        XCTAssertEqual(report.skipped.count, 1)
        XCTAssertTrue(report.skipped[0].contains("unmatched"), report.skipped[0])
        let a = try XCTUnwrap(report.perFrame.first { $0.name == "a" }), b = try XCTUnwrap(report.perFrame.first { $0.name == "b" })
        XCTAssertEqual(a.metrics[.psnr], 100)
        XCTAssertEqual(try XCTUnwrap(a.metrics[.ssim]), 1, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(a.metrics[.lpips]), 0, accuracy: 1e-6)
        XCTAssertEqual(a.metrics[.lmdAll], 0)
        XCTAssertEqual(a.metrics[.expression], 0)
        XCTAssertGreaterThan(try XCTUnwrap(a.metrics[.expressionToCoefficients]), 0.05)   // she smiles: β ≠ 0
        XCTAssertEqual(try XCTUnwrap(a.metrics[.backgroundChange]), 0, accuracy: 1e-9)
        XCTAssertLessThan(try XCTUnwrap(b.metrics[.psnr]), 40)
        XCTAssertGreaterThan(try XCTUnwrap(b.metrics[.lpips]), 0.01)
        XCTAssertEqual(try XCTUnwrap(b.metrics[.lmdAll]), 4 * 256 / 128, accuracy: 3)   // 4 px at 128² = 8 px in the 256 frame
        XCTAssertGreaterThan(try XCTUnwrap(b.metrics[.backgroundChange]), 0.5)
        XCTAssertEqual(a.emotion, "happy")
        let generated = try XCTUnwrap(report.rows.first)
        XCTAssertEqual(generated[.emotionAccuracy]?.mean, 1)
        XCTAssertEqual(generated[.emotionAgreement]?.mean, 1)
        XCTAssertEqual(generated[.identityMatch]?.mean, 1)       // the astronaut's face vs her whole photo
        XCTAssertEqual(generated[.faceFound]?.count, 2)
        let text = report.markdown()
        XCTAssertTrue(text.contains("Table 1") && text.contains("LPIPS ↓") && text.contains("ID cos ↑"), text)
        let json = dir.appendingPathComponent("report.json")
        try report.write(to: json)
        XCTAssertEqual(try JSONDecoder().decode(PairedEvaluationReport.self, from: Data(contentsOf: json)).frames, 2)
    }

    func testFolderInputErrorsAreClear() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let e = try Self.evaluator()
        XCTAssertThrowsError(try e.evaluateFolders(generated: dir.appendingPathComponent("missing"), reference: nil, source: nil)) {
            XCTAssertTrue("\($0)".contains("no such folder"), "\($0)")
        }
        XCTAssertThrowsError(try e.evaluateFolders(generated: dir, reference: nil, source: nil)) { XCTAssertTrue("\($0)".contains("no PNG/JPEG"), "\($0)") }
        try Fixture.astronaut256().write(to: dir.appendingPathComponent("x.png"))
        XCTAssertThrowsError(try e.evaluateFolders(generated: dir, reference: nil, source: nil)) { XCTAssertTrue("\($0)".contains("nothing to compare"), "\($0)") }
        // Sizes that differ are an error, not a crash.
        let ref = dir.appendingPathComponent("ref")
        try FileManager.default.createDirectory(at: ref, withIntermediateDirectories: true)
        try Fixture.astronaut512().write(to: ref.appendingPathComponent("x.png"))
        XCTAssertThrowsError(try e.evaluateFolders(generated: dir, reference: ref, source: nil)) { XCTAssertTrue("\($0)".contains("differ in size"), "\($0)") }
    }

    /// Five frames: the reference still, the generated one with a jumping background square; flicker, lip-sync
    /// proxy (a tone over frames 2–3) and PSNR per frame.
    func testVideoScoresFlickerAndLipSync() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let photo = try Networks.face128()
        let gen = dir.appendingPathComponent("gen.mp4"), ref = dir.appendingPathComponent("ref.mp4"), wav = dir.appendingPathComponent("a.wav")
        let samples = (0..<(16000 * 5 / 25)).map { i -> Float in (640...1279).contains(i / 2) ? Float(0.5 * sin(Double(i) * 0.3)) : 0 }
        try WAVWriter.write(samples, sampleRate: 16000, to: wav)
        let g = try VideoWriter(url: gen, width: 128, height: 128, fps: 25), r = try VideoWriter(url: ref, width: 128, height: 128, fps: 25)
        for k in 0..<5 {
            var frame = photo
            for y in 2..<12 { for x in (k % 2 == 0 ? 2 : 20)..<(k % 2 == 0 ? 12 : 30) { frame.setPixel(x: x, y: y, (250, 250, 0)) } }
            try g.write(frame)
            try r.write(photo)
        }
        try g.finish(); try r.finish()
        let report = try Self.evaluator().evaluateVideos(generated: gen, reference: ref, source: nil, audio: wav)
        XCTAssertEqual(report.frames, 5)
        let generated = try XCTUnwrap(report.rows.first), reference = try XCTUnwrap(report.rows.dropFirst().first)
        XCTAssertGreaterThan(try XCTUnwrap(generated[.flicker]).mean, 0.5)
        XCTAssertLessThan(try XCTUnwrap(reference[.flicker]).mean, 0.3)
        XCTAssertNotNil(generated[.lipSync])
        XCTAssertEqual(try XCTUnwrap(generated[.psnr]).count, 5)
        XCTAssertTrue(report.markdown().contains("Sync*"))
    }
}
