import Foundation

/// How a raw corpus is laid out on disk, and what its paths say about each clip.
public enum CorpusLayout: String, Codable, Sendable, CaseIterable {
    /// VoxCeleb1/2: `[dev|test/][mp4/]idNNNNN/YOUTUBE_ID/00001.mp4`; audio from the video, else from the
    /// `aac/` mirror (`.../aac/idNNNNN/YOUTUBE_ID/00001.m4a`). Speaker = the `idNNNNN` folder.
    case voxceleb
    /// HDTF: a folder of videos named `WRA_SpeakerName_000.mp4`. Speaker = the name without the counter.
    case hdtf
    /// MEAD: `M003/video/front/angry/level_2/001.mp4` with audio in `M003/audio/angry/level_2/001.m4a`.
    /// Emotion and intensity (level 1-3) come from the path; only the `front` view is used.
    case mead
    /// Any videos under the folder. Speaker = the parent folder's name; labels from an optional
    /// `NAME.labels.json` next to the video: {"emotion": "happy", "intensity": 2}.
    case folder
}

/// One raw video of a corpus and what its layout says about it.
public struct CorpusClip: Codable, Equatable, Sendable {
    /// Path relative to the corpus root, without extension: unique and stable, used as the clip's id.
    public var id: String
    /// Path of the video relative to the corpus root.
    public var video: String
    /// Path of a separate audio file relative to the corpus root (nil: the video's own audio track).
    public var audio: String?
    public var speaker: String
    /// MEAD emotion name (neutral, angry, contempt, disgusted, fear, happy, sad, surprised), when labelled.
    public var emotion: String?
    /// MEAD intensity level 1...3, when labelled.
    public var intensity: Int?

    public init(id: String, video: String, audio: String? = nil, speaker: String, emotion: String? = nil, intensity: Int? = nil) {
        self.id = id; self.video = video; self.audio = audio; self.speaker = speaker; self.emotion = emotion; self.intensity = intensity
    }
}

public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "DatasetError: \(message)" }
}

/// Finds the clips of a corpus (sorted by id, so the plan of a preparation run is reproducible).
public enum CorpusScanner {
    public static let videoExtensions: Set<String> = ["mp4", "avi", "mkv", "mov", "webm", "m4v"]
    public static let meadEmotions: Set<String> = ["neutral", "angry", "contempt", "disgusted", "fear", "happy", "sad", "surprised"]

    public static func clips(in root: URL, layout: CorpusLayout) throws -> [CorpusClip] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError("corpus folder \(root.path) does not exist")
        }
        let videos = try files(under: root).filter { videoExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
        var clips: [CorpusClip] = []
        for path in videos {
            if let c = try clip(path, root: root, layout: layout) { clips.append(c) }
        }
        clips.sort { $0.id < $1.id }
        var seen = Set<String>()
        for c in clips where !seen.insert(c.id).inserted {
            throw DatasetError("two videos share the clip id '\(c.id)' (same name with different extensions?)")
        }
        return clips
    }

    /// Relative paths of every regular file under `root`, skipping hidden files and folders.
    static func files(under root: URL) throws -> [String] {
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                                     options: [.skipsHiddenFiles]) else {
            throw DatasetError("cannot list \(root.path)")
        }
        let base = root.standardizedFileURL.resolvingSymlinksInPath().path
        var out: [String] = []
        for case let url as URL in e {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let full = url.standardizedFileURL.resolvingSymlinksInPath().path
            guard full.hasPrefix(base + "/") else { continue }
            out.append(String(full.dropFirst(base.count + 1)))
        }
        return out.sorted()
    }

    static func clip(_ path: String, root: URL, layout: CorpusLayout) throws -> CorpusClip? {
        let parts = path.split(separator: "/").map(String.init)
        let id = (path as NSString).deletingPathExtension
        let stem = ((parts.last ?? path) as NSString).deletingPathExtension
        switch layout {
        case .voxceleb:
            guard let speaker = parts.dropLast().last(where: { $0.range(of: #"^id\d+$"#, options: .regularExpression) != nil }) else { return nil }
            var audio: String? = nil
            if let k = parts.lastIndex(of: "mp4") {
                var mirror = parts
                mirror[k] = "aac"
                mirror[mirror.count - 1] = stem + ".m4a"
                let candidate = mirror.joined(separator: "/")
                if FileManager.default.fileExists(atPath: root.appendingPathComponent(candidate).path) { audio = candidate }
            }
            return CorpusClip(id: id, video: path, audio: audio, speaker: speaker)
        case .hdtf:
            let speaker = stem.replacingOccurrences(of: #"_\d+$"#, with: "", options: .regularExpression)
            return CorpusClip(id: id, video: path, speaker: speaker)
        case .mead:
            // SPEAKER/video/VIEW/EMOTION/level_N/NNN.mp4
            guard parts.count >= 6, let v = parts.firstIndex(of: "video"), v >= 1, parts.count == v + 5 else { return nil }
            let speaker = parts[v - 1], view = parts[v + 1], emotion = parts[v + 2].lowercased(), level = parts[v + 3]
            guard view == "front", meadEmotions.contains(emotion),
                  level.hasPrefix("level_"), let n = Int(level.dropFirst(6)), (1...3).contains(n) else { return nil }
            var audioParts = Array(parts[..<v]) + ["audio", parts[v + 2], level]
            var audio: String? = nil
            for ext in ["m4a", "wav", "mp3", "aac"] {
                audioParts.append("\(stem).\(ext)")
                let candidate = audioParts.joined(separator: "/")
                audioParts.removeLast()
                if FileManager.default.fileExists(atPath: root.appendingPathComponent(candidate).path) { audio = candidate; break }
            }
            return CorpusClip(id: id, video: path, audio: audio, speaker: speaker, emotion: emotion, intensity: n)
        case .folder:
            let speaker = parts.count >= 2 ? parts[parts.count - 2] : stem
            var clip = CorpusClip(id: id, video: path, speaker: speaker)
            let labels = root.appendingPathComponent(id + ".labels.json")
            if FileManager.default.fileExists(atPath: labels.path) {
                struct Labels: Decodable { var emotion: String?; var intensity: Int? }
                let l: Labels
                do { l = try JSONDecoder().decode(Labels.self, from: Data(contentsOf: labels)) } catch {
                    throw DatasetError("\(id).labels.json is not {\"emotion\": ..., \"intensity\": ...}: \(error)")
                }
                if let e = l.emotion {
                    guard meadEmotions.contains(e.lowercased()) else {
                        throw DatasetError("\(id).labels.json: unknown emotion '\(e)' (\(meadEmotions.sorted().joined(separator: ", ")))")
                    }
                    clip.emotion = e.lowercased()
                }
                if let i = l.intensity {
                    guard (1...3).contains(i) else { throw DatasetError("\(id).labels.json: intensity \(i) is outside 1...3") }
                    clip.intensity = i
                }
            }
            return clip
        }
    }
}
