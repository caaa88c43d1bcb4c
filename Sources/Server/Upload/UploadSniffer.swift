import Foundation

/// What an uploaded file turned out to be, from its bytes (never from its name or declared type).
public enum SniffedKind: String, Sendable, Codable {
    case png, jpeg, video, audio
}

/// Limits on what the server accepts.
public struct UploadLimits: Sendable {
    /// The whole request body.
    public var maxRequestBytes = 64 << 20
    /// Longest image side, and most pixels, of an uploaded picture (checked from its header, before decoding).
    public var maxImageSide = 4096
    public var maxImagePixels = 16_777_216
    /// Longest side of an uploaded video frame.
    public var maxVideoSide = 1920
    /// Seconds of uploaded (or synthesised) speech and of driving video.
    public var maxMediaSeconds = 60.0
    /// Characters of text to speak.
    public var maxTextCharacters = 1000
    /// Bytes of a coefficients JSON part.
    public var maxCoefficientBytes = 4 << 20
    /// Seconds an upload may take to arrive.
    public var uploadTimeout = 120.0
    public init() {}
}

/// Image headers read without decoding: the format from its magic bytes and the size from PNG's IHDR or the JPEG
/// start-of-frame marker, so oversized pictures are refused before any pixel is decoded.
public enum ImageHeader {
    public static let pngMagic: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The kind and size of a PNG or JPEG, or nil when the bytes are neither (or the header is broken).
    public static func inspect(_ bytes: [UInt8]) -> (kind: SniffedKind, width: Int, height: Int)? {
        if bytes.starts(with: pngMagic) {
            // Signature, then the IHDR chunk: length (4), "IHDR", width (4, big-endian), height (4).
            guard bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8) else { return nil }
            let w = bigEndian(bytes, 16, 4), h = bigEndian(bytes, 20, 4)
            return (.png, w, h)
        }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF {
            return jpegSize(bytes).map { (.jpeg, $0.0, $0.1) }
        }
        return nil
    }

    /// Walks JPEG marker segments to the first start-of-frame (SOF0–SOF15 but DHT, JPG and DAC).
    static func jpegSize(_ b: [UInt8]) -> (Int, Int)? {
        var i = 2
        while i + 3 < b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }   // fill bytes
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }   // no length
            if marker == 0xD9 || marker == 0xDA { return nil }   // end of image or scan before any frame header
            let length = bigEndian(b, i + 2, 2)
            guard length >= 2 else { return nil }
            if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC {
                guard i + 9 <= b.count else { return nil }
                return (bigEndian(b, i + 7, 2), bigEndian(b, i + 5, 2))
            }
            i += 2 + length
        }
        return nil
    }

    static func bigEndian(_ b: [UInt8], _ at: Int, _ count: Int) -> Int {
        guard at >= 0, at + count <= b.count else { return 0 }
        return b[at..<(at + count)].reduce(0) { $0 << 8 | Int($1) }
    }
}

/// What ffprobe says about an uploaded media file.
public struct MediaProbe: Sendable, Equatable {
    /// ffprobe's container name (e.g. "mov,mp4,m4a,3gp,3g2,mj2", "wav").
    public var format: String
    public var duration: Double
    public var hasAudio: Bool
    public var hasVideo: Bool
    public var width: Int
    public var height: Int
    public var fps: Double

    /// Containers accepted: ffprobe's demuxer (the first name of its `format_name`), the muxer the upload is rewritten
    /// with, and the extension it is stored under (the stored name is the server's own).
    static let containers: [(demuxer: String, muxer: String, ext: String)] = [
        ("mov", "mov", "mp4"), ("matroska", "matroska", "mkv"), ("avi", "avi", "avi"), ("wav", "wav", "wav"), ("mp3", "mp3", "mp3"),
        ("ogg", "ogg", "ogg"), ("flac", "flac", "flac"), ("aac", "adts", "aac"), ("mpeg", "mpeg", "mpg"),
    ]

