import FaceModel
import Foundation

/// A `POST /v1/jobs` body taken apart: the options and the uploaded files, checked by content and stored under the
/// job's `inputs/` folder with names the server chooses.
struct JobSubmission {
    static let fields: Set<String> = ["options", "source", "source_coeffs", "driving", "driving_coeffs"]

    let options: JobOptions
    let parts: [String: MultipartPart]

    /// Picks the known fields out of the parts: `options` once, each file at most once, nothing else.
    init(parts list: [MultipartPart], limits: UploadLimits) throws {
        var parts: [String: MultipartPart] = [:]
        for p in list {
            guard Self.fields.contains(p.name) else {
                throw UploadError(.badRequest, "unknown field '\(Self.printable(p.name))' (expected \(Self.fields.sorted().joined(separator: ", ")))")
            }
            guard parts[p.name] == nil else { throw UploadError(.badRequest, "field '\(p.name)' given twice") }
            parts[p.name] = p
        }
        guard let o = parts["options"] else { throw UploadError(.badRequest, "the 'options' field (JSON) is required") }
        options = try JobOptions.parse(o.body, limits: limits)
        self.parts = parts
    }

    /// Writes and checks every input; returns what each input was, for display. Blocking (ffprobe), so it runs
    /// off the event loops. Throws `UploadError` (4xx) for anything wrong with the inputs.
    func store(in dir: URL, samples: SampleLibrary, validator: UploadValidator) throws -> [String: String] {
        var shown: [String: String] = [:]
        let o = options
        // Source portrait: a sample or an uploaded picture.
        if let name = o.sourceSample {
            guard parts["source"] == nil else { throw UploadError(.badRequest, "give either a source file or source_sample, not both") }
            guard parts["source_coeffs"] == nil else { throw UploadError(.badRequest, "source_coeffs goes with an uploaded source") }
            guard let s = samples.sample(named: name), s.kind == .image else {
                throw UploadError(.unprocessable, "source_sample: no sample picture named '\(Self.printable(name))'")
            }
            shown["source"] = "sample \(s.name)"
        } else {
            guard let p = parts["source"] else { throw UploadError(.badRequest, "a source portrait is required (field 'source' or source_sample)") }
            let ext = try validator.checkImage(p.body, field: "source")
            try write(p.body, to: dir.appendingPathComponent("source.\(ext)"))
            shown["source"] = "upload \(Self.printable(p.filename ?? "source.\(ext)"))"
            if let c = parts["source_coeffs"] { try storeCoefficients(c, role: "source", in: dir, limits: validator.limits) }
        }
        // The driver.
        switch o.driver {
        case .image, .video:
            let kind: SampleLibrary.Sample.Kind = o.driver == .image ? .image : .video
            if let name = o.drivingSample {
                guard parts["driving"] == nil else { throw UploadError(.badRequest, "give either a driving file or driving_sample, not both") }
                guard parts["driving_coeffs"] == nil else { throw UploadError(.badRequest, "driving_coeffs goes with an uploaded driving file") }
                guard let s = samples.sample(named: name), s.kind == kind else {
                    throw UploadError(.unprocessable, "driving_sample: no sample \(kind.rawValue) named '\(Self.printable(name))'")
                }
                shown["driving"] = "sample \(s.name)"
            } else {
                guard let p = parts["driving"] else {
                    throw UploadError(.badRequest, "the \(o.driver.rawValue) driver needs a driving file (field 'driving') or driving_sample")
                }
                if o.driver == .image {
                    let ext = try validator.checkImage(p.body, field: "driving")
                    try write(p.body, to: dir.appendingPathComponent("driving.\(ext)"))
                } else {
                    let probe = dir.appendingPathComponent("driving.upload")
                    try write(p.body, to: probe)
                    let (ext, info) = try validator.checkVideo(at: probe, field: "driving")
                    try rewrite(probe, info, to: dir.appendingPathComponent("driving.\(ext)"))
                }
                shown["driving"] = "upload \(Self.printable(p.filename ?? "driving"))"
                if let c = parts["driving_coeffs"] { try storeCoefficients(c, role: "driving", in: dir, limits: validator.limits) }
            }
        case .audio:
            guard o.drivingSample == nil else { throw UploadError(.badRequest, "the audio driver takes an uploaded file") }
            guard let p = parts["driving"] else { throw UploadError(.badRequest, "the audio driver needs a speech file (field 'driving')") }
            guard parts["driving_coeffs"] == nil else { throw UploadError(.badRequest, "driving_coeffs is only used by image and video drivers") }
            let probe = dir.appendingPathComponent("driving.upload")
            try write(p.body, to: probe)
            let (ext, info) = try validator.checkAudio(at: probe, field: "driving")
            try rewrite(probe, info, to: dir.appendingPathComponent("driving.\(ext)"))
            shown["driving"] = "upload \(Self.printable(p.filename ?? "speech"))"
        case .text:
            guard parts["driving"] == nil, parts["driving_coeffs"] == nil else {
                throw UploadError(.badRequest, "the text driver takes no driving file")
            }
            shown["driving"] = "text"
        }
        return shown
    }

    /// A coefficients JSON (as written by `tgdm a2e` or a sidecar): stored as `<role>.coeffs.json` next to the input,
    /// where the pipeline looks for a sidecar. It must load as coefficients.
    private func storeCoefficients(_ p: MultipartPart, role: String, in dir: URL, limits: UploadLimits) throws {
        guard p.body.count <= limits.maxCoefficientBytes else {
            throw UploadError(.tooLarge, "\(role)_coeffs: larger than \(limits.maxCoefficientBytes >> 20) MiB")
        }
        guard p.body.first.map({ $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "[") }) ?? false else {
            throw UploadError(.unsupportedMedia, "\(role)_coeffs: not a JSON coefficients file")
        }
        let url = dir.appendingPathComponent("\(role).coeffs.json")
        try write(p.body, to: url)
        do { _ = try Coefficients.load(from: url) } catch {
            throw UploadError(.unprocessable, "\(role)_coeffs: \("\(error)".replacingOccurrences(of: dir.path + "/", with: ""))")
        }
    }

    private func write(_ bytes: [UInt8], to url: URL) throws {
        do { try Data(bytes).write(to: url) } catch { throw UploadError(.serverError, "cannot store the upload") }
    }

    /// The checked upload rewritten by ffmpeg (`MediaProbe.rewrite`); the client's bytes are then removed.
    private func rewrite(_ upload: URL, _ probe: MediaProbe, to stored: URL) throws {
        defer { try? FileManager.default.removeItem(at: upload) }
        do { try probe.rewrite(upload, to: stored) } catch let e as UploadError { throw UploadError(e.kind, "driving: \(e.description)") }
    }

    /// A client-sent string made safe to show: printable characters only, at most 80 of them.
    static func printable(_ s: String) -> String {
        String(s.unicodeScalars.filter { !$0.properties.generalCategory.isControlLike }.prefix(80).map(Character.init))
    }
}

private extension Unicode.GeneralCategory {
    var isControlLike: Bool { self == .control || self == .format || self == .lineSeparator || self == .paragraphSeparator }
}
