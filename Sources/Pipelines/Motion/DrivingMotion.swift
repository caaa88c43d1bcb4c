import Audio2Expression
import FaceAnalysis
import FaceModel
import Foundation
import Media
import Torch

/// The motion of a driver: ρ_d per output frame, the frame rate, and what goes with it.
public struct DrivingMotion {
    /// N × 261 driving coefficients (only expression, pose and gaze are used for reenactment).
    public let coefficients: Coefficients
    public let fps: Double
    /// Audio to mux into the output (speech, or the driving video's own track).
    public let audio: URL?
    /// True for video and speech: consecutive frames of one sequence (temporal window, shared noise).
    public let isSequence: Bool
    /// The driving video, to show its frames beside the result.
    public let video: VideoDriver?
    /// The driving still, to show beside the result.
    public let image: Portrait?
    /// How the coefficients were obtained, for messages.
    public let origin: String
}

/// Blinks and gaze shifts laid over speech-driven coefficients (issue #22), drawn from one seed.
public struct EyeMotion: Sendable {
    public var blinks: BlinkModel
    public var gaze: GazeShifts
    /// Indices of the two blink units in β.
    public var blinkUnits: [Int]
    public var seed: UInt64

    public init(blinks: BlinkModel, gaze: GazeShifts, blinkUnits: [Int], seed: UInt64) {
        self.blinks = blinks
        self.gaze = gaze
        self.blinkUnits = blinkUnits
        self.seed = seed
    }

    /// `motion` (N frames at `fps`) with the blinks in its blink units and the gaze shifts added to ω.
    public func applied(to motion: Coefficients, fps: Double) throws -> Coefficients {
        let n = motion.batch
        var out = motion
        if !blinkUnits.isEmpty {
            // A blink closes both lids at least as far as its profile; what EmoA2E asks of them beyond that stays.
            let closure = try blinks.closures(frames: n, fps: fps, seed: seed)
            if closure.contains(where: { $0 > 0 }) {
                var expression = try out.expression.contiguous().floats()
                let k = CoefficientPart.expression.count
                for i in 0..<n where closure[i] > 0 {
                    for u in blinkUnits { expression[i * k + u] = max(expression[i * k + u], Float(closure[i])) }
                }
                out = try out.replacing(.expression, with: Tensor(expression, shape: [n, k]))
            }
        }
        let shifts = try gaze.offsets(frames: n, fps: fps, seed: seed)
        if shifts.contains(where: { $0.yaw != 0 || $0.pitch != 0 }) {
            // ω holds (x, y) of each eye's unit gaze direction, x to the image's right and y up: the shift is added and
            // the pair kept inside the unit disc.
            var omega = try out.gaze.contiguous().floats()
            for i in 0..<n {
                for eye in 0..<2 {
                    var x = Double(omega[4 * i + 2 * eye]) + sin(shifts[i].yaw), y = Double(omega[4 * i + 2 * eye + 1]) + sin(shifts[i].pitch)
                    let r = (x * x + y * y).squareRoot()
                    if r > 0.9 { x *= 0.9 / r; y *= 0.9 / r }
                    omega[4 * i + 2 * eye] = Float(x)
                    omega[4 * i + 2 * eye + 1] = Float(y)
                }
            }
            out = try out.replacing(.gaze, with: Tensor(omega, shape: [n, 4]))
        }
        return out
    }
}

/// EmoA2E applied to speech (Sec. 4.2): MFCC clips + α + emotion prompt + η → β̂ per frame, on top of a base ρ
/// whose head moves with the speech's prosody (`HeadMotion`: nods on stressed syllables, intonation, a sway; a still
/// head looks frozen), and whose eyes blink and shift (`eyes`). `seed` draws the sway.
public enum SpeechMotion {
    public static func coefficients(audio: URL, base: Coefficients, a2e: EmoA2E, emotion: String, intensity: Double,
                                    headMotion: Double, eyes: EyeMotion? = nil, seed: UInt64 = 0, fps: Double = 25) throws -> Coefficients {
        guard (1...3).contains(intensity) else { throw PipelineError.invalidInput("intensity must be in 1...3, got \(intensity)") }
        guard headMotion.isFinite, (0...10).contains(headMotion) else { throw PipelineError.invalidInput("head motion must be in 0...10") }
        // The clips (20 MFCC rows per frame) are freed before the N × 261 coefficients are built: on an hour of
        // speech each is about 94 MB.
        let beta: Tensor = try {
            let clips = try MFCCClips(rowsPerClip: a2e.config.mfccRowsPerFrame, fps: fps).clips(audio: audio)
            guard clips.size(0) >= 2 else {
                throw PipelineError.invalidInput("\(audio.lastPathComponent) is shorter than two video frames (\(String(format: "%.2f", 2 / fps)) s)")
            }
            return try a2e.predict(mfccClips: clips, identity: base.identity, emotion: a2e.config.emotionConditioned ? emotion : nil,
                                   intensity: intensity)
        }()
        let n = beta.size(0)
        // `replacing` concatenates views of the broadcast base row: one N × 261 allocation, no contiguous copy first.
        var motion = try Coefficients(base.frame(0).tensor.expand([n, Coefficients.count])).replacing(.expression, with: beta)
        if headMotion > 0 {
            let head = HeadMotion(amplitude: headMotion, seed: seed).offsets(try Prosody(audio: audio, fps: fps, frameCount: n))
            var pose = try motion.pose.floats()
            for (i, o) in head.enumerated() {
                pose[i * 6 + 0] += Float(o.pitch)
                pose[i * 6 + 1] += Float(o.yaw)
                pose[i * 6 + 2] += Float(o.roll)
            }
            motion = try motion.replacing(.pose, with: Tensor(pose, shape: [n, 6]))
        }
        if let eyes { motion = try eyes.applied(to: motion, fps: fps) }
        return motion
    }
}