    /// The only demuxers ffprobe and ffmpeg may open an upload with: playlists and references (hls, concat, ...) are
    /// refused before anything they name is opened.
    static let demuxerWhitelist = containers.map { $0.demuxer }.joined(separator: ",")

    /// Options before `-i` whenever ffprobe or ffmpeg reads an upload: local files only, accepted demuxers only.
    static let inputRestrictions = ["-protocol_whitelist", "file", "-format_whitelist", demuxerWhitelist]

    private var container: (demuxer: String, muxer: String, ext: String)? {
        let demuxer = format.split(separator: ",").first.map(String.init) ?? ""
        return Self.containers.first { $0.demuxer == demuxer }
    }

    var fileExtension: String? { container?.ext }

    /// Runs ffprobe on `url` (bounded in time) and reads its JSON. Throws `UploadError` with a client message.
    static func probe(_ url: URL, timeout: Double = 20) throws -> MediaProbe {
        guard let ffprobe = locate("ffprobe") else { throw UploadError(.serverError, "ffprobe is not installed on the server") }
        let r = try runTool(ffprobe, ["-v", "error"] + inputRestrictions + ["-show_entries",
                                      "format=format_name,duration:stream=codec_type,width,height,avg_frame_rate,r_frame_rate,duration",
                                      "-of", "json", url.path], timeout: timeout)
        guard r.status == 0, let json = (try? JSONSerialization.jsonObject(with: r.output)) as? [String: Any] else {
            throw UploadError(.unsupportedMedia, "not a readable audio or video file")
        }
        let format = json["format"] as? [String: Any] ?? [:]
        let streams = json["streams"] as? [[String: Any]] ?? []
        let video = streams.first { $0["codec_type"] as? String == "video" }
        let durations = [format["duration"] as? String, video?["duration"] as? String].compactMap { $0.flatMap(Double.init) }
        let rate = [video?["avg_frame_rate"], video?["r_frame_rate"]].compactMap { parseRate($0 as? String) }.first ?? 0
        return MediaProbe(format: format["format_name"] as? String ?? "", duration: durations.first { $0.isFinite && $0 > 0 } ?? 0,
                          hasAudio: streams.contains { $0["codec_type"] as? String == "audio" }, hasVideo: video != nil,
                          width: video?["width"] as? Int ?? 0, height: video?["height"] as? Int ?? 0, fps: rate)
    }

    /// Rewrites an accepted upload with ffmpeg (stream copy, first video and first audio stream only) into a file of
    /// the server's own making: the job's ffmpeg runs (decoding, muxing the sound) then read what ffmpeg wrote, never
    /// the client's bytes, so nothing in them (a playlist, an external reference) can be followed later.
    func rewrite(_ upload: URL, to stored: URL, timeout: Double = 60) throws {
        guard let c = container else { throw UploadError(.unsupportedMedia, "container '\(format)' is not accepted") }
        guard let ffmpeg = locate("ffmpeg") else { throw UploadError(.serverError, "ffmpeg is not installed on the server") }
        let r = try runTool(ffmpeg, ["-v", "error", "-nostdin"] + Self.inputRestrictions + ["-f", c.demuxer, "-i", upload.path,
                                     "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy", "-map_chapters", "-1", "-f", c.muxer, "-y", stored.path],
                            timeout: timeout)
        guard r.status == 0 else {
            try? FileManager.default.removeItem(at: stored)
            throw UploadError(.unsupportedMedia, "not a readable audio or video file")
        }
    }

    static func parseRate(_ s: String?) -> Double? {
        guard let parts = s?.split(separator: "/"), parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]), n > 0, d > 0
        else { return nil }
        return n / d
    }
}

/// A refused upload or request: an HTTP status and a one-line message for the client.
public struct UploadError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        case badRequest, tooLarge, unsupportedMedia, unprocessable, timeout, serverError
    }
    public let kind: Kind
    public let description: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        description = message
    }
}

