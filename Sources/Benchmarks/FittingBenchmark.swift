import Torch
import FaceAnalysis
import FaceModel
import Foundation
import Media
import SyntheticFaces

/// Measures coefficient estimation (issue #9): on synthetic faces with known ρ (SyntheticFaces: the
/// detailed renders with hair, brows, glasses), pose / expression / gaze error of the landmark estimator
/// (MediaPipe Face Mesh + LandmarkFitter) against the photometric CoefficientFitter; on real photos, the
/// landmark reprojection error of the fitted model at 256²; time per image and per tracked video frame.
/// (Lives in the CLI target because SyntheticFaces sits above FaceAnalysis; the lead may move it.)
enum FittingBenchmark {
    struct Errors {
        var yaw = 0.0, pitch = 0.0, roll = 0.0, pitchBias = 0.0, yawBias = 0.0, expression = 0.0, jaw = 0.0, gaze = 0.0, seconds = 0.0, n = 0
        mutating func add(truth: [Float], fit: [Float], jaw j: Int?, seconds s: Double) {
            func deg(_ k: Int) -> Double { abs(Double(truth[251 + k] - fit[251 + k])) * 180 / .pi }
            pitch += deg(0); yaw += deg(1); roll += deg(2)
            pitchBias += Double(fit[251] - truth[251]) * 180 / .pi; yawBias += Double(fit[252] - truth[252]) * 180 / .pi
            expression += (0..<64).map { abs(Double(truth[80 + $0] - fit[80 + $0])) }.reduce(0, +) / 64
            if let j { jaw += abs(Double(truth[80 + j] - fit[80 + j])) }
            gaze += (0..<4).map { abs(Double(truth[257 + $0] - fit[257 + $0])) }.reduce(0, +) / 4
            seconds += s; n += 1
        }
        func line(_ name: String) -> String {
            let k = Double(max(n, 1))
            return String(format: "%-26@ yaw %5.2f° (bias %+.1f°)  pitch %5.2f° (bias %+.1f°)  roll %5.2f°  |Δβ| %.3f  |ΔjawOpen| %.3f  |Δω| %.3f  %6.2f s/face",
                          name as NSString, yaw / k, yawBias / k, pitch / k, pitchBias / k, roll / k, expression / k, jaw / k, gaze / k, seconds / k)
        }
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func run(faces: Int = 8, photometricIterations: Int = 100, log: (String) -> Void) throws {
        let renderer = try FaceRenderer.makeDefault()
        var fo = LandmarkFitter.Options()
        if let v = ProcessInfo.processInfo.environment["TGDM_FIT_DEPTH_WEIGHT"], let d = Double(v) { fo.depthWeight = d }
        if ProcessInfo.processInfo.environment["TGDM_FIT_SKIP_PHOTOMETRIC"] != nil { return try runLandmarksOnly(renderer, fo, faces, log) }
        let estimator = try CoefficientEstimator.makeDefault(renderer: renderer, options: fo)
        let model = renderer.model
        let synth = try SyntheticFaceRenderer(model: model, size: 256)
        var rng = SplitMix64(seed: 2024)
        var landmark = Errors(), photometric = Errors()
        var missed = 0
        log("fitting benchmark: \(faces) synthetic faces at 256², \(Torch.numThreads) threads")
        for i in 0..<faces {
            let identity = try SyntheticIdentity.make(index: i, seed: 99, model: model, anchors: synth.anchors)
            let motion = MotionSample.random(&rng, jawIndex: synth.jawIndex)
            guard let frame = try synth.frames(identity: identity, motions: [motion]).first else { continue }
            let truth = try frame.coefficients.floats()
            let image = try RGBImage(tensor: frame.image)
            // Landmark estimator, on the render's own 256² frame (the renderer's camera: no crop needed).
            var t0 = now()
            guard let face = try? estimator.analyzer.analyze(image: image) else { missed += 1; continue }
            let obs = LandmarkFitter.Observation(landmarks: face.landmarks.map { SIMD2($0.x + 0.5, $0.y + 0.5) },
                                                 depths: face.landmarks.map(\.z),
                                                 irisCenters: face.irises?.map { SIMD2($0.center.x + 0.5, $0.center.y + 0.5) })
            let fit = try estimator.fitter.fit(obs)
            landmark.add(truth: truth, fit: try fit.coefficients.tensor.floats(), jaw: synth.jawIndex, seconds: now() - t0)
            // Photometric fitter as the pipelines use it (128², from zero).
            t0 = now()
            var o = CoefficientFitter.Options()
            o.iterations = photometricIterations
            o.size = 128
            let small = try F.interpolate(frame.image.unsqueeze(0), size: (128, 128), mode: .bilinear(alignCorners: false))
            let p = try CoefficientFitter(renderer: renderer, options: o).fit(image: small).coefficients
            photometric.add(truth: truth, fit: try p.tensor.floats(), jaw: synth.jawIndex, seconds: now() - t0)
        }
        log(landmark.line("Face Mesh + LandmarkFitter"))
        log(photometric.line("photometric (\(photometricIterations) it)"))
        if missed > 0 { log("Face Mesh found no face in \(missed) of \(faces) synthetic images (excluded from both rows)") }
    }

