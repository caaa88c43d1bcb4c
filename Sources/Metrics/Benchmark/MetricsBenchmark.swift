import Foundation
import Media
import Torch

/// Time per image for each metric network, and the cost of FID/KID on 2048-d features (build with
/// `-c release`; the networks themselves run in libtorch either way). Needs the networks installed by
/// scripts/metrics/install_metrics.sh.
public enum MetricsBenchmark {
    public struct Config: Sendable {
        /// Side of the square images compared by LPIPS and fed to Inception (resized to 299).
        public var imageSize = 256
        /// Timed repetitions per network (after one untimed warm-up).
        public var repeats = 5
        /// Feature vectors per set for the Fréchet distance and KID timings.
        public var featureCount = 500
        public init() {}

        /// A seconds-long configuration for smoke tests (figures are not meaningful).
        public static var quick: Config {
            var c = Config()
            c.imageSize = 32; c.repeats = 1; c.featureCount = 20
            return c
        }
    }

    /// The standard run: 256×256 images, 5 repetitions, 500 feature vectors per set.
    public static func run(log: (String) -> Void) throws { try run(config: Config(), log: log) }

    public static func run(config: Config, log: (String) -> Void) throws {
        guard config.imageSize >= LPIPS.minimumSize, config.repeats >= 1, config.featureCount >= 2 else {
            throw MetricsError.invalidInput("benchmark needs images ≥ \(LPIPS.minimumSize) px, repeats ≥ 1 and ≥ 2 features")
        }
        let s = config.imageSize, reps = config.repeats
        log("metrics benchmark: \(s)x\(s) images, \(reps) repetitions, \(Torch.numThreads) libtorch thread(s)")
        let g = Generator(seed: 0)
        let a = try Tensor.rand([1, 3, s, s], generator: g) * 2 - 1
        let b = try (a + Tensor.randn([1, 3, s, s], generator: g) * 0.1).clamp(min: -1, max: 1)

        for backbone in LPIPS.Backbone.allCases {
            let lpips = try LPIPS(backbone: backbone)
            let forward = try time(reps) { _ = try Torch.noGrad { try lpips.distances(a, b) } }
            let x = try b.detach().requiresGrad(true)
            let withGrad = try time(reps) {
                try x.zeroGrad()
                try lpips(x, a).backward()
            }
            log(String(format: "LPIPS-%@ %dx%d: %.1f ms per pair (forward), %.1f ms forward + backward (loss use)",
                       backbone.rawValue, s, s, forward * 1000, withGrad * 1000))
        }

        let inception = try FIDInception()
        let perImage = try time(reps) { _ = try inception.features(a) }
        log(String(format: "Inception-v3 features (%dx%d -> 299x299 -> 2048): %.1f ms per image", s, s, perImage * 1000))

        let emotion = try EmotionClassifier()
        let grey = try Tensor.rand([1, 1, 64, 64], generator: g) * 2 - 1
        let perFace = try time(reps) { _ = try Torch.noGrad { try emotion.probabilities(grey: grey) } }
        let photo = try RGBImage(tensor: a)
        let box = FaceBox(x: Double(s) / 4, y: Double(s) / 4, width: Double(s) / 2, height: Double(s) / 2)
        let withCrop = try time(reps) { _ = try Torch.noGrad { try emotion.probabilities(photo, face: box) } }
        log(String(format: "emotion (mini-Xception 64x64): %.2f ms per face, %.2f ms with fer's crop from a %dx%d image",
                   perFace * 1000, withCrop * 1000, s, s))

        let n = config.featureCount
        let fa = try Tensor.randn([n, 2048], generator: g), fb = try Tensor.randn([n, 2048], generator: g) + 0.1
        var fid = 0.0
        let fidTime = try time(1) { fid = try FrechetDistance.compute(features: fa, fb) }
        log(String(format: "FID of %d vs %d 2048-d features: %.3f s (%@; value %.2f)", n, n, fidTime,
                   n < 2048 ? "nuclear norm of the cross-Gram matrix" : "eigen + SVD of 2048x2048", fid))
        var kid = KernelInceptionDistance.Result(mean: 0, std: 0, subsets: 0, subsetSize: 0)
        let kidTime = try time(1) { kid = try KernelInceptionDistance.compute(fa, fb, subsets: 100) }
        log(String(format: "KID of %d vs %d 2048-d features (100 subsets of %d): %.3f s (value %.4f ± %.4f)",
                   n, n, kid.subsetSize, kidTime, kid.mean, kid.std))
    }

    /// Mean seconds per call over `repeats` calls, after one warm-up call.
    private static func time(_ repeats: Int, _ body: () throws -> Void) throws -> Double {
        try body()
        let t0 = Date()
        for _ in 0..<repeats { try body() }
        return Date().timeIntervalSince(t0) / Double(repeats)
    }
}
