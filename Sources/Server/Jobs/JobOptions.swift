import Foundation

/// What drives the source portrait in a job.
public enum DriverKind: String, Codable, Sendable, CaseIterable {
    /// A driving picture (upload `driving`, or `driving_sample`): the result is one PNG.
    case image
    /// A driving video (upload `driving`, or `driving_sample`): an MP4 with the video's sound.
    case video
    /// Speech audio (upload `driving`) with the emotion prompt and intensity: an MP4 with the speech.
    case audio
    /// Text spoken by espeak-ng, then as `audio`.
    case text
}

/// The JSON `options` part of `POST /v1/jobs`. Unknown keys are refused, so a typo is not silently ignored.
public struct JobOptions: Codable, Sendable, Equatable {
    public var driver: DriverKind
    /// A sample portrait (`GET /v1/samples`) instead of an uploaded `source` file.
    public var sourceSample: String?
    /// A sample driving image or video instead of an uploaded `driving` file.
    public var drivingSample: String?
    /// What to say (driver `text`).
    public var text: String?
    /// The emotion prompt (speech drivers).
    public var emotion: String
    /// η in 1...3 (speech drivers).
    public var intensity: Double
    /// Head sway amplitude, 0...10 (speech drivers).
    public var headMotion: Double
    /// Sampling steps (nil: the model's default).
    public var steps: Int?
    public var seed: UInt64
    /// At most this many frames of a driving video.
    public var maxFrames: Int?
    /// Side of the output face crop in pixels.
    public var size: Int
    /// Whole picture with the face pasted back, or only the face crop.
    public var cropOnly: Bool

    public init(driver: DriverKind = .image, sourceSample: String? = nil, drivingSample: String? = nil, text: String? = nil,
                emotion: String = "neutral", intensity: Double = 1, headMotion: Double = 1, steps: Int? = nil, seed: UInt64 = 0,
                maxFrames: Int? = nil, size: Int = 256, cropOnly: Bool = false) {
        self.driver = driver
        self.sourceSample = sourceSample
        self.drivingSample = drivingSample
        self.text = text
        self.emotion = emotion
        self.intensity = intensity
        self.headMotion = headMotion
        self.steps = steps
        self.seed = seed
        self.maxFrames = maxFrames
        self.size = size
        self.cropOnly = cropOnly
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case driver, text, emotion, intensity, steps, seed, size
        case sourceSample = "source_sample", drivingSample = "driving_sample", headMotion = "head_motion", maxFrames = "max_frames"
        case cropOnly = "crop_only"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = JobOptions()
        driver = try c.decode(DriverKind.self, forKey: .driver)
        sourceSample = try c.decodeIfPresent(String.self, forKey: .sourceSample)
        drivingSample = try c.decodeIfPresent(String.self, forKey: .drivingSample)
        text = try c.decodeIfPresent(String.self, forKey: .text)
        emotion = try c.decodeIfPresent(String.self, forKey: .emotion) ?? d.emotion
        intensity = try c.decodeIfPresent(Double.self, forKey: .intensity) ?? d.intensity
        headMotion = try c.decodeIfPresent(Double.self, forKey: .headMotion) ?? d.headMotion
        steps = try c.decodeIfPresent(Int.self, forKey: .steps)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        maxFrames = try c.decodeIfPresent(Int.self, forKey: .maxFrames)
        size = try c.decodeIfPresent(Int.self, forKey: .size) ?? d.size
        cropOnly = try c.decodeIfPresent(Bool.self, forKey: .cropOnly) ?? d.cropOnly
    }

    /// Parses the options part: a JSON object with known keys only, each in its range.
    public static func parse(_ bytes: [UInt8], limits: UploadLimits) throws -> JobOptions {
        guard bytes.count <= 64 * 1024 else { throw UploadError(.tooLarge, "options: longer than 64 KiB") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw UploadError(.badRequest, "options: not a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw UploadError(.badRequest, "options: unknown key '\(unknown)'")
        }
        // No field is nullable (docs/openapi.yaml): an explicit null is refused rather than read as "absent".
        if let null = object.keys.sorted().first(where: { object[$0] is NSNull }) {
            throw UploadError(.badRequest, "options: '\(null)' must not be null")
        }
        let o: JobOptions
        do { o = try JSONDecoder().decode(JobOptions.self, from: Data(bytes)) } catch let DecodingError.keyNotFound(key, _) {
            throw UploadError(.badRequest, "options: '\(key.stringValue)' is required")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw UploadError(.badRequest, "options: '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw UploadError(.badRequest, "options: bad value for '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw UploadError(.badRequest, "options: \(error)")
        }
        try o.validate(limits: limits)
        return o
    }

    /// Range checks, with the CLI's wording.
    public func validate(limits: UploadLimits) throws {
        func bad(_ m: String) -> UploadError { UploadError(.unprocessable, m) }
        guard intensity.isFinite, (1...3).contains(intensity) else { throw bad("intensity must be in 1...3") }
        guard headMotion.isFinite, (0...10).contains(headMotion) else { throw bad("head_motion must be in 0...10") }
        if let steps, !(1...1000).contains(steps) { throw bad("steps must be in 1...1000") }
        if let maxFrames, maxFrames < 1 { throw bad("max_frames must be positive") }
        guard (16...1024).contains(size) else { throw bad("size must be in 16...1024") }
        // Lengths count Unicode code points, as the schema's minLength/maxLength do.
        guard !emotion.isEmpty, emotion.unicodeScalars.count <= 200 else { throw bad("emotion must be 1...200 characters") }
        guard !emotion.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw bad("emotion must not contain control characters")
        }
        if driver == .text {
            guard let t = text, !t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw bad("text is required for the text driver") }
            guard t.unicodeScalars.count <= limits.maxTextCharacters else { throw bad("text is longer than \(limits.maxTextCharacters) characters") }
        } else if text != nil {
            throw bad("text is only used by the text driver")
        }
        if drivingSample != nil, driver == .audio || driver == .text { throw bad("driving_sample is only used by the image and video drivers") }
    }
}