    static func runLandmarksOnly(_ renderer: FaceRenderer, _ fo: LandmarkFitter.Options, _ faces: Int, _ log: (String) -> Void) throws {
        let estimator = try CoefficientEstimator.makeDefault(renderer: renderer, options: fo)
        let synth = try SyntheticFaceRenderer(model: renderer.model, size: 256)
        var rng = SplitMix64(seed: 2024)
        var e = Errors()
        for i in 0..<faces {
            let identity = try SyntheticIdentity.make(index: i, seed: 99, model: renderer.model, anchors: synth.anchors)
            let motion = MotionSample.random(&rng, jawIndex: synth.jawIndex)
            guard let frame = try synth.frames(identity: identity, motions: [motion]).first,
                  let face = try? estimator.analyzer.analyze(image: RGBImage(tensor: frame.image)) else { continue }
            let obs = LandmarkFitter.Observation(landmarks: face.landmarks.map { SIMD2($0.x + 0.5, $0.y + 0.5) }, depths: face.landmarks.map(\.z))
            let t0 = now()
            let fit = try estimator.fitter.fit(obs)
            e.add(truth: try frame.coefficients.floats(), fit: try fit.coefficients.tensor.floats(), jaw: synth.jawIndex, seconds: now() - t0)
        }
        log(e.line("depth weight \(fo.depthWeight)"))
    }

    /// Reprojection error and time on real photos, and per tracked frame.
    static func runPhotos(_ files: [URL], log: (String) -> Void) throws {
        let estimator = try CoefficientEstimator.makeDefault()
        for url in files {
            let image = try RGBImage(contentsOf: url)
            let t0 = now()
            do {
                let e = try estimator.estimate(image: image, source: url.lastPathComponent)
                log(String(format: "%-18@ reprojection %.2f px at 256² (landmarks + photometric texture/light), %.2f s",
                           url.lastPathComponent as NSString, e.reprojectionError, now() - t0))
            } catch { log("\(url.lastPathComponent): \(error)") }
        }
        if let url = files.first {
            let photo = try RGBImage(contentsOf: url)
            let side = min(photo.width, photo.height) * 3 / 4
            let clip = try (0..<12).map { t -> RGBImage in
                let x = (photo.width - side) / 2 + Int(10 * sin(Double(t) / 3)), y = (photo.height - side) / 2 + Int(6 * cos(Double(t) / 4))
                return try photo.cropped(x: x, y: y, width: side, height: side).resized(width: 256, height: 256)
            }
            let t0 = now()
            let est = try estimator.estimateSequence(frames: clip)
            let per = (now() - t0) / Double(clip.count)
            let err = est.compactMap { $0?.reprojectionError }
            log(String(format: "tracked clip (12 frames of 256²): %.3f s per frame incl. Face Mesh + iris + fit, reprojection %.2f px",
                       per, err.reduce(0, +) / Double(max(1, err.count))))
        }
    }
}
