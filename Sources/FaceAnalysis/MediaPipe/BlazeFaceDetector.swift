import Torch
import Foundation
import Media

/// A face found by BlazeFace, in pixels of the analysed image.
public struct DetectedFace: Sendable, Codable, Equatable {
    public var box: FaceBox
    /// Six keypoints in MediaPipe's order: eye on the image's left (the subject's right eye), the other
    /// eye, nose tip, mouth centre, ear tragion on the image's left, the other tragion.
    public var keypoints: [SIMD2<Double>]
    /// Sigmoid of the (clipped) classifier logit, in (0, 1).
    public var score: Double
}

/// MediaPipe's short-range face detector (BlazeFace, `face_detection_short_range.tflite`) with the exact
/// post-processing of `face_detection_short_range.pbtxt` / `face_detection.pbtxt`:
/// - the whole image is letterboxed onto 128×128 (aspect kept, zero border) with values in [-1, 1];
/// - 896 SSD anchors: strides 8, 16, 16, 16, interpolated aspect ratio 1, fixed anchor size
///   (`SsdAnchorsCalculator`);
/// - boxes are decoded as (x, y, w, h) / 128 relative to the anchor centre ("reverse_output_order"),
///   keypoints likewise; scores are sigmoid(clip(logit, ±100)) and kept from 0.5
///   (`TensorsToDetectionsCalculator`);
/// - weighted non-maximum suppression at IoU 0.3 averages every overlapping box and keypoint by score
///   and keeps the best score (`NonMaxSuppressionCalculator`, WEIGHTED);
/// - results are projected back from the letterbox to image pixels (`DetectionProjectionCalculator`).
public final class BlazeFaceDetector {
    public struct Options: Sendable {
        public var minScore = 0.5
        public var suppressionThreshold = 0.3
        public init() {}
    }

    public let network: MediaPipeGraph
    public var options: Options
    public static let inputSize = 128
    /// Anchor centres (x, y) in [0, 1] of the 128×128 input, in the network's output order.
    public let anchors: [SIMD2<Double>]

    public init(network: MediaPipeGraph, options: Options = Options()) throws {
        guard network.inputShape == [1, 128, 128, 3], network.outputShapes == [[1, 896, 16], [1, 896, 1]] else {
            throw FaceAnalysisError.modelInvalid("not the BlazeFace short-range network (input \(network.inputShape), outputs \(network.outputShapes))")
        }
        self.network = network
        self.options = options
        anchors = BlazeFaceDetector.ssdAnchors(inputSize: 128, strides: [8, 16, 16, 16])
    }

    /// Loads `Models/analysis/mediapipe_face_detection_short_range.safetensors`.
    public convenience init(options: Options = Options()) throws {
        try self.init(network: try MediaPipeModels.load(.mediaPipeDetector), options: options)
    }

    /// SSD anchor centres as `SsdAnchorsCalculator` lays them out: consecutive layers with the same stride
    /// share one grid, each cell holding 2 anchors per layer (aspect ratio 1 and the interpolated one).
    public static func ssdAnchors(inputSize: Int, strides: [Int]) -> [SIMD2<Double>] {
        var out: [SIMD2<Double>] = []
        var layer = 0
        while layer < strides.count {
            var last = layer
            var perCell = 0
            while last < strides.count && strides[last] == strides[layer] { perCell += 2; last += 1 }
            let side = Int((Double(inputSize) / Double(strides[layer])).rounded(.up))
            for y in 0..<side {
                for x in 0..<side {
                    let c = SIMD2((Double(x) + 0.5) / Double(side), (Double(y) + 0.5) / Double(side))
                    for _ in 0..<perCell { out.append(c) }
                }
            }
            layer = last
        }
        return out
    }

    /// The letterbox ROI: the whole image padded to a square around its centre.
    public static func letterbox(width: Int, height: Int) -> RotatedRect {
        let side = Double(max(width, height))
        return RotatedRect(centerX: Double(width) / 2, centerY: Double(height) / 2, width: side, height: side)
    }

