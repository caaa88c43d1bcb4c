import Foundation

/// Which face tracker a preparation uses.
public enum FaceTrackerKind: String, Codable, Sendable, CaseIterable {
    /// Viola-Jones on every `detectEvery`-th frame, interpolated (`HaarFaceTracker`).
    case haar
    /// MediaPipe BlazeFace + Face Mesh tracking on every frame (`MediaPipeFaceTracker`, FaceAnalysis).
    case mediapipe
}

/// Settings of `tgdm dataset prepare`. Stored in the plan and the manifest: a resumed run must use the same.
public struct PrepareConfig: Codable, Equatable, Sendable {
    public var tracker = FaceTrackerKind.haar
    /// Side of the stored face crops (paper Sec. 5.1: 256²).
    public var cropSize = 256
    /// Frame rate the videos are resampled to (the talking-face convention, and EmoA2E's MFCC alignment).
    public var fps = 25.0
    /// Audio sample rate of the stored audio and the MFCCs.
    public var sampleRate = 16000
    /// MFCC rows per video frame and coefficients per row (EmoA2E's defaults: 20 rows of 13).
    public var mfccRowsPerFrame = 20
    public var mfccCoefficients = 13
    /// FOMM-style framing: square side = enlarge × the face box's larger side.
    public var enlarge = 1.6
    /// Run the face detector on every n-th frame; the track is interpolated in between.
    public var detectEvery = 5
    /// Longest side of the frames the detector sees (larger videos are scaled down for detection only).
    public var detectionMaxSide = 480
    /// Frames over which face boxes are smoothed (centred moving average of centre and size).
    public var smoothingFrames = 9
    /// A track may bridge this many frames without a detection; longer gaps split it.
    public var maxGapFrames = 15
    /// Tracks shorter than this are dropped; longer ones are cut into segments of at most `maxSegmentFrames`.
    public var minSegmentFrames = 8
    public var maxSegmentFrames = 250
    /// ρ fitting: crop size, iterations on a track's first frame, and on each later frame (warm-started from
    /// the previous frame, identity and texture held).
    public var fitSize = 64
    public var fitIterationsFirst = 60
    public var fitIterations = 10
    /// Clips per shard (the unit of parallel work and of resuming).
    public var clipsPerShard = 16
    /// Skip clips without audio (EmoA2E needs it); false keeps them with empty audio and zero MFCCs.
    public var requireAudio = true

    public init() {}

    public func validate() throws {
        guard (16...1024).contains(cropSize) else { throw DatasetError("crop size \(cropSize) is outside 16...1024") }
        guard fps > 0, fps <= 120 else { throw DatasetError("fps \(fps) is outside (0, 120]") }
        guard (8000...48000).contains(sampleRate) else { throw DatasetError("sample rate \(sampleRate) is outside 8000...48000") }
        guard mfccRowsPerFrame >= 1, (1...40).contains(mfccCoefficients) else { throw DatasetError("bad MFCC shape \(mfccRowsPerFrame)×\(mfccCoefficients)") }
        guard enlarge > 0.5, enlarge <= 4 else { throw DatasetError("enlarge \(enlarge) is outside (0.5, 4]") }
        guard detectEvery >= 1, detectionMaxSide >= 64, smoothingFrames >= 1, maxGapFrames >= 0 else {
            throw DatasetError("detection settings must be positive")
        }
        guard minSegmentFrames >= 2, maxSegmentFrames >= minSegmentFrames, maxSegmentFrames <= 100_000 else {
            throw DatasetError("segment lengths must satisfy 2 ≤ min ≤ max ≤ 100000 frames")
        }
        guard (16...512).contains(fitSize), fitIterationsFirst >= 1, fitIterations >= 1 else { throw DatasetError("bad fitting settings") }
        guard (1...100_000).contains(clipsPerShard) else { throw DatasetError("clips per shard must be 1...100000") }
    }
}

/// One prepared segment (a face track of one video, at most `maxSegmentFrames` long): where its rows are.
public struct CorpusEntry: Codable, Equatable, Sendable {
    /// `<clip id>#<segment>`.
    public var id: String
    public var clip: String
    public var video: String
    public var speaker: String
    public var emotion: String?
    public var intensity: Int?
    /// Shard file name (under `shards/`).
    public var shard: String
    /// First row and number of rows (= frames) in the shard's per-frame tensors.
    public var row: Int
    public var frames: Int
    /// First sample and number of samples in the shard's `audio`.
    public var audioOffset: Int
    public var audioSamples: Int
    /// Index of the segment's first frame in the resampled video.
    public var firstFrame: Int
}

/// A clip that produced nothing, and why.
public struct SkippedClip: Codable, Equatable, Sendable {
    public var clip: String
    public var reason: String
}

/// What one shard holds (written next to it as `shard-NNNNN.json` once the shard is complete).
public struct ShardRecord: Codable, Equatable, Sendable {
    public static let format = "tgdm-corpus-shard-v1"
    public var format = ShardRecord.format
    public var shard: Int
    /// nil when every clip of the shard was skipped.
    public var file: String?
    public var bytes: Int
    public var entries: [CorpusEntry]
    public var skipped: [SkippedClip]
    public var seconds: Double
}

/// The clip list of each shard, fixed when a preparation starts (`plan.json`), so a resumed run does the same work.
public struct PreparePlan: Codable, Equatable, Sendable {
    public static let format = "tgdm-corpus-plan-v1"
    public var format = PreparePlan.format
    public var layout: CorpusLayout
    public var config: PrepareConfig
    public var shards: [[CorpusClip]]
}

/// `manifest.json` of a prepared corpus.
public struct CorpusManifest: Codable, Equatable, Sendable {
    public static let format = "tgdm-corpus-v1"
    public var format = CorpusManifest.format
    public var layout: CorpusLayout
    public var input: String
    public var config: PrepareConfig
    /// Coefficient count per frame and the MFCC clip shape.
    public var coefficients: Int
    public var shards: [ShardSummary]
    public var clips: Int
    public var entries: Int
    public var frames: Int
    public var skipped: [SkippedClip]
    public var created: String

    public struct ShardSummary: Codable, Equatable, Sendable {
        public var file: String
        public var entries: Int
        public var frames: Int
        public var bytes: Int
    }
}

/// `index.json`: every segment of the corpus, in plan order.
public struct CorpusIndex: Codable, Equatable, Sendable {
    public static let format = "tgdm-corpus-index-v1"
    public var format = CorpusIndex.format
    public var entries: [CorpusEntry]
}

enum CorpusFiles {
    static let manifest = "manifest.json"
    static let index = "index.json"
    static let plan = "plan.json"
    static let shards = "shards"
    static func shardName(_ k: Int) -> String { String(format: "shard-%05d", k) }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }
}