/// Checks every uploaded file by content and against the limits.
public struct UploadValidator: Sendable {
    public var limits: UploadLimits
    public init(limits: UploadLimits) { self.limits = limits }

    /// A PNG or JPEG whose header says it fits the limits; returns its file extension.
    public func checkImage(_ bytes: [UInt8], field: String) throws -> String {
        guard let info = ImageHeader.inspect(bytes) else {
            throw UploadError(.unsupportedMedia, "\(field): not a PNG or JPEG image")
        }
        guard info.width > 0, info.height > 0 else { throw UploadError(.unprocessable, "\(field): image header has a zero size") }
        guard info.width <= limits.maxImageSide, info.height <= limits.maxImageSide,
              info.width * info.height <= limits.maxImagePixels else {
            throw UploadError(.unprocessable, "\(field): image is \(info.width)x\(info.height), the limit is \(limits.maxImageSide) per side")
        }
        return info.kind == .png ? "png" : "jpg"
    }

    /// A video with a frame size and duration inside the limits (ffprobe on the stored file).
    public func checkVideo(at url: URL, field: String) throws -> (ext: String, probe: MediaProbe) {
        let p = try probeMedia(url, field: field)
        guard p.hasVideo, p.width > 0, p.height > 0 else { throw UploadError(.unsupportedMedia, "\(field): no video stream") }
        guard p.width <= limits.maxVideoSide, p.height <= limits.maxVideoSide else {
            throw UploadError(.unprocessable, "\(field): video is \(p.width)x\(p.height), the limit is \(limits.maxVideoSide) per side")
        }
        try checkDuration(p, field: field)
        return (p.fileExtension!, p)
    }

    /// Audio (or a video's sound track) inside the duration limit.
    public func checkAudio(at url: URL, field: String) throws -> (ext: String, probe: MediaProbe) {
        let p = try probeMedia(url, field: field)
        guard p.hasAudio else { throw UploadError(.unsupportedMedia, "\(field): no audio stream") }
        try checkDuration(p, field: field)
        return (p.fileExtension!, p)
    }

    private func probeMedia(_ url: URL, field: String) throws -> MediaProbe {
        let p: MediaProbe
        do { p = try MediaProbe.probe(url) } catch let e as UploadError { throw UploadError(e.kind, "\(field): \(e.description)") }
        guard p.fileExtension != nil else {
            throw UploadError(.unsupportedMedia, "\(field): container '\(p.format)' is not accepted (mp4/mov, webm/mkv, avi, wav, mp3, ogg, flac, aac, mpeg)")
        }
        return p
    }

    private func checkDuration(_ p: MediaProbe, field: String) throws {
        guard p.duration > 0 else { throw UploadError(.unprocessable, "\(field): the file has no duration") }
        guard p.duration <= limits.maxMediaSeconds else {
            throw UploadError(.unprocessable, "\(field): \(String(format: "%.1f", p.duration)) s long, the limit is \(Int(limits.maxMediaSeconds)) s")
        }
    }
}

// MARK: running tools

/// The absolute path of a tool on $PATH (or the usual system folders).
func locate(_ name: String) -> String? {
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
    return dirs.map { ($0 as NSString).appendingPathComponent(name) }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Runs a tool with a time limit (killed when it runs over), collecting stdout; stderr is discarded.
func runTool(_ path: String, _ arguments: [String], timeout: Double) throws -> (status: Int32, output: Data) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { throw UploadError(.serverError, "cannot start \(path): \(error.localizedDescription)") }
    let timer = DispatchWorkItem { if p.isRunning { p.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    timer.cancel()
    if p.terminationReason == .uncaughtSignal { throw UploadError(.timeout, "probing the file took longer than \(Int(timeout)) s") }
    return (p.terminationStatus, data)
}
