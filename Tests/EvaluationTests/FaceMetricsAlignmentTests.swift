@testable import Evaluation
import Foundation
import XCTest

/// Per-pair face metrics stay aligned with the pairs when some images have no face (a 32² run crashed indexing
/// them when the arrays skipped the missing faces).
final class FaceMetricsAlignmentTests: XCTestCase {
    func face(_ shift: Double, embedding: Float) -> FaceMeasurement {
        let points = (0..<468).map { SIMD2<Double>(Double($0 % 20) * 10 + shift, Double($0 / 20) * 10) }
        return FaceMeasurement(landmarks: points, imageLandmarks: points, embedding: [Float](repeating: embedding, count: 128),
                               coefficients: nil, emotion: nil, mouthOpening: 0, imageWidth: 256, imageHeight: 256)
    }

    func testMissingFacesLeaveNilEntriesAtTheirPairs() throws {
        let own: [FaceMeasurement?] = [nil, face(2, embedding: 0.1), nil]
        let ref: [FaceMeasurement?] = [face(0, embedding: 0.1), face(0, embedding: 0.1), face(0, embedding: 0.1)]
        let m = try TGDMEvaluator.faceMetrics(own, source: ref, target: ref)
        for metric in [EvaluationMetric.faceFound, .identity, .identityDistance, .identityMatch, .lmdMouth, .lmdAll] {
            XCTAssertEqual(m[metric]?.count, 3, "\(metric)")
        }
        XCTAssertNil(m[.lmdAll]?[0] ?? nil)
        XCTAssertEqual(try XCTUnwrap(m[.lmdAll]?[1] ?? nil), 2, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(m[.identityDistance]?[1] ?? nil), 0, accuracy: 1e-6)
        XCTAssertEqual(m[.faceFound]?.compactMap { $0 }, [0, 1, 0])
    }
}
