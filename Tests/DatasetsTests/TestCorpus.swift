import Datasets
import FaceModel
import Foundation
import Media
import SyntheticFaces
import Torch
import XCTest

/// Tiny raw corpora in the layouts `tgdm dataset prepare` reads, made here: a 12-frame talking-head video of
/// a synthetic identity (96², 25 fps; rendered once per test run) with espeak-ng speech, plus clips that
/// must be skipped (no face, no audio, not a video).
enum TestCorpus {
    static let frameCount = 12
    static let size = 96
    nonisolated(unsafe) private static var cachedFrames: [RGBImage]?
    private static let lock = NSLock()

    static func faceFrames() throws -> [RGBImage] {
        lock.lock(); defer { lock.unlock() }
        if let f = cachedFrames { return f }
        let (r, person, motions) = try scene()
        let frames = try r.frames(identity: person, motions: motions)
        let images = try frames.map { try RGBImage(tensor: $0.image) }
        cachedFrames = images
        return images
    }

    private static func scene() throws -> (SyntheticFaceRenderer, SyntheticIdentity, [MotionSample]) {
        let model = try MorphableModel.loadDefault()
        let r = try SyntheticFaceRenderer(model: model, size: size)
        let person = try SyntheticIdentity.make(index: 0, seed: 5, model: model, anchors: r.anchors)
        return (r, person, MotionSample.sequence(frames: frameCount, seed: 5, model: model))
    }

    /// ρ the face video was rendered from, one 261-vector per frame (the camera of a `size`² frame).
    static func truthCoefficients() throws -> [[Float]] {
        let (r, person, motions) = try scene()
        return try motions.map { try r.coefficients(person, $0) }
    }

    /// Writes `frames` (default: the face video) as an MP4, with speech saying `text` unless nil.
    static func video(_ url: URL, text: String?, frames: [RGBImage]? = nil) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var audio: URL? = nil
        if let text {
            let wav = url.deletingPathExtension().appendingPathExtension("speech.wav")
            _ = try SpeechSynthesizer.synthesize(text, to: wav)
            audio = wav
        }
        let w = try VideoWriter(url: url, width: size, height: size, fps: 25, audio: audio, preset: "ultrafast")
        for f in try frames ?? faceFrames() { try w.write(f) }
        try w.finish()
        if let audio { try FileManager.default.removeItem(at: audio) }
    }

    static func speech(_ url: URL, text: String) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = try SpeechSynthesizer.synthesize(text, to: url)
    }

    static func grey() throws -> [RGBImage] { try (0..<frameCount).map { _ in try RGBImage(width: size, height: size, fill: (128, 128, 128)) } }

    /// A corpus folder in `layout`, and the number of clips that should yield segments.
    @discardableResult
    static func make(_ layout: CorpusLayout, in root: URL) throws -> Int {
        switch layout {
        case .voxceleb:
            try video(root.appendingPathComponent("dev/mp4/id00017/aBcDeF/00001.mp4"), text: "the quick brown fox")
            // Video without audio, with the audio in the aac mirror.
            try video(root.appendingPathComponent("dev/mp4/id00017/aBcDeF/00002.mp4"), text: nil)
            try speech(root.appendingPathComponent("dev/aac/id00017/aBcDeF/00002.m4a"), text: "jumps over the dog")
            return 2
        case .hdtf:
            try video(root.appendingPathComponent("WRA_TestSpeaker_000.mp4"), text: "good evening")
            return 1
        case .mead:
            try video(root.appendingPathComponent("M003/video/front/happy/level_3/001.mp4"), text: nil)
            try speech(root.appendingPathComponent("M003/audio/happy/level_3/001.m4a"), text: "what a lovely day")
            try video(root.appendingPathComponent("M003/video/front/sad/level_1/002.mp4"), text: "it is raining")
            try video(root.appendingPathComponent("M003/video/left_30/sad/level_1/002.mp4"), text: "ignored view")
            return 2
        case .folder:
            try video(root.appendingPathComponent("alice/hello.mp4"), text: "hello there")
            try Data(#"{"emotion": "angry", "intensity": 2}"#.utf8).write(to: root.appendingPathComponent("alice/hello.labels.json"))
            try video(root.appendingPathComponent("bob/silent.mp4"), text: nil)
            try video(root.appendingPathComponent("carol/empty_room.mp4"), text: "nobody here", frames: grey())
            try FileManager.default.createDirectory(at: root.appendingPathComponent("dave"), withIntermediateDirectories: true)
            try Data("not a video".utf8).write(to: root.appendingPathComponent("dave/broken.mp4"))
            return 1
        }
    }

    /// Fast settings: small crops, a short fit, small shards.
    static var config: PrepareConfig {
        var c = PrepareConfig()
        c.cropSize = 64
        c.fitSize = 32
        c.fitIterationsFirst = 4
        c.fitIterations = 1
        c.detectEvery = 3
        c.smoothingFrames = 3
        c.minSegmentFrames = 4
        c.clipsPerShard = 1
        return c
    }

    nonisolated(unsafe) private static var prepared: [CorpusLayout: (root: URL, out: URL, expected: Int, summary: PrepareSummary)] = [:]

    /// `layout`'s corpus prepared with `config` (once per test run; tests must not modify it).
    static func preparedCorpus(_ layout: CorpusLayout) throws -> (root: URL, out: URL, expected: Int, summary: PrepareSummary) {
        lock.lock()
        let cached = prepared[layout]
        lock.unlock()
        if let cached { return cached }
        let root = try temporaryDirectory("\(layout)-in"), out = try temporaryDirectory("\(layout)-out")
        lock.lock()
        if prepared.isEmpty { atexit { TestCorpus.removePrepared() } }
        lock.unlock()
        let expected = try make(layout, in: root)
        let summary = try CorpusPreparer(input: root, output: out, layout: layout, config: config, workers: 2).run()
        lock.lock(); prepared[layout] = (root, out, expected, summary); lock.unlock()
        return (root, out, expected, summary)
    }

    static func removePrepared() {
        for (_, p) in prepared { try? FileManager.default.removeItem(at: p.root); try? FileManager.default.removeItem(at: p.out) }
    }

    static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-datasets-\(name.filter(\.isLetter))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}
