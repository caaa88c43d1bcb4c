import ArgumentParser
import FaceAnalysis
import FaceModel
import Foundation
import Torch
import Media

/// `tgdm analyze`: MediaPipe face detection, Face Mesh and iris on a photo or a video.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Find faces (box, 6 keypoints, 468 Face Mesh landmarks, irises) in an image or a video.",
        discussion: """
        Images: PNG or JPEG (EXIF orientation applied). Videos (.mp4, .mov, ...) are tracked frame to frame \
        from the previous landmarks, re-detecting when the face is lost. Several faces: the largest is \
        analysed unless --face-index picks another (0 = largest). Coordinates are pixels of the input.
        """)

    @Argument(help: "Image (PNG/JPEG) or video file.")
    var input: String

    @Option(name: .shortAndLong, help: "Result JSON.")
    var output: String = "analysis.json"

    @Option(help: "Overlay to draw: a .png/.jpg for an image, a .mp4 for a video.")
    var overlay: String?

    @Option(help: "Which face when there are several (0 = largest).")
    var faceIndex: Int = 0

    @Flag(help: "Skip the iris model.")
    var noIris = false

    @Option(help: "Also fit 3DMM coefficients ρ to the landmarks and write them here (.json or .safetensors; images: one frame, videos: one per frame).")
    var coeffs: String?

    @Flag(help: "With --coeffs on an image: skip the photometric refinement of texture and light.")
    var noPhotometric = false

    @OptionGroup var runtime: RuntimeOptions

    struct ImageResult: Encodable {
        var file: String
        var width: Int, height: Int
        var detections: [DetectedFace]
        var face: AnalyzedFace
    }

    struct VideoResult: Encodable {
        var file: String
        var width: Int, height: Int, fps: Double
        var frames: [AnalyzedFace?]
        var framesWithoutFace: [String]
    }

    func run() throws {
        try runReportingErrors {
            try runtime.apply()
            guard faceIndex >= 0 else { throw ValidationError("--face-index must be >= 0") }
            let url = URL(fileURLWithPath: input)
            guard FileManager.default.fileExists(atPath: url.path) else { throw ValidationError("no such file: \(input)") }
            let analyzer = try FaceAnalyzer(withIris: !noIris)
            let ext = url.pathExtension.lowercased()
            if ["png", "jpg", "jpeg"].contains(ext) { try analyzeImage(url, analyzer) } else { try analyzeVideo(url, analyzer) }
        }
    }

    private func write<T: Encodable>(_ value: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try writeAtomically(try enc.encode(value), to: outputURL(output))
    }

    private func analyzeImage(_ url: URL, _ analyzer: FaceAnalyzer) throws {
        let image = try RGBImage(contentsOf: url)
        if coeffs != nil { return try fitImage(url, image, analyzer) }
        let face = try analyzer.analyze(image: image, faceIndex: faceIndex, source: url.lastPathComponent)
        let detections = try analyzer.detect(image)
        try write(ImageResult(file: url.lastPathComponent, width: image.width, height: image.height, detections: detections, face: face))
        print(String(format: "%@: %d face(s); face %d: box %.0f,%.0f %.0fx%.0f, score %.3f, face flag %.3f -> %@",
                     url.lastPathComponent, detections.count, faceIndex, face.box.x, face.box.y, face.box.width, face.box.height,
                     face.score, face.faceFlag, output))
        if let overlay {
            try FaceOverlay.draw(face, on: image).write(to: outputURL(overlay))
            print("overlay: \(overlay)")
        }
    }

    /// Landmarks, ρ and an overlay of two panels: the mesh (green) with the fitted model's landmarks
    /// (magenta), and the fitted render pasted over the face.
    private func fitImage(_ url: URL, _ image: RGBImage, _ analyzer: FaceAnalyzer) throws {
        let renderer = try FaceRenderer.makeDefault()
        let corr = try MeshCorrespondence.loadDefault(for: renderer.model)
        let estimator = CoefficientEstimator(analyzer: analyzer, fitter: try LandmarkFitter(renderer: renderer, correspondence: corr))
        let e = try estimator.estimate(image: image, faceIndex: faceIndex, source: url.lastPathComponent, photometric: !noPhotometric)
        try e.coefficients.save(to: outputURL(coeffs!))
        let detections = try analyzer.detect(image)
        try write(ImageResult(file: url.lastPathComponent, width: image.width, height: image.height, detections: detections, face: e.face))
        print(String(format: "%@: face %d fitted, landmark reprojection error %.2f px at %d² -> %@, %@",
                     url.lastPathComponent, faceIndex, e.reprojectionError, estimator.cropSize, output, coeffs!))
        if let overlay {
            let marks = FaceOverlay.draw(e.face, on: image, extraPoints: e.projected)
            let render = try Torch.noGrad { try renderer.render(e.coefficients, width: estimator.cropSize, height: estimator.cropSize) }
            let mask = try render.mask.contiguous().floats()
            let pasted = try FaceCropper.pasteBack(try RGBImage(tensor: render.image.select(0, 0)), into: image, transform: e.transform,
                                                   feather: 0, mask: mask)
            var panel = try RGBImage(width: image.width * 2, height: image.height)
            panel.blit(marks, x: 0, y: 0)
            panel.blit(pasted, x: image.width, y: 0)
            try panel.write(to: outputURL(overlay))
            print("overlay: \(overlay)")
        }
    }

    private func analyzeVideo(_ url: URL, _ analyzer: FaceAnalyzer) throws {
        if coeffs != nil { return try fitVideo(url, analyzer) }
        let reader = try VideoReader(url: url)
        defer { reader.close() }
        let tracker = FaceTracker(analyzer: analyzer, faceIndex: faceIndex)
        var writer: VideoWriter?
        if let overlay {
            guard overlay.lowercased().hasSuffix(".mp4") else { throw ValidationError("a video overlay must be an .mp4 file") }
            writer = try VideoWriter(url: outputURL(overlay), width: reader.frameWidth, height: reader.frameHeight, fps: reader.info.fps)
        }
        var frames: [AnalyzedFace?] = []
        try reader.forEachFrame { _, frame in
            let r = try tracker.track(frame)
            frames.append(r)
            try writer?.write(r.map { FaceOverlay.draw($0, on: frame) } ?? frame)
            return true
        }
        try writer?.finish()
        let missing = AnalyzeCommand.ranges(frames.enumerated().filter { $0.element == nil }.map(\.offset))
        guard frames.contains(where: { $0 != nil }) else {
            throw FaceAnalysisError.noFace("no face found in \(url.lastPathComponent) (frames 0-\(max(0, frames.count - 1)))")
        }
        try write(VideoResult(file: url.lastPathComponent, width: reader.frameWidth, height: reader.frameHeight, fps: reader.info.fps,
                              frames: frames, framesWithoutFace: missing))
        print("\(url.lastPathComponent): \(frames.count) frames, face in \(frames.count - frames.filter { $0 == nil }.count), detector ran on \(tracker.detections) -> \(output)")
        if !missing.isEmpty { print("no face in frames \(missing.joined(separator: ", "))") }
        if let overlay { print("overlay: \(overlay)") }
    }

    /// ρ per frame of a video (tracked, warm-started, smoothed); frames without a face repeat the last fit.
    private func fitVideo(_ url: URL, _ analyzer: FaceAnalyzer) throws {
        let reader = try VideoReader(url: url)
        defer { reader.close() }
        var frames: [RGBImage] = []
        try reader.forEachFrame { _, f in frames.append(f); return true }
        let renderer = try FaceRenderer.makeDefault()
        let corr = try MeshCorrespondence.loadDefault(for: renderer.model)
        let estimator = CoefficientEstimator(analyzer: analyzer, fitter: try LandmarkFitter(renderer: renderer, correspondence: corr))
        let estimates = try estimator.estimateSequence(frames: frames, faceIndex: faceIndex)
        guard let first = estimates.firstIndex(where: { $0 != nil }) else {
            throw FaceAnalysisError.noFace("no face found in \(url.lastPathComponent) (frames 0-\(max(0, frames.count - 1)))")
        }
        // Frames before the first face take its estimate, so the file has one row per frame.
        let rows = estimates.map { ($0 ?? estimates[first]!).coefficients }
        try Coefficients.concatenate(rows).save(to: outputURL(coeffs!))
        try write(VideoResult(file: url.lastPathComponent, width: reader.frameWidth, height: reader.frameHeight, fps: reader.info.fps,
                              frames: estimates.map { $0?.face }, framesWithoutFace: []))
        let err = estimates.compactMap { $0?.reprojectionError }
        print(String(format: "%@: %d frames fitted, mean landmark reprojection error %.2f px -> %@, %@", url.lastPathComponent, frames.count,
                     err.reduce(0, +) / Double(max(1, err.count)), output, coeffs!))
        if let overlay {
            guard overlay.lowercased().hasSuffix(".mp4") else { throw ValidationError("a video overlay must be an .mp4 file") }
            let writer = try VideoWriter(url: outputURL(overlay), width: reader.frameWidth, height: reader.frameHeight, fps: reader.info.fps)
            for (f, e) in zip(frames, estimates) {
                try writer.write(e.map { FaceOverlay.draw($0.face, on: f, extraPoints: $0.projected) } ?? f)
            }
            try writer.finish()
            print("overlay: \(overlay)")
        }
    }

    /// [1, 2, 3, 7] -> ["1-3", "7"].
    static func ranges(_ idx: [Int]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < idx.count {
            var j = i
            while j + 1 < idx.count && idx[j + 1] == idx[j] + 1 { j += 1 }
            out.append(i == j ? "\(idx[i])" : "\(idx[i])-\(idx[j])")
            i = j + 1
        }
        return out
    }
}

/// `tgdm derive-correspondence`: rebuilds Models/face/facemesh_correspondence.json (a developer tool;
/// scripts/analysis/derive_mesh_correspondence.sh runs it).
struct DeriveCorrespondenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "derive-correspondence",
        abstract: "Derive where the 468 Face Mesh points lie on the morphable model (renders analysed by Face Mesh).")

    @Option(name: .shortAndLong, help: "Output JSON.")
    var output: String = "Models/face/facemesh_correspondence.json"

    @Option(help: "Number of renders.")
    var renders: Int = 40

    @Option(help: "Random seed of the render parameters.")
    var seed: UInt64 = 7

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            var o = MeshCorrespondenceBuilder.Options()
            o.renders = renders
            o.seed = seed
            let c = try MeshCorrespondenceBuilder.derive(renderer: FaceRenderer.makeDefault(), analyzer: FaceAnalyzer(withIris: false),
                                                         options: o, log: { print($0) })
            try c.save(to: outputURL(output))
            print("wrote \(output)")
        }
    }
}
