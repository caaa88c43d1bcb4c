import ArgumentParser
import FaceAnalysis
import Foundation

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
            runtime.apply()
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

    private func analyzeVideo(_ url: URL, _ analyzer: FaceAnalyzer) throws {
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
