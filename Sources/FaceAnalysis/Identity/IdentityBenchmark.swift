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
}
