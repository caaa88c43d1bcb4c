import Torch
import Foundation

/// Encodes RGB frames to an H.264 MP4 (yuv420p, BT.601, `-movflags +faststart`) through an ffmpeg
/// pipe. Frames go straight to ffmpeg, so memory use is one frame.
///
/// Output goes to a hidden temporary sibling of `url` (`AtomicFile`) that `finish()` renames into place, so a
/// crash or `cancel()` never leaves a truncated video under the final name, and the next writer into the folder
/// removes the temporary a killed run left. yuv420p needs even sizes: an odd
/// width or height is padded by one black column/row. With `audio`, that file's first audio stream is
/// muxed in as AAC and the output stops at the shorter of the two streams (`-shortest` with
/// `-fflags +shortest`, accurate to one AAC frame, 64 ms at 16 kHz).
public final class VideoWriter {
    public let url: URL
    public let width: Int
    public let height: Int
    public let fps: Double
    public private(set) var framesWritten = 0

    private let temporaryURL: URL
    private var process: Process?
    private var stdin: FileHandle?
    private let stderrBox = DataBox()
    private let stderrDone = DispatchGroup()

    /// - Parameters:
    ///   - crf: x264 constant rate factor (0 = lossless ... 51); 18 is visually near-lossless.
    ///   - preset: x264 speed/size trade-off ("ultrafast" ... "veryslow").
    public init(url: URL, width: Int, height: Int, fps: Double, audio: URL? = nil, crf: Int = 18,
                preset: String = "medium") throws {
        try MediaLimits.check(width: width, height: height, what: "video frame")
        guard fps > 0, fps <= 1000 else { throw MediaError.invalidArgument("fps must be in (0, 1000], got \(fps)") }
        guard (0...51).contains(crf) else { throw MediaError.invalidArgument("crf must be 0...51, got \(crf)") }
        let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
        guard presets.contains(preset) else { throw MediaError.invalidArgument("unknown x264 preset '\(preset)'") }
        guard url.pathExtension.lowercased() == "mp4" else {
            throw MediaError.unsupportedFormat("VideoWriter writes MP4; '\(url.lastPathComponent)' does not end in .mp4")
        }
        if let audio {
            guard FileManager.default.fileExists(atPath: audio.path) else { throw MediaError.fileNotFound(audio.path) }
        }
        self.url = url
        self.width = width
        self.height = height
        self.fps = fps
        let dir = url.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw MediaError.io("cannot create \(dir.path): \(error.localizedDescription)")
        }
        AtomicFile.removeStaleTemporaries(in: dir)
        temporaryURL = AtomicFile.temporarySibling(of: url, suffix: ".mp4")

        var args = ["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(width)x\(height)",
                    "-r", String(fps), "-i", "-"]
        if let audio { args += ["-i", audio.path] }
        args += ["-map", "0:v:0"]
        if audio != nil { args += ["-map", "1:a:0", "-c:a", "aac", "-b:a", "128k", "-shortest",
                                   "-fflags", "+shortest", "-max_interleave_delta", "100M"] }
        if width % 2 != 0 || height % 2 != 0 { args += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"] }
        args += ["-c:v", "libx264", "-preset", preset, "-crf", String(crf), "-pix_fmt", "yuv420p",
                 "-movflags", "+faststart", "-f", "mp4", temporaryURL.path]

        let p = Process()
        p.executableURL = URL(fileURLWithPath: try ExternalTool.require("ffmpeg"))
        p.arguments = args
        let input = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        IgnoreSIGPIPE.once
        do { try p.run() } catch { throw MediaError.toolFailed("cannot start ffmpeg: \(error.localizedDescription)") }
        let box = stderrBox
        DispatchQueue.global().async(group: stderrDone) { box.data = err.fileHandleForReading.readDataToEndOfFile() }
        process = p
        stdin = input.fileHandleForWriting
    }

    deinit { cancel() }

    /// Appends one frame; it must be exactly width × height.
    public func write(_ frame: RGBImage) throws {
        guard let stdin else { throw MediaError.invalidArgument("VideoWriter for \(url.path) is already finished") }
        guard frame.width == width, frame.height == height else {
            throw MediaError.invalidDimensions("frame is \(frame.width)x\(frame.height), the video is \(width)x\(height)")
        }
        let ok = frame.pixels.withUnsafeBytes { stdin.writeIgnoringBrokenPipe(Data($0)) }
        if !ok {
            let status = stop()
            throw MediaError.toolFailed("ffmpeg stopped accepting frames (status \(status)): \(stderrTail())")
        }
        framesWritten += 1
    }

    /// Appends a 3×H×W or 1×3×H×W tensor in [-1, 1].
    public func write(tensor: Tensor) throws { try write(try RGBImage(tensor: tensor)) }

    /// Flushes the encoder, waits for ffmpeg and moves the finished file to `url`.
    public func finish() throws {
        guard process != nil else { throw MediaError.invalidArgument("VideoWriter for \(url.path) is already finished") }
        guard framesWritten > 0 else {
            cancel()
            throw MediaError.noFrames("no frames were written to \(url.path)")
        }
        let status = stop()
        guard status == 0 else {
            try? FileManager.default.removeItem(at: temporaryURL)
            throw MediaError.toolFailed("ffmpeg failed to encode \(url.path) (status \(status)): \(stderrTail())")
        }
        if rename(temporaryURL.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporaryURL)
            throw MediaError.io("cannot move the encoded video to \(url.path): \(reason)")
        }
    }

    /// Abandons the video: stops ffmpeg and deletes the temporary file. `url` is left untouched.
    public func cancel() {
        guard let p = process else { return }
        if p.isRunning { p.terminate() }
        _ = stop()
        try? FileManager.default.removeItem(at: temporaryURL)
    }

    private func stop() -> Int32 {
        try? stdin?.close()
        stdin = nil
        guard let p = process else { return 0 }
        p.waitUntilExit()
        stderrDone.wait()
        process = nil
        return p.terminationStatus
    }

    private func stderrTail() -> String { ExternalTool.tail(String(decoding: stderrBox.data, as: UTF8.self)) }
}
