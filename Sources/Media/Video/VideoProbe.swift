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
        var info = try parse(ffprobeJSON: r.stdout, path: url.path)
        if info.frameCount <= 0 { info.frameCount = try countFrames(url) }
        guard info.frameCount > 0 else { throw MediaError.noFrames("\(url.path) has a video stream with no frames") }
        if info.duration <= 0 { info.duration = Double(info.frameCount) / info.fps }
        return info
    }

    /// Reads ffprobe's JSON (`-show_entries stream=…:format=duration -of json`). Separate from `probe` so the
    /// parser can be tested and fuzzed without ffprobe. The result always has a size within `MediaLimits`, an
    /// fps in (0, 1000] (25 when the file states none or an absurd one) and a finite duration ≥ 0;
    /// `frameCount` and `duration` are 0 when the file does not state them.
    static func parse(ffprobeJSON data: Data, path: String) throws -> VideoInfo {
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let streams = json["streams"] as? [[String: Any]] ?? []
        let hasAudio = streams.contains { $0["codec_type"] as? String == "audio" }
        guard let video = streams.first(where: { $0["codec_type"] as? String == "video" }) else {
            throw MediaError.noFrames("\(path) has no video stream")
        }
        let width = video["width"] as? Int ?? 0
        let height = video["height"] as? Int ?? 0
        try MediaLimits.check(width: width, height: height, what: "video frame")
        let fps = [video["avg_frame_rate"], video["r_frame_rate"]].compactMap { parseRate($0 as? String) }.first ?? 25
        let durations = [video["duration"], (json["format"] as? [String: Any])?["duration"]].compactMap { parseSeconds($0 as? String) }
        let frames = Int(video["nb_frames"] as? String ?? "") ?? 0
        return VideoInfo(width: width, height: height, fps: fps, frameCount: max(0, frames), duration: durations.first ?? 0,
                         hasAudio: hasAudio)
    }

    /// Counts video packets by demuxing (no decoding) when the container has no frame count.
    static func countFrames(_ url: URL) throws -> Int {
        let r = try ExternalTool.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_packets",
                                                 "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", url.path])
        guard r.status == 0 else { throw MediaError.corruptData("cannot count frames of \(url.path): \(ExternalTool.tail(r.stderr))") }
        return parseCount(r.stdout)
    }

    /// ffprobe's `csv=p=0` packet count; 0 for junk or a negative number.
    static func parseCount(_ output: Data) -> Int {
        max(0, Int(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
    }

    /// "30000/1001" -> 29.97; nil for "0/0", junk, or a rate outside (0, 1000] fps.
    static func parseRate(_ s: String?) -> Double? {
        guard let s else { return nil }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        var rate: Double? = nil
        if parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]), d > 0, n > 0 { rate = n / d }
        if parts.count == 1, let v = Double(parts[0]), v > 0 { rate = v }
        guard let r = rate, r.isFinite, r > 0, r <= 1000 else { return nil }
        return r
    }

    /// A duration in seconds: finite, ≥ 0 and under ten years; nil otherwise ("N/A", "nan", "inf", "-3").
    static func parseSeconds(_ s: String?) -> Double? {
        guard let s, let v = Double(s), v.isFinite, v >= 0, v < 3.2e8 else { return nil }
        return v
    }
}