extension TalkingFacePipeline {
    /// Estimates the driving motion of `driver` for `source`.
    public func motion(for driver: Driver, source: Portrait, configuration: PipelineConfiguration,
                       progress: PipelineProgressHandler? = nil) throws -> DrivingMotion {
        switch driver {
        case .image(let p):
            return DrivingMotion(coefficients: p.coefficients, fps: 25, audio: nil, isSequence: false, video: nil, image: p,
                                 origin: p.coefficientSource)
        case .motion(let c, let fps):
            guard fps > 0, fps <= 240 else { throw PipelineError.invalidInput("fps must be in (0, 240], got \(fps)") }
            return DrivingMotion(coefficients: c, fps: fps, audio: nil, isSequence: c.batch > 1, video: nil, image: nil, origin: "given")
        case .speech(let s):
            _ = progress?(.analyzing(.speech, done: 0, total: 1))
            let names = renderer.model.expressionNames
            let units = ["eyeBlinkLeft", "eyeBlinkRight"].compactMap { names.firstIndex(of: $0) }
            let c = try SpeechMotion.coefficients(audio: s.audio, base: source.coefficients, a2e: emoA2E(), emotion: s.emotion,
                                                  intensity: s.intensity, headMotion: s.headMotion,
                                                  eyes: EyeMotion(blinks: BlinkModel(ratePerMinute: s.blinkRate), gaze: GazeShifts(maxDegrees: s.gazeShift),
                                                                  blinkUnits: units, seed: configuration.seed),
                                                  seed: configuration.seed, fps: s.fps)
            if let p = progress, !p(.analyzing(.speech, done: 1, total: 1)) { throw PipelineError.cancelled }
            return DrivingMotion(coefficients: c, fps: s.fps, audio: s.audio, isSequence: true, video: nil, image: nil,
                                 origin: "EmoA2E, \"\(s.emotion)\" at η = \(s.intensity)")
        case .video(let v):
            return try videoMotion(v, configuration: configuration, progress: progress)
        }
    }

    /// Coefficients of the frames of a driving video: from a coefficient file (one row per frame) or a sidecar
    /// `NAME.coeffs.json`, else by tracking (`SequenceEstimator`: Face Mesh tracked frame to frame, one crop for
    /// the clip, landmark fits warm-started from the previous frame). Frames stream through: memory holds one
    /// frame and the coefficients.
    func videoMotion(_ v: VideoDriver, configuration: PipelineConfiguration, progress: PipelineProgressHandler?) throws -> DrivingMotion {
        if let m = v.maxFrames, m < 1 { throw PipelineError.invalidInput("max frames must be positive, got \(m)") }
        let reader = try VideoReader(url: v.url)
        defer { reader.close() }
        let fps = reader.info.fps > 0 ? reader.info.fps : 25
        let expected = min(v.maxFrames ?? Int.max, reader.info.frameCount > 0 ? reader.info.frameCount : Int.max)
        let audio = reader.info.hasAudio ? v.url : nil
        let sidecar = v.url.deletingPathExtension().appendingPathExtension("coeffs.json")
        if let url = v.coefficients ?? (FileManager.default.fileExists(atPath: sidecar.path) ? sidecar : nil) {
            var frames = 0
            while try reader.nextFrame() != nil {
                frames += 1
                if let m = v.maxFrames, frames >= m { break }
            }
            guard frames > 0 else { throw PipelineError.invalidInput("\(v.url.lastPathComponent) has no frames") }
            let c = try Coefficients.load(from: url)
            guard c.batch >= frames else {
                throw PipelineError.invalidInput("\(url.lastPathComponent) has \(c.batch) frames of coefficients, the video \(frames)")
            }
            return DrivingMotion(coefficients: try c.frames(0, frames), fps: fps, audio: audio, isSequence: true, video: v, image: nil,
                                 origin: "coefficients \(url.lastPathComponent)")
        }
        var rows: [Coefficients] = []
        var missing = 0
        let sequence = SequenceEstimator(estimator: try portraits.estimator(), iterationsPerFrame: configuration.trackIterations)
        while let frame = try reader.nextFrame() {
            if let e = try sequence.next(frame) {
                // Frames before the first face take its coefficients.
                if missing > 0 { rows += Array(repeating: e.coefficients, count: missing); missing = 0 }
                rows.append(e.coefficients)
            } else {
                missing += 1
            }
            let done = rows.count + missing
            if let p = progress, !p(.analyzing(.drivingVideo, done: done, total: expected == Int.max ? done : expected)) {
                throw PipelineError.cancelled
            }
            if let m = v.maxFrames, done >= m { break }
        }
        if rows.isEmpty, missing > 0 {
            throw PipelineError.noFace("no face found in any of the \(missing) frames of \(v.url.lastPathComponent)")
        }
        guard !rows.isEmpty else { throw PipelineError.invalidInput("\(v.url.lastPathComponent) has no frames") }
        return DrivingMotion(coefficients: try Coefficients.concatenate(rows), fps: fps, audio: audio, isSequence: true, video: v,
                             image: nil, origin: "tracked (\(rows.count) frames)")
    }
}
