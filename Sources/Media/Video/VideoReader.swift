import Torch
import Foundation

/// Streams RGB frames from a video through an ffmpeg pipe (rawvideo rgb24), one frame at a time,
/// so memory use is one frame regardless of the video's length.
///
/// Frames come out in decode order at the stream's own timing (`-vsync passthrough`) unless `fps` is
/// given, in which case ffmpeg's fps filter duplicates/drops frames to that rate. Rotation metadata is
/// ignored (`-noautorotate`) so frames always have the probed width × height. With `size`, ffmpeg
/// scales each frame (area filter when shrinking, bicubic when enlarging) before it reaches us.
public final class VideoReader {
    public let url: URL
    /// The probed stream, before any resizing.
    public let info: VideoInfo
    /// The size of the frames this reader returns.
    public let frameWidth: Int
    public let frameHeight: Int
    /// How many frames have been returned so far.
    public private(set) var framesRead = 0

    private var process: Process?
    private var stdout: FileHandle?
    private let stderrBox = DataBox()
    private let stderrDone = DispatchGroup()
    private var finished = false

    /// Opens `url` (probing it first, so missing files, non-videos and empty videos fail here).
    /// - Parameters:
    ///   - size: resize every frame to this width × height (each 1...16384).
    ///   - fps: resample the frame rate (e.g. 25 for the talking-face convention).
    public init(url: URL, size: (width: Int, height: Int)? = nil, fps: Double? = nil) throws {
        self.url = url
        info = try VideoProbe.probe(url)
        if let size { try MediaLimits.check(width: size.width, height: size.height, what: "output frame") }
        if let fps, !(fps > 0 && fps <= 1000) { throw MediaError.invalidArgument("fps must be in (0, 1000], got \(fps)") }
        frameWidth = size?.width ?? info.width
        frameHeight = size?.height ?? info.height

        var filters = [String]()
        if let fps { filters.append("fps=\(fps)") }
        if let size {
            let shrinking = size.width * size.height < info.width * info.height
            filters.append("scale=\(size.width):\(size.height):flags=\(shrinking ? "area" : "bicubic")")
        }
        var args = ["-v", "error", "-nostdin", "-noautorotate", "-i", url.path, "-map", "0:v:0"]
        if !filters.isEmpty { args += ["-vf", filters.joined(separator: ",")] }
        if fps == nil { args += ["-vsync", "passthrough"] }
        args += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]

        let p = Process()
        p.executableURL = URL(fileURLWithPath: try ExternalTool.require("ffmpeg"))
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw MediaError.toolFailed("cannot start ffmpeg: \(error.localizedDescription)") }
        let box = stderrBox
        DispatchQueue.global().async(group: stderrDone) { box.data = err.fileHandleForReading.readDataToEndOfFile() }
        process = p
        stdout = out.fileHandleForReading
    }

    deinit { close() }

    /// The next frame, or nil at the end of the video. Throws `noFrames` if the video decodes to
    /// nothing, and `corruptData` if ffmpeg fails or the stream ends inside a frame.
    public func nextFrame() throws -> RGBImage? {
        guard !finished, let stdout else { return nil }
        let n = frameWidth * frameHeight * 3
        var buffer = [UInt8](repeating: 0, count: n)
        let got = buffer.withUnsafeMutableBytes { readFully(stdout.fileDescriptor, $0.baseAddress!, n) }
        if got == n {
            framesRead += 1
            return try RGBImage(width: frameWidth, height: frameHeight, pixels: buffer)
        }
        let status = finish(terminate: false)
        let message = ExternalTool.tail(String(decoding: stderrBox.data, as: UTF8.self))
        if status != 0 {
            throw MediaError.corruptData("decoding \(url.path) failed after \(framesRead) frames (ffmpeg status \(status)): \(message)")
        }
        if got > 0 {
            throw MediaError.corruptData("\(url.path): stream ended inside frame \(framesRead) (\(got) of \(n) bytes)")
        }
        if framesRead == 0 { throw MediaError.noFrames("\(url.path) decoded to zero frames. \(message)") }
        return nil
    }

    /// The next frame as a 1×3×H×W tensor in [-1, 1], or nil at the end.
    public func nextTensor() throws -> Tensor? { try nextFrame()?.toTensor() }

    /// Calls `body` with (index, frame) for each frame until the end or until `body` returns false.
    public func forEachFrame(_ body: (Int, RGBImage) throws -> Bool) throws {
        while let frame = try nextFrame() {
            if try !body(framesRead - 1, frame) { break }
        }
    }

    /// Stops ffmpeg (if still running) and releases the pipe. Safe to call more than once.
    public func close() {
        if !finished { finish(terminate: true) }
    }

    @discardableResult
    private func finish(terminate: Bool) -> Int32 {
        finished = true
        guard let p = process else { return 0 }
        if terminate && p.isRunning { p.terminate() }
        try? stdout?.close()
        stdout = nil
        p.waitUntilExit()
        stderrDone.wait()
        process = nil
        // SIGTERM from close() is not a decoding failure.
        return p.terminationReason == .uncaughtSignal ? 0 : p.terminationStatus
    }
}

/// Reads until `count` bytes arrived or EOF; returns the number read.
func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    var total = 0
    while total < count {
        let r = read(fd, buffer + total, count - total)
        if r > 0 { total += r } else if r == 0 { break } else if errno != EINTR { break }
    }
    return total
}
