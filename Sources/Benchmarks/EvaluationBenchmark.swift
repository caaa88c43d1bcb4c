import Evaluation
import FaceModel
import Foundation
import Media
import Metrics
import Torch

/// Time per metric per image of `tgdm eval` (build with `-c release`): pixel metrics, LPIPS-VGG16, Inception
/// features, and the face readouts (Face Mesh, + dlib identity, + fer emotion, + LandmarkFitter ρ, the
/// photometric fitter), on a real photo at 256² and at the synthetic benchmark's 64².
public enum EvaluationBenchmark {
    public struct Config: Sendable {
        public var repeats = 3
        /// Photometric fitter steps (the evaluation's default: 60).
        public var photometricSteps = 60
        public init() {}
        public static var quick: Config {
            var c = Config()
            c.repeats = 1; c.photometricSteps = 2
            return c
        }
    }

    public static func run(photo: URL, config: Config = Config(), log: (String) -> Void) throws {
        guard config.repeats >= 1, config.photometricSteps >= 1 else { throw EvaluationError.invalidConfig("benchmark needs repeats and steps ≥ 1") }
        let full = try RGBImage(contentsOf: photo)
        // 256²: the whole photo; 64²: its face crop, framed like the synthetic benchmark's faces (a whole 512²
        // half-body photo at 64² has a 12-pixel face that Face Mesh rightly rejects).
        let big = try full.resized(width: 256, height: 256)
        let probe = try FaceMeasurer(options: .init(identity: false, coefficients: false, emotion: false)).measure(full, name: photo.lastPathComponent)
        let xs = probe.imageLandmarks.map(\.x), ys = probe.imageLandmarks.map(\.y)
        let side = min(Double(min(full.width, full.height)), 1.6 * max(xs.max()! - xs.min()!, ys.max()! - ys.min()!))
        let x0 = min(max(0, (xs.min()! + xs.max()! - side) / 2), Double(full.width) - side)
        let y0 = min(max(0, (ys.min()! + ys.max()! - side) / 2), Double(full.height) - side)
        let small = try full.cropped(x: Int(x0), y: Int(y0), width: Int(side), height: Int(side)).resized(width: 64, height: 64)
        log("evaluation benchmark: \(photo.lastPathComponent) at 256² and its face crop at 64², \(config.repeats) repetitions, \(Torch.numThreads) libtorch thread(s)")
        func time(_ body: () throws -> Void) throws -> Double {
            try body()
            let t0 = Date()
            for _ in 0..<config.repeats { try body() }
            return Date().timeIntervalSince(t0) / Double(config.repeats) * 1000
        }
        for (name, image) in [("256²", big), ("64²", small)] {
            let a = try image.toTensor(), b = try (a + 0.05).clamp(min: -1, max: 1)
            let psnr = try time { _ = try ImageMetrics.psnr(a, b) }
            let ssim = try time { _ = try ImageMetrics.ssim(a, b) }
            log(String(format: "%@: PSNR %.2f ms, SSIM %.1f ms per image", name, psnr, ssim))
        }
        let lpips = try LPIPS(backbone: .vgg16)
        for (name, image) in [("256²", big), ("64²", small)] {
            let a = try image.toTensor(), b = try (a + 0.05).clamp(min: -1, max: 1)
            log(String(format: "%@: LPIPS-VGG16 %.1f ms per pair", name, try time { _ = try Torch.noGrad { try lpips.distances(a, b) } }))
        }
        let inception = try FIDInception()
        log(String(format: "Inception-v3 features (FID/KID): %.1f ms per image (any size, resized to 299²)", try time { _ = try inception.features(big.toTensor()) }))

        // Face readouts: each configuration adds one network; the differences are its cost.
        let steps: [(String, FaceMeasurer.Options)] = [
            ("Face Mesh (BlazeFace + mesh): landmarks, LMD, masks", .init(identity: false, coefficients: false, emotion: false)),
            ("+ dlib identity embedding", .init(identity: true, coefficients: false, emotion: false)),
            ("+ fer emotion", .init(identity: true, coefficients: false, emotion: true)),
            ("+ iris and LandmarkFitter ρ (Exp/Angle/Gaze)", .init(identity: true, coefficients: true, emotion: true)),
        ]
        for (name, image) in [("256²", big), ("64² (analysed at 256²)", small)] {
            var previous = 0.0
            for (label, options) in steps {
                let measurer = try FaceMeasurer(options: options)
                let ms = try time { _ = try measurer.measure(image, name: "benchmark") }
                log(String(format: "%@: %@ %.1f ms (%+.1f ms)", name, label, ms, ms - previous))
                previous = ms
            }
        }
        let faceModel = try MorphableModel.loadDefault()
        let photometric = try MotionEstimator(model: faceModel, settings: MotionFitSettings(iterations: config.photometricSteps))
        var known = try Tensor.zeros([Coefficients.count])
        known = try Coefficients(known.unsqueeze(0)).replacing(.illumination, with: Tensor(SphericalHarmonics.frontalLight()).unsqueeze(0)).tensor.squeeze(0)
        let s = try small.toTensor().squeeze(0)
        log(String(format: "64²: photometric readout (%d steps) %.0f ms per image", config.photometricSteps,
                   try time { _ = try photometric.estimate(image: s, known: known) }))
        let features = try Tensor.randn([24, 2048], generator: Generator(seed: 0))
        let other = try Tensor.randn([24, 2048], generator: Generator(seed: 1)) + 0.1
        log(String(format: "FID of 24 vs 24 features %.1f ms, KID %.1f ms", try time { _ = try FrechetDistance.compute(features: features, other) },
                   try time { _ = try KernelInceptionDistance.compute(features, other) }))
    }
}
