import Media
import Torch
import Foundation

/// Throughput figures for the media layer (build with `-c release` for meaningful numbers):
/// video decode and encode frames per second at 256×256, MFCC real-time factor (seconds of audio
/// per second of compute), PNG/JPEG codec speed, face detection and crop/paste-back time per frame.
public enum MediaBenchmark {
    public struct Config: Sendable {
        public var frames = 250
        public var audioSeconds = 60.0
        public var detectionWidth = 640
        public var detectionHeight = 480
        public var detectionRepeats = 3
        public var codecRepeats = 200
        public init() {}

        /// A seconds-long configuration for smoke tests (figures are not meaningful).
        public static var quick: Config {
            var c = Config()
            c.frames = 4; c.audioSeconds = 1; c.detectionWidth = 64; c.detectionHeight = 48
            c.detectionRepeats = 1; c.codecRepeats = 2
            return c
        }
    }

    /// The standard run: 250 frames (10 s at 25 fps), 60 s of audio, detection on 640×480.
    public static func run(log: (String) -> Void) throws {
        try run(config: Config(), log: log)
    }

    public static func run(config: Config, log: (String) -> Void) throws {
        let frames = config.frames, audioSeconds = config.audioSeconds
        guard frames >= 1, audioSeconds > 0, config.detectionRepeats >= 1, config.codecRepeats >= 1 else {
            throw MediaError.invalidArgument("benchmark needs frames, repeats >= 1 and audio > 0")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-media-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        log("media benchmark: \(frames) frames at 256x256, \(audioSeconds) s of audio")

        // Video encode: our own frames through VideoWriter (x264 medium and ultrafast).
        let pattern = try (0..<8).map { k in
            try synthetic(width: 256, height: 256) { x, y in (UInt8((x + 8 * k) & 255), UInt8((y * 2 + k) & 255), UInt8((x ^ y) & 255)) }
        }
        let video = dir.appendingPathComponent("bench.mp4")
        for preset in ["medium", "ultrafast"] {
            let t0 = Date()
            let writer = try VideoWriter(url: video, width: 256, height: 256, fps: 25, preset: preset)
            for i in 0..<frames { try writer.write(pattern[i % pattern.count]) }
            try writer.finish()
            let dt = Date().timeIntervalSince(t0)
            log(String(format: "video encode (H.264 %@, yuv420p): %.1f frames/s (%.2f s for %d frames)", preset, Double(frames) / dt, dt, frames))
        }

        // Video decode: stream the file back frame by frame (and into tensors).
        var t0 = Date()
        let reader = try VideoReader(url: video)
        var n = 0
        while try reader.nextFrame() != nil { n += 1 }
        var dt = Date().timeIntervalSince(t0)
        log(String(format: "video decode (rgb24 pipe): %.1f frames/s (%d frames)", Double(n) / dt, n))
        t0 = Date()
        let tensorReader = try VideoReader(url: video)
        n = 0
        while try tensorReader.nextTensor() != nil { n += 1 }
        dt = Date().timeIntervalSince(t0)
        log(String(format: "video decode to 1x3x256x256 tensors: %.1f frames/s", Double(n) / dt))

        // MFCC real-time factor on a synthetic voiced signal.
        let sr = 16000
        let count = Int(audioSeconds * Double(sr))
        var samples = [Float](repeating: 0, count: count)
        var phase = 0.0
        for i in 0..<count {
            let t = Double(i) / Double(sr)
            phase += 2 * Double.pi * (120 + 40 * sin(2 * Double.pi * 0.5 * t)) / Double(sr)
            samples[i] = Float(0.3 * (sin(phase) + 0.5 * sin(2 * phase) + 0.25 * sin(3 * phase)) * (0.6 + 0.4 * sin(2 * Double.pi * 3 * t)))
        }
        let mfcc = try MFCC()
        t0 = Date()
        let features = try mfcc.compute(samples)
        dt = Date().timeIntervalSince(t0)
        log(String(format: "MFCC (psf conventions): %.0fx real time (%.1f s of audio in %.3f s, %d rows)", audioSeconds / dt, audioSeconds, dt, features.rowCount))
        t0 = Date()
        let clips = try MFCCClips().clips(from: features, config: mfcc.config, frameCount: Int(audioSeconds * 25))
        dt = Date().timeIntervalSince(t0)
        log(String(format: "MFCC clips %@: %.1f ms", clips.shape.description, dt * 1000))

        // Image codecs at 256x256.
        let img = pattern[0]
        let reps = config.codecRepeats
        for (name, format) in [("PNG", RGBImage.FileFormat.png), ("JPEG q95", .jpeg(quality: 95))] {
            t0 = Date()
            var data = Data()
            for _ in 0..<reps { data = try img.encoded(as: format) }
            let enc = Date().timeIntervalSince(t0)
            t0 = Date()
            for _ in 0..<reps { _ = try RGBImage(encoded: data) }
            let dec = Date().timeIntervalSince(t0)
            log(String(format: "%@ 256x256: encode %.0f images/s, decode %.0f images/s (%d bytes)", name, Double(reps) / enc, Double(reps) / dec, data.count))
        }

        // Face detection and crop/paste-back per frame (a synthetic frame: timing only).
        let (fw, fh) = (config.detectionWidth, config.detectionHeight)
        let frame = try synthetic(width: fw, height: fh) { x, y in (UInt8((x * 7 + y * 3) & 255), UInt8((x * y) & 255), UInt8((x + y) & 255)) }
        let detector = try FaceDetector()
        t0 = Date()
        let detReps = config.detectionRepeats
        for _ in 0..<detReps { _ = try detector.detect(frame) }
        dt = Date().timeIntervalSince(t0) / Double(detReps)
        log(String(format: "face detection %dx%d (Haar, minSize 30, busy synthetic texture = near worst case): %.1f ms/frame", fw, fh, dt * 1000))
        t0 = Date()
        let box = FaceBox(x: Double(fw) * 0.4, y: Double(fh) * 0.3, width: Double(fh) * 0.3, height: Double(fh) * 0.3)
        let (crop, transform) = try FaceCropper.crop(frame, box: box, size: 256)
        let cropTime = Date().timeIntervalSince(t0)
        t0 = Date()
        _ = try FaceCropper.pasteBack(crop, into: frame, transform: transform)
        log(String(format: "face crop to 256x256: %.1f ms, paste-back into %dx%d: %.1f ms", cropTime * 1000, fw, fh, Date().timeIntervalSince(t0) * 1000))
    }

    private static func synthetic(width: Int, height: Int, _ color: (Int, Int) -> (UInt8, UInt8, UInt8)) throws -> RGBImage {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = color(x, y)
                let i = (y * width + x) * 3
                px[i] = r; px[i + 1] = g; px[i + 2] = b
            }
        }
        return try RGBImage(width: width, height: height, pixels: px)
    }
}
