import FaceAnalysis
import Foundation
import Media
import Torch

/// Time per identity embedding, step by step (build with `-c release` for meaningful numbers): the
/// shape predictor, the chip extraction, the network on one chip and per chip in a batch, and the
/// whole box → embedding call.
public enum IdentityBenchmark {
    public struct Timing: Sendable, CustomStringConvertible {
        public var landmarksMs = 0.0, chipMs = 0.0, networkMs = 0.0, networkBatchedMs = 0.0, totalMs = 0.0
        public var batch = 0, threads = 0

        public var description: String {
            String(format: "shape predictor %.2f ms, chip %.2f ms, network %.1f ms (%.1f ms/chip in batches of %d), "
                   + "box → embedding %.1f ms; %d threads", landmarksMs, chipMs, networkMs, networkBatchedMs, batch, totalMs, threads)
        }
    }

    /// Median times over `repeats` runs (after one warm-up) on the face in `box`.
    public static func run(encoder: FaceIdentityEncoder, image: RGBImage, box: FaceBox, repeats: Int = 10,
                           batch: Int = 8) throws -> Timing {
        guard repeats >= 1, batch >= 1 else { throw FaceIdentityError.invalidInput("benchmark needs repeats and batch >= 1") }
        func median(_ body: () throws -> Void) throws -> Double {
            try body()
            var times: [Double] = []
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            return times.sorted()[times.count / 2]
        }
        let points = try encoder.landmarks(in: image, box: box)
        let chip = try encoder.chip(of: image, landmarks: points)
        var t = Timing()
        t.batch = batch
        t.threads = Torch.numThreads
        t.landmarksMs = try median { _ = try encoder.landmarks(in: image, box: box, source: .dlibDetector) }
        t.chipMs = try median { _ = try encoder.chip(of: image, landmarks: points) }
        t.networkMs = try median { _ = try encoder.embedding(chip: chip) }
        t.totalMs = try median { _ = try encoder.embedding(of: image, box: box) }
        let chips = [RGBImage](repeating: chip, count: batch)
        t.networkBatchedMs = try median { _ = try encoder.embeddings(chips: chips) } / Double(batch)
        return t
    }

    /// The timings on the first photo's largest face (BlazeFace box), and the pairwise identity distances of
    /// every photo's largest face (the same person below 0.6).
    public static func run(photos: [URL], repeats: Int, log: (String) -> Void) throws {
        guard let first = photos.first else { throw FaceIdentityError.invalidInput("no photos to measure (run from the repository)") }
        let encoder = try FaceIdentityEncoder.pretrained()
        let analyzer = try FaceAnalyzer(withIris: false)
        var embeddings: [(String, [Float])] = []
        for url in photos {
            let image = try RGBImage(contentsOf: url)
            let faces = try analyzer.detect(image)
            for (k, face) in faces.enumerated() {
                if url == first && k == 0 { log("identity timing (\(url.lastPathComponent)): \(try run(encoder: encoder, image: image, box: face.box, repeats: repeats))") }
                embeddings.append(("\(url.deletingPathExtension().lastPathComponent)#\(k)", try encoder.embedding(of: image, box: face.box)))
            }
        }
        log("identity distances (dlib, same person < 0.6): " + embeddings.map(\.0).joined(separator: ", "))
        for (name, e) in embeddings {
            log("  \(name): " + (try embeddings.map { String(format: "%.3f", try FaceIdentityEncoder.distance(e, $0.1)) }).joined(separator: " "))
        }
    }
}
