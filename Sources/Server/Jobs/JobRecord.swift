import Foundation

/// A job id: 128 random bits as 32 lowercase hex digits. Ids from requests are parsed into this type and looked up;
/// they are never used to build a path.
public struct JobID: Hashable, Codable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init?(_ s: some StringProtocol) {
        guard s.utf8.count == 32, s.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        rawValue = String(s)
    }

    public static func random() -> JobID {
        var g = SystemRandomNumberGenerator()
        let words = [g.next(), g.next()] as [UInt64]
        return JobID(words.map { String(format: "%016llx", $0) }.joined())!
    }

    public var description: String { rawValue }
    public static func < (a: JobID, b: JobID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = JobID(s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad job id")) }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled
    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// How far a running job is.
public struct JobProgress: Codable, Sendable, Equatable {
    /// "analyzing source portrait", "denoising", "writing", ...
    public var stage: String
    public var framesDone: Int
    public var framesTotal: Int
    /// Denoising step of the current chunk of frames.
    public var step: Int
    public var steps: Int
    /// 0...1 over the generation (analysis counts as 0).
    public var fraction: Double
    /// Seconds left, estimated from the rate so far (nil until a first step finished).
    public var etaSeconds: Double?

    public init(stage: String, framesDone: Int = 0, framesTotal: Int = 0, step: Int = 0, steps: Int = 0, fraction: Double = 0,
                etaSeconds: Double? = nil) {
        self.stage = stage
        self.framesDone = framesDone
        self.framesTotal = framesTotal
        self.step = step
        self.steps = steps
        self.fraction = fraction
        self.etaSeconds = etaSeconds
    }

    enum CodingKeys: String, CodingKey {
        case stage, step, steps, fraction
        case framesDone = "frames_done", framesTotal = "frames_total", etaSeconds = "eta_seconds"
    }
}

/// The finished output of a job.
public struct JobResult: Codable, Sendable, Equatable {
    /// The stored file's name inside the job folder ("result.png" or "result.mp4"), chosen by the server.
    public var file: String
    public var mediaType: String
    public var bytes: Int
    public var frames: Int
    public var hasThumbnail: Bool

    enum CodingKeys: String, CodingKey {
        case file, bytes, frames
        case mediaType = "media_type", hasThumbnail = "has_thumbnail"
    }
}

/// Everything known about one job; persisted as `jobs/<id>/job.json` and returned by the API.
public struct JobRecord: Codable, Sendable, Equatable {
    public var id: JobID
    public var state: JobState
    public var options: JobOptions
    /// What the inputs were, for display ("upload photo.jpg", "sample source").
    public var inputs: [String: String]
    public var created: Date
    public var started: Date?
    public var finished: Date?
    public var progress: JobProgress?
    /// The CLI's one-line message when the job failed.
    public var error: String?
    public var cancelRequested: Bool
    public var result: JobResult?

    public init(id: JobID, options: JobOptions, inputs: [String: String], created: Date = Date()) {
        self.id = id
        state = .queued
        self.options = options
        self.inputs = inputs
        self.created = created
        cancelRequested = false
    }

    enum CodingKeys: String, CodingKey {
        case id, state, options, inputs, created, started, finished, progress, error, result
        case cancelRequested = "cancel_requested"
    }
}

/// The JSON of the API and of the store: ISO 8601 dates, sorted keys.
enum JSONCoding {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}
