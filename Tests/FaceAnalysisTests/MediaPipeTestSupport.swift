import Torch
import Media
import Foundation
import XCTest
@testable import FaceAnalysis

/// Fixtures of the MediaPipe tests (made once by scripts/fixtures/analysis_mediapipe.py).
func mediaPipeFixture(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("mediapipe").appendingPathComponent(name)
}

/// The networks, loaded once per test process; a missing model fails with the script that installs it.
enum MediaPipeShared {
    nonisolated(unsafe) static var cached: FaceAnalyzer?
    static func analyzer() throws -> FaceAnalyzer {
        if let a = cached { return a }
        Torch.configureThreads()
        do {
            let a = try FaceAnalyzer()
            cached = a
            return a
        } catch {
            XCTFail("\(error) — run scripts/analysis/install_mediapipe.sh (scripts/setup.sh runs it)")
            throw error
        }
    }
}

/// The test image `name`: "astronaut" is Samples/astronaut.png, the others are fixture PNGs.
func mediaPipeImage(_ name: String) throws -> RGBImage {
    if name == "astronaut" {
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Samples/astronaut.png")
        return try RGBImage(contentsOf: samples)
    }
    return try RGBImage(contentsOf: mediaPipeFixture("\(name).png"))
}

/// The MediaPipe package's own results (pipeline.json).
struct MediaPipeReference: Decodable {
    struct Detection: Decodable { var score: Double; var box: [Double]; var keypoints: [[Double]] }
    struct Image: Decodable { var width: Int; var height: Int; var detections: [Detection]; var meshes: [[[Double]]] }
    var images: [String: Image]

    static func load() throws -> MediaPipeReference {
        try JSONDecoder().decode(MediaPipeReference.self, from: Data(contentsOf: mediaPipeFixture("pipeline.json")))
    }
}

/// An H×W×3 uint8 fixture tensor as a 1×3×H×W float input with values byte·scale + offset.
func mediaPipeInput(_ t: Tensor, range: ClosedRange<Float>) throws -> Tensor {
    let s = t.shape
    let img = try RGBImage(width: s[1], height: s[0], pixels: try t.toArray(UInt8.self))
    return try ImageWarp.tensor(img, range: range)
}

func mediaPipeMaxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