    /// The network input for `image`: 1×3×128×128 in [-1, 1].
    public func inputTensor(_ image: RGBImage) throws -> Tensor {
        let crop = try ImageWarp.crop(image, roi: BlazeFaceDetector.letterbox(width: image.width, height: image.height),
                                      width: 128, height: 128, border: .zero)
        return try ImageWarp.tensor(crop, range: -1...1)
    }

    /// Faces in `image`, best score first.
    public func detect(_ image: RGBImage) throws -> [DetectedFace] {
        let outs = try network(try inputTensor(image))
        let raw = try outs[0].floats(), logits = try outs[1].floats()
        return decode(regressors: raw, logits: logits, roi: BlazeFaceDetector.letterbox(width: image.width, height: image.height))
    }

    /// Decoding, score filtering, weighted NMS and projection of raw network outputs (896×16, 896).
    public func decode(regressors raw: [Float], logits: [Float], roi: RotatedRect) -> [DetectedFace] {
        let n = anchors.count
        guard raw.count == n * 16, logits.count == n else { return [] }
        var candidates: [(box: [Double], kps: [Double], score: Double)] = []  // box: xmin, ymin, xmax, ymax (normalised)
        for i in 0..<n {
            let logit = Double(min(max(logits[i], -100), 100))
            let score = 1 / (1 + exp(-logit))
            guard score >= options.minScore else { continue }
            let r = Array(raw[(i * 16)..<(i * 16 + 16)]).map(Double.init)
            let a = anchors[i]
            let cx = r[0] / 128 + a.x, cy = r[1] / 128 + a.y, w = r[2] / 128, h = r[3] / 128
            guard w >= 0, h >= 0, w.isFinite, h.isFinite else { continue }
            var kps: [Double] = []
            for k in 0..<6 { kps += [r[4 + 2 * k] / 128 + a.x, r[5 + 2 * k] / 128 + a.y] }
            candidates.append(([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], kps, score))
        }
        let kept = BlazeFaceDetector.weightedNMS(candidates, threshold: options.suppressionThreshold)
        return kept.map { d in
            let corners = [(d.box[0], d.box[1]), (d.box[2], d.box[1]), (d.box[2], d.box[3]), (d.box[0], d.box[3])]
                .map { roi.project(u: $0.0, v: $0.1) }
            let xs = corners.map(\.x), ys = corners.map(\.y)
            let box = FaceBox(x: xs.min()!, y: ys.min()!, width: xs.max()! - xs.min()!, height: ys.max()! - ys.min()!)
            let kps = (0..<6).map { k -> SIMD2<Double> in
                let p = roi.project(u: d.kps[2 * k], v: d.kps[2 * k + 1])
                return SIMD2(p.x, p.y)
            }
            return DetectedFace(box: box, keypoints: kps, score: d.score)
        }
    }

    /// MediaPipe's WEIGHTED non-maximum suppression (IoU overlap).
    static func weightedNMS(_ dets: [(box: [Double], kps: [Double], score: Double)], threshold: Double)
        -> [(box: [Double], kps: [Double], score: Double)] {
        func iou(_ a: [Double], _ b: [Double]) -> Double {
            let ix = min(a[2], b[2]) - max(a[0], b[0]), iy = min(a[3], b[3]) - max(a[1], b[1])
            guard ix > 0, iy > 0 else { return 0 }
            let inter = ix * iy
            let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            return union > 0 ? inter / union : 0
        }
        var remaining = dets.indices.sorted { dets[$0].score > dets[$1].score }
        var out: [(box: [Double], kps: [Double], score: Double)] = []
        while let first = remaining.first {
            let best = dets[first]
            var group: [Int] = [], rest: [Int] = []
            for i in remaining { (iou(dets[i].box, best.box) > threshold ? { group.append(i) } : { rest.append(i) })() }
            var box = [Double](repeating: 0, count: 4), kps = [Double](repeating: 0, count: best.kps.count)
            var total = 0.0
            for i in group {
                let s = dets[i].score
                total += s
                for j in 0..<4 { box[j] += dets[i].box[j] * s }
                for j in kps.indices { kps[j] += dets[i].kps[j] * s }
            }
            out.append(total > 0 ? (box.map { $0 / total }, kps.map { $0 / total }, best.score) : best)
            if rest.count == remaining.count { break }
            remaining = rest
        }
        return out
    }
}
