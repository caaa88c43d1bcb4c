import Audio2Expression
import FaceModel
import Foundation
import Media
import SyntheticFaces
import TextEncoder

/// The four drivers of the paper's Fig. 2, each ending in files a person can look at.
extension TalkingFacePipeline {
    // MARK: image

    /// Image-driven reenactment: appearance from the source, expression, pose and gaze from the driver.
    /// Writes the result to `output` and, when `grid` is given, a PNG with source | driver | I_3d | result.
    @discardableResult
    public func driveWithImage(source: Portrait, driver: Portrait, output: URL, grid: URL? = nil) throws -> Tensor {
        let (frames, renders) = try generate(source: source, motion: driver.coefficients)
        let result = try frames.select(0, 0)
        try RGBImage(tensor: result).write(to: output)
        if let grid {
            try ImageGrid.save([source.image.squeeze(0), driver.image.squeeze(0), renders.select(0, 0), result], columns: 4,
                               to: grid, labels: ["source", "driver", "I_3d", "TGDM"])
        }
        return result
    }

    // MARK: video

    /// Coefficients of every frame of a driving video: from a coefficient file when given (one row per
    /// frame) or found next to the video (`NAME.coeffs.json`), else by tracking: the first frame is fitted from scratch, each later one from its predecessor.
    public func videoCoefficients(video: URL, coefficients: URL?, maxFrames: Int?) throws -> (coefficients: Coefficients, frames: [Tensor], fps: Double) {
        let reader = try VideoReader(url: video, size: (size, size))
        defer { reader.close() }
        var frames: [Tensor] = []
        while let f = try reader.nextFrame() {
            frames.append(try f.toTensor())
            if let m = maxFrames, frames.count >= m { break }
        }
        guard !frames.isEmpty else { throw PipelineError("\(video.lastPathComponent) has no frames") }
        let fps = reader.info.fps > 0 ? reader.info.fps : 25
        let sidecar = video.deletingPathExtension().appendingPathExtension("coeffs.json")
        if let url = coefficients ?? (FileManager.default.fileExists(atPath: sidecar.path) ? sidecar : nil) {
            let c = try Coefficients.load(from: url)
            guard c.batch >= frames.count else {
                throw PipelineError("\(url.lastPathComponent) has \(c.batch) frames of coefficients, the video \(frames.count)")
            }
            return (try c.frames(0, frames.count), frames, fps)
        }
        var rows: [Coefficients] = []
        var previous: Coefficients? = nil
        for (i, f) in frames.enumerated() {
            let c = try fitCoefficients(f, initial: previous, iterations: previous == nil ? options.fitIterations : options.trackIterations)
            rows.append(c)
            previous = c
            if let p = progress, !p("track driving video", i + 1, frames.count) { throw CancellationError() }
        }
        return (try Coefficients.concatenate(rows), frames, fps)
    }

    /// Video-driven reenactment with the k = 1 window. Writes an MP4 (with the driving video's audio when
    /// `audio` is given) and returns the number of frames.
    @discardableResult
    public func driveWithVideo(source: Portrait, video: URL, coefficients: URL? = nil, output: URL, sideBySide: Bool = true,
                               maxFrames: Int? = nil, outputSize: Int? = nil, audio: URL? = nil) throws -> Int {
        let driving = try videoCoefficients(video: video, coefficients: coefficients, maxFrames: maxFrames)
        let (frames, renders) = try generate(source: source, motion: driving.coefficients, temporal: true)
        let panels: [[Tensor]] = try (0..<frames.size(0)).map { i in
            try sideBySide ? [source.image.squeeze(0), driving.frames[i].squeeze(0), renders.select(0, i), frames.select(0, i)]
                           : [frames.select(0, i)]
        }
        try writeVideo(panels: panels, fps: driving.fps, output: output, tileSize: outputSize ?? size, audio: audio)
        return frames.size(0)
    }

    // MARK: audio + text

