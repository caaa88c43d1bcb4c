import FaceModel
import Foundation
import Media

/// Folders and videos as `EvaluationFrame` streams.
extension PairedEvaluator {
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The images of a folder by base name (extension dropped), sorted by name.
    public static func images(in folder: URL) throws -> [(name: String, url: URL)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw EvaluationError.invalidInput("no such folder: \(folder.path)")
        }
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { imageExtensions.contains($0.pathExtension.lowercased()) }
        return files.map { ($0.deletingPathExtension().lastPathComponent, $0) }.sorted { $0.name < $1.name }
    }

    /// ρ̂ stored next to an image or video as `NAME.coeffs.json` (the pipeline's sidecar convention), if any.
    public static func sidecarCoefficients(of url: URL) throws -> Coefficients? {
        let sidecar = url.deletingPathExtension().appendingPathExtension("coeffs.json")
        guard FileManager.default.fileExists(atPath: sidecar.path) else { return nil }
        return try Coefficients.load(from: sidecar)
    }

    /// `url` when it is a folder: the image named `name` in it; when it is a file: the file itself.
    static func counterpart(_ url: URL?, name: String, folderImages: [String: URL]?) -> URL? {
        guard let url else { return nil }
        if let folderImages { return folderImages[name] }
        return url
    }

    static func isFolder(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Scores the images of `generated` against the images of the same name in `reference`; `source` is a folder
    /// (same names) or one image for all. ρ̂ comes from `NAME.coeffs.json` next to each generated image.
    public func evaluateFolders(generated: URL, reference: URL?, source: URL?,
                                progress: ((String) -> Void)? = nil) throws -> PairedEvaluationReport {
        let gen = try Self.images(in: generated)
        guard !gen.isEmpty else { throw EvaluationError.invalidInput("no PNG/JPEG images in \(generated.path)") }
        guard reference != nil || source != nil || gen.contains(where: { (try? Self.sidecarCoefficients(of: $0.url)) != nil }) else {
            throw EvaluationError.invalidInput("give --reference, --source or NAME.coeffs.json sidecars: there is nothing to compare the images with")
        }
        let refImages = try reference.map { Dictionary(try Self.images(in: $0).map { ($0.name, $0.url) }, uniquingKeysWith: { a, _ in a }) }
        var srcImages: [String: URL]? = nil
        if let source {
            if Self.isFolder(source) {
                srcImages = Dictionary(try Self.images(in: source).map { ($0.name, $0.url) }, uniquingKeysWith: { a, _ in a })
            } else {
                guard FileManager.default.fileExists(atPath: source.path) else { throw EvaluationError.invalidInput("no such file: \(source.path)") }
            }
        }
        var skipped: [String] = []
        var queue: [(name: String, url: URL, reference: URL?, source: URL?)] = []
        for (name, url) in gen {
            let r = Self.counterpart(reference, name: name, folderImages: refImages)
            let s = Self.counterpart(source, name: name, folderImages: srcImages)
            if reference != nil && r == nil { skipped.append("\(name): no reference image of that name"); continue }
            if source != nil && s == nil { skipped.append("\(name): no source image of that name"); continue }
            queue.append((name, url, r, s))
        }
        var k = 0
        var inputs = ["generated": generated.path]
        inputs["reference"] = reference?.path
        inputs["source"] = source?.path
        return try evaluate(kind: "folder", inputs: inputs, skipped: skipped, next: {
            guard k < queue.count else { return nil }
            let item = queue[k]
            k += 1
            let rho = try Self.sidecarCoefficients(of: item.url).map { try $0.frame(0).tensor.squeeze(0).floats() }
            return EvaluationFrame(name: item.name, generated: try Self.load(item.url), reference: try item.reference.map(Self.load),
                                   source: try item.source.map(Self.load), sourceKey: item.source?.path, coefficients: rho)
        }, progress: progress)
    }

    /// Scores a generated video frame by frame against a reference video (paired by frame index, up to the
    /// shorter one), a source image, ρ̂ (`coefficients`, else `NAME.coeffs.json` next to the video; row i for
    /// frame i) and the audio (`audio`, else the generated video's own track) for the lip-sync proxy.
    public func evaluateVideos(generated: URL, reference: URL?, source: URL?, audio: URL? = nil, coefficients: URL? = nil,
                               maxFrames: Int? = nil, progress: ((String) -> Void)? = nil) throws -> PairedEvaluationReport {
        if let maxFrames, maxFrames < 1 { throw EvaluationError.invalidInput("max frames must be ≥ 1") }
        let genReader = try VideoReader(url: generated)
        let refReader = try reference.map { try VideoReader(url: $0) }
        let sourceImage = try source.map(Self.load)
        let rho = try coefficients.map { try Coefficients.load(from: $0) } ?? Self.sidecarCoefficients(of: generated)
        let rows = try rho.map { c in try (0..<c.batch).map { try c.frame($0).tensor.squeeze(0).floats() } }
        var audioURL = audio
        if audioURL == nil, genReader.info.hasAudio { audioURL = generated }
        var skipped: [String] = []
        let wanted = maxFrames ?? Int.max
        if let refReader, refReader.info.frameCount != genReader.info.frameCount,
           Swift.min(refReader.info.frameCount, genReader.info.frameCount) < wanted {
            skipped.append("frame counts differ (generated \(genReader.info.frameCount), reference \(refReader.info.frameCount)): paired up to the shorter")
        }
        if let rows, rows.count < Swift.min(genReader.info.frameCount, wanted) {
            skipped.append("ρ̂ has \(rows.count) rows for \(genReader.info.frameCount) frames: later frames have no ρ̂")
        }
        var index = 0
        var inputs = ["generated": generated.path]
        inputs["reference"] = reference?.path
        inputs["source"] = source?.path
        inputs["audio"] = audioURL?.path
        inputs["coefficients"] = coefficients?.path ?? (rho != nil ? "sidecar" : nil)
        defer { genReader.close(); refReader?.close() }
        return try evaluate(kind: "video", inputs: inputs, video: VideoContext(fps: genReader.info.fps, audio: audioURL), skipped: skipped, next: {
            if let maxFrames, index >= maxFrames { return nil }
            guard let g = try genReader.nextFrame() else { return nil }
            var r: RGBImage? = nil
            if let refReader {
                guard let frame = try refReader.nextFrame() else { return nil }
                r = frame
            }
            defer { index += 1 }
            return EvaluationFrame(name: String(format: "frame %05d", index), generated: g, reference: r, source: sourceImage,
                                   sourceKey: source?.path, coefficients: rows.flatMap { index < $0.count ? $0[index] : nil })
        }, progress: progress)
    }

    static func load(_ url: URL) throws -> RGBImage {
        do { return try RGBImage(contentsOf: url) } catch { throw EvaluationError.invalidInput("cannot read \(url.path): \(error)") }
    }
}
