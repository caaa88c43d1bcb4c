import FaceAnalysis
import Torch
import Foundation
import Media

/// Timings of the MediaPipe port (build with `-c release` for meaningful numbers) and a comparison of
/// BlazeFace with the Haar cascade (`Media.FaceDetector`) on real photos: found / not found and box
/// agreement (IoU of the best-matching boxes; the two detectors frame faces differently, so IoU ≈ 0.5 to
/// 0.7 means the same face).
public enum AnalysisBenchmark {
    public struct ImageRow: Sendable {
        public var name: String
        public var width: Int, height: Int
        public var detectSeconds: Double, meshSeconds: Double, irisSeconds: Double, analyzeSeconds: Double
        public var blazeFaces: Int, haarFaces: Int
        public var haarSeconds: Double
        /// IoU of the largest BlazeFace box with the best Haar box (nil when either found nothing).
        public var iou: Double?
    }

    /// Median wall time of `body` over `repeats` runs.
    static func time(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        var t: [Double] = []
        for _ in 0..<max(1, repeats) {
            let s = DispatchTime.now().uptimeNanoseconds
            try body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9)
        }
        return t.sorted()[t.count / 2]
    }

    public static func measureImages(_ images: [(String, RGBImage)], analyzer: FaceAnalyzer, repeats: Int = 5) throws -> [ImageRow] {
        let haar = try FaceDetector()
        var rows: [ImageRow] = []
        for (name, image) in images {
            var faces: [DetectedFace] = []
            let td = try time(repeats) { faces = try analyzer.detect(image) }
            var tm = 0.0, ti = 0.0, ta = 0.0
            if let face = faces.first {
                var mesh: FaceMeshResult?
                tm = try time(repeats) { mesh = try analyzer.mesh.landmarks(in: image, roi: FaceMeshLandmarker.roi(for: face)) }
                if let iris = analyzer.iris, let m = mesh { ti = try time(repeats) { _ = try iris.irises(in: image, landmarks: m.landmarks) } }
                ta = try time(repeats) { _ = try? analyzer.analyze(image: image) }
            }
            var haarFaces: [Media.FaceDetection] = []
            let th = try time(max(1, repeats / 2)) { haarFaces = try haar.detect(image) }
            let iou = faces.first.flatMap { f in haarFaces.map { $0.box.iou(f.box) }.max() }
            rows.append(ImageRow(name: name, width: image.width, height: image.height, detectSeconds: td, meshSeconds: tm,
                                 irisSeconds: ti, analyzeSeconds: ta, blazeFaces: faces.count, haarFaces: haarFaces.count,
                                 haarSeconds: th, iou: iou))
        }
        return rows
    }

    /// Seconds per tracked frame over a synthetic clip: `frames` crops of `photo` that drift and zoom,
    /// tracked from the previous frame's landmarks (detector on the first frame only), iris included.
    public static func measureTracking(photo: RGBImage, analyzer: FaceAnalyzer, frames: Int = 30, size: Int = 256) throws -> (seconds: Double, detections: Int) {
        let side = min(photo.width, photo.height) * 3 / 4
        var clip: [RGBImage] = []
        for t in 0..<frames {
            let dx = Int(12 * sin(Double(t) / 5)), dy = Int(8 * cos(Double(t) / 7))
            let s = side - 2 * (t % 10)
            let x = max(0, min(photo.width - s, (photo.width - s) / 2 + dx)), y = max(0, min(photo.height - s, (photo.height - s) / 2 + dy))
            clip.append(try photo.cropped(x: x, y: y, width: s, height: s).resized(width: size, height: size))
        }
        let tracker = FaceTracker(analyzer: analyzer)
        let start = DispatchTime.now().uptimeNanoseconds
        for f in clip { _ = try tracker.track(f) }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (total / Double(frames), tracker.detections)
    }

    /// Prints the table (images given by file, e.g. Samples/astronaut.png).
    public static func run(imageFiles: [URL], log: (String) -> Void) throws {
        let analyzer = try FaceAnalyzer()
        let images = try imageFiles.map { ($0.lastPathComponent, try RGBImage(contentsOf: $0)) }
        log("face analysis benchmark: \(Torch.numThreads) threads; median of 5 runs")
        log("image                 size      detect   mesh    iris    analyze | BlazeFace Haar  Haar time  IoU")
        for r in try measureImages(images, analyzer: analyzer) {
            log(String(format: "%-20@ %4dx%-4d %6.1f ms %5.1f ms %5.1f ms %6.1f ms | %5d %6d %8.1f ms  %@",
                       r.name as NSString, r.width, r.height, r.detectSeconds * 1e3, r.meshSeconds * 1e3, r.irisSeconds * 1e3,
                       r.analyzeSeconds * 1e3, r.blazeFaces, r.haarFaces, r.haarSeconds * 1e3,
                       r.iou.map { String(format: "%.2f", $0) } ?? "-"))
        }
        if let photo = images.first?.1 {
            let (s, d) = try measureTracking(photo: photo, analyzer: analyzer)
            log(String(format: "tracking (256x256 frames, mesh + iris): %.1f ms per frame, detector ran on %d of 30 frames", s * 1e3, d))
        }
    }
}
