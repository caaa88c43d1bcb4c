import Foundation

/// What ffprobe reports about a file's first video stream.
public struct VideoInfo: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Frames per second (the stream's average rate, else its nominal rate).
    public var fps: Double
    /// The number of frames: the container's count when it has one, else counted by demuxing.
    public var frameCount: Int
    /// Seconds (the stream's duration, else the container's, else frameCount / fps).
    public var duration: Double
    /// Whether the file also has an audio stream.
    public var hasAudio: Bool
}

public enum VideoProbe {
    /// Runs ffprobe on `url`. Throws `fileNotFound`, `unsupportedFormat` (not a media file),
    /// `noFrames` (no video stream or zero frames), `invalidDimensions` or `toolMissing`.
    public static func probe(_ url: URL) throws -> VideoInfo {
        guard FileManager.default.fileExists(atPath: url.path) else { throw MediaError.fileNotFound(url.path) }
        let r = try ExternalTool.run("ffprobe", ["-v", "error", "-show_entries",
                                                 "stream=codec_type,width,height,r_frame_rate,avg_frame_rate,nb_frames,duration:format=duration",
                                                 "-of", "json", url.path])
        guard r.status == 0 else {
            throw MediaError.unsupportedFormat("\(url.path) is not a readable media file: \(ExternalTool.tail(r.stderr))")
        }
        let json = (try? JSONSerialization.jsonObject(with: r.stdout)) as? [String: Any] ?? [:]
        let streams = json["streams"] as? [[String: Any]] ?? []
        let hasAudio = streams.contains { $0["codec_type"] as? String == "audio" }
        guard let video = streams.first(where: { $0["codec_type"] as? String == "video" }) else {
            throw MediaError.noFrames("\(url.path) has no video stream")
        }
        let width = video["width"] as? Int ?? 0
        let height = video["height"] as? Int ?? 0
        try MediaLimits.check(width: width, height: height, what: "video frame")
        let fps = [video["avg_frame_rate"], video["r_frame_rate"]].compactMap { parseRate($0 as? String) }.first ?? 0
        let streamDuration = Double(video["duration"] as? String ?? "")
        let formatDuration = Double((json["format"] as? [String: Any])?["duration"] as? String ?? "")
        var frames = Int(video["nb_frames"] as? String ?? "") ?? 0
        if frames <= 0 { frames = try countFrames(url) }
        guard frames > 0 else { throw MediaError.noFrames("\(url.path) has a video stream with no frames") }
        let duration = streamDuration ?? formatDuration ?? (fps > 0 ? Double(frames) / fps : 0)
        return VideoInfo(width: width, height: height, fps: fps > 0 ? fps : 25, frameCount: frames,
                         duration: duration, hasAudio: hasAudio)
    }

    /// Counts video packets by demuxing (no decoding) when the container has no frame count.
    static func countFrames(_ url: URL) throws -> Int {
        let r = try ExternalTool.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_packets",
                                                 "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", url.path])
        guard r.status == 0 else { throw MediaError.corruptData("cannot count frames of \(url.path): \(ExternalTool.tail(r.stderr))") }
        return Int(String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// "30000/1001" -> 29.97; nil for "0/0" or junk.
    static func parseRate(_ s: String?) -> Double? {
        guard let s else { return nil }
        let parts = s.split(separator: "/")
        if parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]), d > 0, n > 0 { return n / d }
        if parts.count == 1, let v = Double(parts[0]), v > 0 { return v }
        return nil
    }
}
