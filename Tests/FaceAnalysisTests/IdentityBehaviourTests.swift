import Foundation
import XCTest
@testable import FaceAnalysis
import Media
import Torch

/// What the identity encoder does beyond parity: boxes from other detectors, points from Face Mesh,
/// same/different identities, and bad input.
final class IdentityBehaviourTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }

    /// Boxes that are not dlib HOG boxes (shifted, too wide, BlazeFace's, the project's Haar cascade's)
    /// give nearly dlib's result once the predictor re-fits its own box (`.otherDetector`).
    func testOtherDetectorBoxesConvergeToDlibResult() throws {
        let encoder = try IdentityFixtures.encoder()
        let ref = try IdentityFixtures.result("astronaut")
        let image = try IdentityFixtures.image(of: ref)
        let refPoints = try IdentityFixtures.parts(of: ref)
        // BlazeFace (MediaPipe 0.10.14 short range) on the astronaut: normalised box × 512.
        let blaze = FaceBox(x: 0.34680745 * 512, y: 0.16185777 * 512, width: 0.18621889 * 512, height: 0.18621920 * 512)
        var boxes: [(String, FaceBox)] = [("blazeface", blaze)]
        for name in ["astronaut_shift", "astronaut_wide", "astronaut_tight"] {
            boxes.append((name, IdentityFixtures.box(of: try IdentityFixtures.result(name))))
        }
        if let haar = try FaceDetector().detectBest(image) { boxes.append(("haar", haar)) }
        for (name, box) in boxes {
            let raw = try encoder.landmarks(in: image, box: box, source: .dlibDetector)
            let refit = try encoder.landmarks(in: image, box: box, source: .otherDetector)
            func err(_ l: FaceLandmarks5) -> Double {
                zip(l.points, refPoints.points).map { (($0 - $1) * ($0 - $1)).sum().squareRoot() }.max()!
            }
            let e = try encoder.embedding(of: image, landmarks: refit)
            let cos = try IdentityFixtures.cosine(e, ref.embedding)
            let dist = try FaceIdentityEncoder.distance(e, ref.embedding)
            print(String(format: "box %-16@ %@ → points off by %.1f px as is, %.1f px re-fitted; embedding cosine %.4f distance %.3f",
                         name as NSString, box.description, err(raw), err(refit), cos, dist))
            XCTAssertLessThanOrEqual(err(refit), 2.5, name)
            XCTAssertLessThan(dist, 0.2, name)
        }
    }

    /// On dlib's own HOG boxes of the real photo the re-fit changes almost nothing: the predictor's own
    /// frame (larger than HOG's, 108 vs 88 px on the astronaut) leads to the same points within a pixel.
    /// (On the synthetic faces in Samples/ the two differ by 2–13 px: see notes/identity_results.md.)
    func testRefitOnDlibBoxesKeepsDlibPoints() throws {
        let encoder = try IdentityFixtures.encoder()
        for r in try IdentityFixtures.images() where r.hog?.isEmpty == false && r.name.hasPrefix("astronaut") {
            let image = try IdentityFixtures.image(of: r)
            let hogBox = r.hog!.max { ($0[2] - $0[0]) < ($1[2] - $1[0]) }!
            let box = FaceBox(x: Double(hogBox[0]), y: Double(hogBox[1]), width: Double(hogBox[2] - hogBox[0] + 1),
                              height: Double(hogBox[3] - hogBox[1] + 1))
            let plain = try encoder.landmarks(in: image, box: box, source: .dlibDetector)
            let fitted = encoder.shapePredictor.dlibBox(fitting: plain)
            let refit = try encoder.landmarks(in: image, box: box, source: .otherDetector)
            let err = zip(plain.points, refit.points).map { max(abs($0.x - $1.x), abs($0.y - $1.y)) }.max()!
            print("refit \(r.name): HOG \(box) fitted \(fitted) points differ by \(err) px")
            XCTAssertLessThanOrEqual(err, 1, r.name)
        }
    }

    /// dlib's five points taken from Face Mesh instead of the shape predictor: MediaPipe 0.10.14's mesh
    /// of the astronaut (points 263, 362, 33, 133, 2, normalised × 512, from the FaceAnalysis MediaPipe
    /// fixture) land within 2 px of dlib's, and the embedding stays the same identity.
    func testFaceMeshPointsGiveTheSameIdentity() throws {
        let encoder = try IdentityFixtures.encoder()
        let ref = try IdentityFixtures.result("astronaut")
        let image = try IdentityFixtures.image(of: ref)
        let normalised: [(Double, Double)] = [(0.50138402, 0.20327395), (0.46374777, 0.20463680), (0.38016957, 0.19714409),
                                              (0.41762155, 0.20243558), (0.43745190, 0.26158276)]
        var mesh = [SIMD2<Double>](repeating: SIMD2(0, 0), count: 468)
        for (i, p) in zip(FaceLandmarks5.faceMeshIndices, normalised) { mesh[i] = SIMD2(p.0 * 512, p.1 * 512) }
        let five = try FaceLandmarks5(faceMesh: mesh)
        let dlibPoints = try IdentityFixtures.parts(of: ref)
        let err = zip(five.points, dlibPoints.points).map { (($0 - $1) * ($0 - $1)).sum().squareRoot() }.max()!
        let e = try encoder.embedding(of: image, landmarks: five)
        let dist = try FaceIdentityEncoder.distance(e, ref.embedding)
        print(String(format: "Face Mesh points: %.2f px from dlib's; embedding distance %.3f, cosine %.4f", err, dist,
                     try IdentityFixtures.cosine(e, ref.embedding)))
        XCTAssertLessThan(err, 2)
        XCTAssertLessThan(dist, 0.15)
        XCTAssertThrowsError(try FaceLandmarks5(faceMesh: Array(mesh.prefix(100))))
    }

    /// The astronaut under mirror, crop, exposure and scale changes stays one person (distance < 0.6);
    /// the synthetic faces of Samples/ are someone else.
    func testSameAndDifferentPeople() throws {
        let encoder = try IdentityFixtures.encoder()
        var embeddings: [String: [Float]] = [:]
        for r in try IdentityFixtures.images() where r.name != "astronaut_wide" {
            embeddings[r.name] = try encoder.embedding(of: IdentityFixtures.image(of: r), box: IdentityFixtures.box(of: r))
        }
        let astronaut = try XCTUnwrap(embeddings["astronaut"])
        for (name, e) in embeddings.sorted(by: { $0.key < $1.key }) {
            let d = try FaceIdentityEncoder.distance(astronaut, e)
            print(String(format: "distance astronaut ↔ %-16@ %.3f", name as NSString, d))
            XCTAssertEqual(try FaceIdentityEncoder.isSamePerson(astronaut, e), name.hasPrefix("astronaut"), name)
        }
    }

    /// The tensor path (chips in the project's [-1, 1] convention, e.g. generated frames) gives the
    /// embeddings of the byte path.
    func testChipTensorPathMatchesImagePath() throws {
        let encoder = try IdentityFixtures.encoder()
        let chip = try RGBImage(contentsOf: IdentityFixtures.fixture("chip_astronaut.png"))
        let fromImage = try encoder.embedding(chip: chip)
        let fromTensor = try Torch.noGrad { try encoder.embeddings(chipTensor: chip.toTensor()).floats() }
        XCTAssertGreaterThan(try IdentityFixtures.cosine(fromImage, fromTensor), 0.99999)
        XCTAssertThrowsError(try encoder.embeddings(chipTensor: Tensor.zeros([1, 3, 64, 64])))
        XCTAssertThrowsError(try encoder.embeddings(chipTensor: Tensor.full([1, 3, 150, 150], .nan)))
    }

    /// Bad input is an error that says what is wrong, never a crash.
    func testBadInputIsAnError() throws {
        let encoder = try IdentityFixtures.encoder()
        let image = try RGBImage(width: 64, height: 48, fill: (90, 90, 90))
        func expectInvalid(_ body: @autoclosure () throws -> Any, _ what: String) {
            XCTAssertThrowsError(try body(), what) { error in
                guard case FaceIdentityError.invalidInput = error else { return XCTFail("\(what): \(error)") }
            }
        }
        expectInvalid(try encoder.embedding(chip: image), "chip of the wrong size")
        expectInvalid(try encoder.landmarks(in: image, box: FaceBox(x: 0, y: 0, width: 0, height: 10)), "empty box")
        expectInvalid(try encoder.landmarks(in: image, box: FaceBox(x: .nan, y: 0, width: 10, height: 10)), "NaN box")
        expectInvalid(try FaceLandmarks5([SIMD2(0, 0)]), "one point")
        expectInvalid(try FaceLandmarks5([SIMD2<Double>](repeating: SIMD2(.infinity, 0), count: 5)), "infinite points")
        let collapsed = try FaceLandmarks5([SIMD2<Double>](repeating: SIMD2(10, 10), count: 5))
        expectInvalid(try FaceChipAlignment(landmarks: collapsed), "all points equal")
        expectInvalid(try FaceIdentityEncoder.distance([1, 2], [1, 2, 3]), "sizes differ")
        expectInvalid(try FaceIdentityEncoder.distance([.nan, 2], [1, 2]), "NaN embedding")
        expectInvalid(try FaceIdentityEncoder.cosineSimilarity([0, 0], [1, 2]), "zero embedding")
        // A face box far outside the image is not an error: the chip is black, the embedding finite.
        let outside = try encoder.embedding(of: image, box: FaceBox(x: 500, y: 500, width: 80, height: 80), source: .dlibDetector)
        XCTAssertTrue(outside.allSatisfy { $0.isFinite })
        // A missing model file names the script that installs it.
        XCTAssertThrowsError(try DlibResNet.pretrained(url: URL(fileURLWithPath: "/nonexistent/net.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("install_dlib.sh"), "\(error)")
        }
        // A file of the wrong model is rejected.
        XCTAssertThrowsError(try DlibResNet.pretrained(url: ModelResources.default.url(for: .dlibShapePredictor))) { error in
            guard case FaceIdentityError.modelInvalid = error else { return XCTFail("\(error)") }
        }
    }
}
