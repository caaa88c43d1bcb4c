import Foundation
import XCTest
@testable import FaceAnalysis
import Media
import Torch

/// Figures for notes and RESULTS, not gates: time per embedding (meaningful in `-c release`), and,
/// when TGDM_IDENTITY_PHOTOS names a folder of photos, their pairwise identity distances (Haar
/// cascade box → re-fitted dlib box → embedding), written as JSON to TGDM_IDENTITY_OUT when set.
/// TGDM_IDENTITY_REPEATS sets the timing repeats.
final class IdentityMeasurementTests: XCTestCase {
    func testMeasureTimeAndDistances() throws {
        let env = ProcessInfo.processInfo.environment
        let encoder = try IdentityFixtures.encoder()
        let ref = try IdentityFixtures.result("astronaut")
        let image = try IdentityFixtures.image(of: ref)
        let repeats = Int(env["TGDM_IDENTITY_REPEATS"] ?? "") ?? 2
        for threads in [1, 2] {
            Torch.configureThreads(threads)
            let t = try IdentityBenchmark.run(encoder: encoder, image: image, box: IdentityFixtures.box(of: ref), repeats: repeats)
            print("identity timing (astronaut 512×512): \(t)")
            XCTAssertTrue(t.totalMs.isFinite && t.totalMs > 0)
        }
        Torch.configureThreads(1)
        guard let folder = env["TGDM_IDENTITY_PHOTOS"] else { return }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter {
            ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased())
        }.sorted()
        let detector = try FaceDetector()
        var names: [String] = [], embeddings: [[Float]] = []
        for f in files {
            let photo = try RGBImage(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent(f))
            guard let box = try detector.detectBest(photo) else { print("identity photos: no face in \(f)"); continue }
            let points = try encoder.landmarks(in: photo, box: box)
            print("identity photos: \(f) \(photo.width)×\(photo.height) Haar \(box) → points \(points.points.map { [$0.x, $0.y] })")
            names.append(f)
            embeddings.append(try encoder.embedding(of: photo, landmarks: points))
        }
        if let out = env["TGDM_IDENTITY_OUT"] {
            try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: zip(names, embeddings.map { $0.map(Double.init) })))
                .write(to: URL(fileURLWithPath: out))
        }
        for (i, a) in names.enumerated() {
            let row = try embeddings.map { String(format: "%.3f", try FaceIdentityEncoder.distance(embeddings[i], $0)) }
            print("identity distance \(a): \(row.joined(separator: " "))")
        }
    }
}