    /// Audio- and text-driven generation: EmoA2E turns MFCC clips, the source identity α, an emotion
    /// prompt and an intensity η into expressions β̂; pose and gaze stay the source's (optionally with a
    /// slow natural head sway); the audio is muxed into the MP4.
    @discardableResult
    public func driveWithAudio(source: Portrait, audio: URL, a2e: EmoA2E, emotion: String?, intensity: Double,
                               output: URL, headMotion: Double = 1, sideBySide: Bool = true, outputSize: Int? = nil,
                               fps: Double = 25) throws -> Coefficients {
        let clipsMaker = try MFCCClips(rowsPerClip: a2e.config.mfccRowsPerFrame, fps: fps)
        let clips = try clipsMaker.clips(audio: audio)
        let beta = try a2e.predict(mfccClips: clips, identity: source.coefficients.identity, emotion: a2e.config.emotionConditioned ? (emotion ?? "neutral") : nil,
                                   intensity: intensity)
        let n = beta.size(0)
        var motion = try Coefficients(source.coefficients.tensor.expand([n, Coefficients.count]).contiguous())
        motion = try motion.replacing(.expression, with: beta)
        if headMotion > 0 {
            // A gentle deterministic sway (≈ ±3° yaw, ±2° pitch) so a still head does not look frozen.
            var pose = try motion.pose.floats()
            for i in 0..<n {
                let t = Double(i) / fps
                pose[i * 6 + 1] += Float(headMotion * 0.05 * sin(2 * .pi * 0.23 * t))
                pose[i * 6 + 0] += Float(headMotion * 0.035 * sin(2 * .pi * 0.31 * t + 1))
            }
            motion = try motion.replacing(.pose, with: Tensor(pose, shape: [n, 6]))
        }
        let (frames, renders) = try generate(source: source, motion: motion, temporal: true)
        let panels: [[Tensor]] = try (0..<n).map { i in
            try sideBySide ? [source.image.squeeze(0), renders.select(0, i), frames.select(0, i)] : [frames.select(0, i)]
        }
        try writeVideo(panels: panels, fps: fps, output: output, tileSize: outputSize ?? size, audio: audio)
        return motion
    }

    // MARK: face swapping

    /// Face swapping (Sec. 4.4 inference): I_3d is rendered with the source identity α_s and every other
    /// coefficient of the target. With a generator trained by the swapping paradigm (`maskedTexture`), the
    /// texture image is the target with its face masked out, as in training; with the reenactment
    /// generator it is the whole target. Hair, background, skin and expression stay the target's while the
    /// face shape becomes the source's.
    @discardableResult
    public func swap(source: Portrait, target: Portrait, output: URL, grid: URL? = nil, maskedTexture: Bool = false) throws -> Tensor {
        let rho = try Coefficients.swap(source: source.coefficients, target: target.coefficients)
        var texture = target.image
        if maskedTexture { texture = try FaceMasking.maskFace(image: target.image, render: renderGeometry(target.coefficients)) }
        let (frames, renders) = try generate(rho: rho, sourceImage: texture, temporal: false)
        let result = try frames.select(0, 0)
        try RGBImage(tensor: result).write(to: output)
        if let grid {
            try ImageGrid.save([source.image.squeeze(0), target.image.squeeze(0), texture.squeeze(0), renders.select(0, 0), result],
                               columns: 5, to: grid, labels: ["identity", "target", "texture in", "I_3d", "swapped"])
        }
        return result
    }

    // MARK: output

    /// Writes frames made of side-by-side panels to an H.264 MP4, upscaling each panel to `tileSize`.
    func writeVideo(panels: [[Tensor]], fps: Double, output: URL, tileSize: Int, audio: URL?) throws {
        guard let first = panels.first, !first.isEmpty else { throw PipelineError("nothing to write") }
        let tile = max(16, tileSize + tileSize % 2)
        let writer = try VideoWriter(url: output, width: tile * first.count, height: tile, fps: fps, audio: audio)
        do {
            for (i, row) in panels.enumerated() {
                var canvas = try RGBImage(width: tile * row.count, height: tile)
                for (k, t) in row.enumerated() {
                    var img = try RGBImage(tensor: t)
                    if img.width != tile { img = try img.resized(width: tile, height: tile) }
                    canvas.blit(img, x: k * tile, y: 0)
                }
                try writer.write(canvas)
                if let p = progress, !p("encode", i + 1, panels.count) { throw CancellationError() }
            }
            try writer.finish()
        } catch {
            writer.cancel()
            throw error
        }
    }
}
