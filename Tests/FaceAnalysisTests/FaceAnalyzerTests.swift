import Media
import Foundation
import XCTest
@testable import FaceAnalysis

/// The facade and the tracker: several faces, bad input, tracking through frames.
final class FaceAnalyzerTests: XCTestCase {
    func testAnalyzeAstronaut() throws {
        let a = try MediaPipeShared.analyzer()
        let r = try a.analyze(image: try mediaPipeImage("astronaut"), source: "astronaut.png")
        XCTAssertEqual(r.landmarks.count, 468)
        XCTAssertGreaterThan(r.faceFlag, 0.9)
        // The nose tip (landmark 1) lies inside the detection box, and both irises inside their eye ROI.
        XCTAssertTrue(r.box.x < r.landmarks[1].x && r.landmarks[1].x < r.box.x + r.box.width)
        let irises = try XCTUnwrap(r.irises)
        XCTAssertEqual(irises.count, 2)
        for (k, iris) in irises.enumerated() {
            let corners = IrisLandmarker.eyeCorners[k]
            let (p, q) = (r.landmarks[corners.0], r.landmarks[corners.1])
            XCTAssertTrue(min(p.x, q.x) < iris.center.x && iris.center.x < max(p.x, q.x), "iris \(k) between its eye corners")
            XCTAssertTrue(iris.radius > 2 && iris.radius < 10, "iris radius \(iris.radius) px")
        }
        XCTAssertLessThan(irises[0].center.x, irises[1].center.x)
    }

    func testSeveralFacesLargestFirstAndIndex() throws {
        let a = try MediaPipeShared.analyzer()
        let image = try mediaPipeImage("two_faces")
        let first = try a.analyze(image: image)
        let second = try a.analyze(image: image, faceIndex: 1)
        XCTAssertGreaterThan(first.box.area, second.box.area)
        XCTAssertLessThan(first.box.centerX, 180)   // the larger face is on the left
        XCTAssertGreaterThan(second.box.centerX, 180)
        XCTAssertThrowsError(try a.analyze(image: image, faceIndex: 2, source: "two.png")) { e in
            XCTAssertEqual("\(e)", "face index 2 requested but 2 face(s) found in two.png")
        }
    }

    func testNoFaceAndBadInputAreClearErrors() throws {
        let a = try MediaPipeShared.analyzer()
        let blank = try RGBImage(width: 200, height: 150, fill: (120, 130, 140))
        XCTAssertThrowsError(try a.analyze(image: blank, source: "blank.png")) { e in
            XCTAssertEqual(e as? FaceAnalysisError, .noFace("no face found in blank.png"))
        }
        XCTAssertThrowsError(try a.analyze(image: try RGBImage(width: 4, height: 4))) { e in
            guard case .invalidInput = e as? FaceAnalysisError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try a.landmarks(image: blank, roi: RotatedRect(centerX: 10, centerY: 10, width: .nan, height: 4)))
        // A tiny face (the astronaut in 40 px) and extreme aspect ratios: a result or a clear error.
        let tiny = try mediaPipeImage("astronaut").resized(width: 40, height: 40)
        for img in [tiny, try RGBImage(width: 2000, height: 10), try RGBImage(width: 10, height: 1200)] {
            do { _ = try a.analyze(image: img) } catch let e as FaceAnalysisError {
                guard case .noFace = e else { return XCTFail("\(e)") }
            }
        }
    }

    /// Turned 90° the face is not upright (like a profile, outside the detector's training): either a
    /// result whose landmarks lie on the face, or a clear error — never a crash.
    func testSidewaysFaceGivesResultOrClearError() throws {
        let a = try MediaPipeShared.analyzer()
        let img = try mediaPipeImage("astronaut")
        var turned = try RGBImage(width: img.height, height: img.width)
        for y in 0..<img.height { for x in 0..<img.width { turned.setPixel(x: img.height - 1 - y, y: x, img.pixel(x: x, y: y)) } }
        do {
            let r = try a.analyze(image: turned)
            XCTAssertTrue(r.landmarks.allSatisfy { $0.x.isFinite && $0.y.isFinite })
        } catch let e as FaceAnalysisError {
            guard case .noFace = e else { return XCTFail("\(e)") }
        }
    }

    /// Frames of a moving face: the detector runs once, the landmarks follow the motion, a blank frame
    /// loses the face and the next face frame re-detects.
    func testTrackerFollowsMotionAndRedetects() throws {
        let a = try MediaPipeShared.analyzer()
        let photo = try mediaPipeImage("astronaut")
        let tracker = FaceTracker(analyzer: a)
        var previous: SIMD3<Double>?
        for t in 0..<4 {
            let frame = try photo.cropped(x: 40 + 6 * t, y: 20 + 3 * t, width: 400, height: 400)
            let r = try XCTUnwrap(try tracker.track(frame), "frame \(t)")
            // Compare with a fresh detection on the same frame: tracking must not drift.
            let fresh = try a.analyze(image: frame)
            let err = zip(r.landmarks, fresh.landmarks).map { (($0.x - $1.x) * ($0.x - $1.x) + ($0.y - $1.y) * ($0.y - $1.y)).squareRoot() }
            XCTAssertLessThan(err.reduce(0, +) / 468, 1.5, "frame \(t): tracked vs detected landmarks (px)")
            if let p = previous { XCTAssertEqual(r.landmarks[1].x - p.x, -6, accuracy: 1.5, "nose moves with the crop") }
            previous = r.landmarks[1]
        }
        XCTAssertEqual(tracker.detections, 1)
        XCTAssertNil(try tracker.track(try RGBImage(width: 400, height: 400, fill: (128, 128, 128))))
        XCTAssertNotNil(try tracker.track(try photo.cropped(x: 40, y: 20, width: 400, height: 400)))
        XCTAssertEqual(tracker.detections, 3)
    }
}
