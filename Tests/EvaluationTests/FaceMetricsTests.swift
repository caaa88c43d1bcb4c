import Evaluation
import FaceAnalysis
import Foundation
import Media
import Metrics
import Torch
import XCTest

/// The face networks on known cases: the same person, another person, a shifted face, a smiling face.
final class FaceMetricsTests: XCTestCase {
    override func setUp() { useOneThread() }

    func testIdentitySeparatesPeopleAndKeepsTheSamePerson() throws {
        let m = try Networks.identityMeasurer()
        let astronaut = try Networks.astronautMeasurement()
        // The same photo at twice the resolution: the same person.
        let big = try m.measure(Fixture.astronaut512(), name: "astronaut 512")
        let a = try XCTUnwrap(astronaut.embedding), b = try XCTUnwrap(big.embedding)
        XCTAssertLessThan(try FaceIdentityEncoder.distance(a, b), 0.3)
        XCTAssertGreaterThan(try FaceIdentityEncoder.cosineSimilarity(a, b), 0.95)
        // A synthetic face of the benchmark: another person.
        let other = try XCTUnwrap(m.measure(Fixture.syntheticFace(), name: "synthetic").embedding)
        XCTAssertGreaterThan(try FaceIdentityEncoder.distance(a, other), FaceIdentityEncoder.sameIdentityThreshold)
        XCTAssertLessThan(try FaceIdentityEncoder.cosineSimilarity(a, other), try FaceIdentityEncoder.cosineSimilarity(a, b) - 0.05)
    }

    /// Landmarks in the 256-wide frame: the 512² photo lands on the 256² photo's points, and a face moved by
    /// 6 px moves its landmarks by ≈ 6 px (LMD ≈ 6).
    func testLandmarkDistanceFollowsAShift() throws {
        let base = try Networks.astronautMeasurement()
        let light = try Networks.identityMeasurer()
        let same = try light.measure(Fixture.astronaut256(), name: "again")
        XCTAssertEqual(try Landmarks.meanDistance(same.landmarks, base.landmarks), 0, accuracy: 1e-9)
        let moved = try light.measure(shifted(Fixture.astronaut256(), dx: 6, dy: 0), name: "shifted")
        let lmd = try Landmarks.meanDistance(moved.landmarks, base.landmarks)
        XCTAssertEqual(lmd, 6, accuracy: 1.5)
        XCTAssertGreaterThan(try Landmarks.meanDistance(moved.landmarks, base.landmarks, indices: Landmarks.mouth), 4)
    }

    /// A 64² copy of the face is upsampled for analysis and still measured, in the same 256-wide frame.
    func testSmallImagesAreUpsampledForAnalysis() throws {
        let light = try Networks.identityMeasurer()
        let base = try light.measure(Networks.face128(), name: "128²")
        let small = try light.measure(Networks.face128().resized(width: 64, height: 64), name: "64²")
        XCTAssertEqual(small.imageWidth, 64)
        XCTAssertLessThan(try Landmarks.meanDistance(small.landmarks, base.landmarks), 4)
        XCTAssertLessThan(try FaceIdentityEncoder.distance(XCTUnwrap(small.embedding), XCTUnwrap(base.embedding)), FaceIdentityEncoder.sameIdentityThreshold)
    }

    func testSmilingAstronautIsHappyAndHasCoefficients() throws {
        let base = try Networks.astronautMeasurement()
        let p = try XCTUnwrap(base.emotion)
        XCTAssertEqual(p.indices.max { p[$0] < p[$1] }, Emotion.happy.rawValue)
        let rho = try XCTUnwrap(base.coefficients)
        XCTAssertEqual(rho.count, 261)
        XCTAssertTrue(rho.allSatisfy(\.isFinite))
        XCTAssertGreaterThan(base.mouthOpening, 0.02)   // a smile shows the teeth
        XCTAssertLessThan(base.mouthOpening, 0.6)
    }

    func testNoFaceIsAClearError() throws {
        let light = try Networks.identityMeasurer()
        let blank = try RGBImage(width: 64, height: 64, fill: (40, 40, 40))
        XCTAssertThrowsError(try light.measure(blank, name: "blank.png")) { error in
            guard case EvaluationError.noFace(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("blank.png"), message)
        }
    }

    /// FID of two fixed sets of five images against the float64 reference of the published formula on the
    /// TorchScript network's features (scripts/fixtures/evaluation_fid_ref.py); FID(A, A) = 0.
    func testFIDOfFixedSetsMatchesTheReference() throws {
        let f = try Fixture.load("fid_ref")
        let net = try Networks.inception()
        let a = try net.features(Fixture.images(f, "a")), b = try net.features(Fixture.images(f, "b"))
        let expected = try Fixture.tensor(f, "fid").item()
        // Features from our Inception (float32 chain: ≤ 3e-3 of the largest feature, MetricsTests' gate) feed a
        // float64 formula; FID is quadratic in the features, so 1e-3 relative is the chain's effect on it.
        XCTAssertEqual(try FrechetDistance.compute(features: a, b), expected, accuracy: 1e-3 * expected)
        XCTAssertEqual(try FrechetDistance.compute(features: a, a), 0, accuracy: 1e-6)   // only the rank-5 eigen route's √ε of near-zero eigenvalues remains
        XCTAssertLessThan(try KernelInceptionDistance.compute(a, a).mean, 1e-9)
        XCTAssertGreaterThan(try KernelInceptionDistance.compute(a, b).mean, 0.05)
    }
}
