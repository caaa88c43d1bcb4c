import Torch
import Media
import Foundation
import XCTest
@testable import FaceAnalysis

/// The Swift networks against the TFLite interpreter on the same input bytes (raw outputs), and the
/// whole pipeline against the MediaPipe 0.10.14 package on real photos.
final class MediaPipeParityTests: XCTestCase {
    let raw = try! Safetensors.load(mediaPipeFixture("raw.safetensors")).tensors

    func testDetectorRawOutputsMatchTFLite() throws {
        let detector = try MediaPipeShared.analyzer().detector
        for name in ["astronaut", "rotated"] {
            let outs = try detector.network(mediaPipeInput(raw["\(name).detector.input"]!, range: -1...1))
            let regs = try outs[0].floats(), logits = try outs[1].floats()
            let refRegs = try raw["\(name).detector.regressors"]!.floats(), refLogits = try raw["\(name).detector.scores"]!.floats()
            // Regressors are in 128-pixel input units: 2e-3 is 1/60 of a pixel of the network input.
            XCTAssertLessThan(mediaPipeMaxAbsDiff(regs, refRegs), 2e-3, name)
            XCTAssertLessThan(mediaPipeMaxAbsDiff(logits, refLogits), 2e-3, name)   // TFLite's XNNPACK kernels vs libtorch's: float32 rounding of ~40 layers on logits of size ~10
        }
    }

    func testFaceMeshRawOutputsMatchTFLite() throws {
        let mesh = try MediaPipeShared.analyzer().mesh
        for name in ["astronaut", "rotated"] {
            let outs = try mesh.network(mediaPipeInput(raw["\(name).mesh.input"]!, range: 0...1))
            let lm = try outs[0].floats(), ref = try raw["\(name).mesh.landmarks"]!.floats()
            // Gate: landmarks within 0.5 px at 192² (x, y); the port is far inside it.
            let xy = (0..<468).flatMap { [3 * $0, 3 * $0 + 1] }
            XCTAssertLessThan(mediaPipeMaxAbsDiff(xy.map { lm[$0] }, xy.map { ref[$0] }), 0.01, name)
            XCTAssertLessThan(mediaPipeMaxAbsDiff(lm, ref), 0.02, name)   // z is in the same units with twice the spread of x, y
            let flag = 1 / (1 + exp(-Double(try outs[1].floats()[0])))
            let refFlag = 1 / (1 + exp(-Double(try raw["\(name).mesh.flag"]!.floats()[0])))
            XCTAssertEqual(flag, refFlag, accuracy: 1e-3, name)   // a probability: a tenth of a percent, far above float32 rounding
        }
    }

    func testIrisRawOutputsMatchTFLite() throws {
        let iris = try XCTUnwrap(MediaPipeShared.analyzer().iris)
        for name in ["astronaut", "rotated"] {
            let outs = try iris.network(mediaPipeInput(raw["\(name).iris.input"]!, range: 0...1))
            // 64-pixel eye-crop units: 0.01 px, as for the mesh.
            XCTAssertLessThan(mediaPipeMaxAbsDiff(try outs[0].floats(), try raw["\(name).iris.contour"]!.floats()), 0.01, name)
            XCTAssertLessThan(mediaPipeMaxAbsDiff(try outs[1].floats(), try raw["\(name).iris.iris"]!.floats()), 0.01, name)
        }
    }

    /// Detection boxes and keypoints within 1 px, scores within 1e-3 of the MediaPipe package.
    func testDetectionsMatchMediaPipe() throws {
        let analyzer = try MediaPipeShared.analyzer()
        let ref = try MediaPipeReference.load()
        for (name, r) in ref.images.sorted(by: { $0.key < $1.key }) {
            let image = try mediaPipeImage(name)
            let mine = try analyzer.detector.detect(image)
            XCTAssertEqual(mine.count, r.detections.count, name)
            for d in r.detections {
                let (w, h) = (Double(r.width), Double(r.height))
                let box = FaceBox(x: d.box[0] * w, y: d.box[1] * h, width: d.box[2] * w, height: d.box[3] * h)
                guard let m = mine.min(by: { abs($0.box.centerX - box.centerX) < abs($1.box.centerX - box.centerX) }) else { continue }
                XCTAssertEqual(m.box.x, box.x, accuracy: 1, name)
                XCTAssertEqual(m.box.y, box.y, accuracy: 1, name)
                XCTAssertEqual(m.box.width, box.width, accuracy: 1, name)
                XCTAssertEqual(m.box.height, box.height, accuracy: 1, name)
                for (k, p) in d.keypoints.enumerated() {
                    XCTAssertEqual(m.keypoints[k].x, p[0] * w, accuracy: 1, "\(name) keypoint \(k)")
                    XCTAssertEqual(m.keypoints[k].y, p[1] * h, accuracy: 1, "\(name) keypoint \(k)")
                }
                XCTAssertEqual(m.score, d.score, accuracy: 1e-3, name)   // a sigmoid of the logits gated at 2e-3 above: ≤ ¼·2e-3
            }
        }
    }

    /// Face Mesh landmarks within 0.5 px of the MediaPipe package, measured at the 192² network scale.
    func testLandmarksMatchMediaPipe() throws {
        let analyzer = try MediaPipeShared.analyzer()
        let ref = try MediaPipeReference.load()
        for (name, r) in ref.images.sorted(by: { $0.key < $1.key }) {
            let image = try mediaPipeImage(name)
            let faces = try analyzer.detect(image)
            XCTAssertEqual(faces.count, r.meshes.count, name)
            for (i, face) in faces.enumerated() {
                let mine = try analyzer.landmarks(image: image, roi: FaceMeshLandmarker.roi(for: face))
                // The reference face whose landmark centre is nearest.
                let c = mine.landmarks.reduce(SIMD3<Double>(0, 0, 0), +) / 468
                let refLm = r.meshes.min { a, b in
                    abs(a[1][0] * Double(r.width) - c.x) < abs(b[1][0] * Double(r.width) - c.x)
                }!
                let toNet = 192 / mine.roi.width
                var worst = 0.0, sum = 0.0
                for k in 0..<468 {
                    let dx = mine.landmarks[k].x - refLm[k][0] * Double(r.width)
                    let dy = mine.landmarks[k].y - refLm[k][1] * Double(r.height)
                    let d = (dx * dx + dy * dy).squareRoot() * toNet
                    worst = max(worst, d); sum += d
                }
                print(String(format: "%@ face %d: landmark error at 192²: mean %.4f px, max %.4f px", name, i, sum / 468, worst))
                XCTAssertLessThan(worst, 0.5, "\(name) face \(i)")
            }
        }
    }
}
