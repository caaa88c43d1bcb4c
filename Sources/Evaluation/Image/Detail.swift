import FaceAnalysis
import Foundation
import Media
import Torch

/// How much of a photo's fine detail and edge sharpness an output keeps (issue #21), measured on luminance so
/// colour shifts do not count.
public enum Detail {
    /// The band of `energy`: difference of Gaussians with these σ (pixels). Finer than σ 1 is mostly grain and JPEG
    /// noise, which is not what a viewer calls sharpness; coarser than σ 2 is shape, not detail.
    public static let bandSigmas = (fine: 1.0, coarse: 2.0)

    /// Mean square band-pass luminance (`bandSigmas`, luminance in [0, 1]) inside `box` (picture pixels, clipped).
    public static func energy(_ image: RGBImage, in box: FaceBox) throws -> Double {
        let y = try luminance(image)
        let band = try blur(y, sigma: bandSigmas.fine) - blur(y, sigma: bandSigmas.coarse)
        let region = try clipped(box, image)
        return try band.narrow(2, region.y, region.h).narrow(3, region.x, region.w).square().mean().item()
    }

    /// `energy` of `output` over that of `photo`, in the same box: 1 keeps all the photo's detail, 0.5 half of it.
    public static func ratio(_ output: RGBImage, to photo: RGBImage, in box: FaceBox) throws -> Double {
        let reference = try energy(photo, in: box)
        guard reference > 0 else { throw EvaluationError.invalidInput("the photo has no detail in the box") }
        return try energy(output, in: box) / reference
    }

    /// Mean luminance gradient magnitude (central differences, luminance in [0, 1] per pixel) within `band` pixels of
    /// the closed polygon `outline` (picture pixels, pixel edges at integers, e.g. Face Mesh's face oval): how sharp
    /// the face's outline is.
    public static func outlineGradient(_ image: RGBImage, outline: [SIMD2<Double>], band: Double = 2) throws -> Double {
        guard outline.count >= 3 else { throw EvaluationError.invalidInput("an outline needs at least 3 points, got \(outline.count)") }
        let y = try luminance(image)
        let gx = try (y.narrow(3, 2, image.width - 2) - y.narrow(3, 0, image.width - 2)).narrow(2, 1, image.height - 2) * 0.5
        let gy = try (y.narrow(2, 2, image.height - 2) - y.narrow(2, 0, image.height - 2)).narrow(3, 1, image.width - 2) * 0.5
        let magnitude = try (gx.square() + gy.square()).sqrt().contiguous().floats()
        let w = image.width - 2, h = image.height - 2
        // Pixels of the interior w×h grid (centres at +1.5 in picture pixels) within `band` of the polygon.
        let xs = outline.map(\.x), ys = outline.map(\.y)
        let x0 = max(0, Int((xs.min()! - band - 1.5).rounded(.down))), x1 = min(w - 1, Int((xs.max()! + band - 1.5).rounded(.up)))
        let y0 = max(0, Int((ys.min()! - band - 1.5).rounded(.down))), y1 = min(h - 1, Int((ys.max()! + band - 1.5).rounded(.up)))
        var sum = 0.0, count = 0
        if x0 <= x1, y0 <= y1 {
            for py in y0...y1 {
                for px in x0...x1 where distance(SIMD2(Double(px) + 1.5, Double(py) + 1.5), to: outline) <= band {
                    sum += Double(magnitude[py * w + px])
                    count += 1
                }
            }
        }
        guard count > 0 else { throw EvaluationError.invalidInput("the outline lies outside the picture") }
        return sum / Double(count)
    }

    /// Distance from `p` to the closed polygon's edges.
    static func distance(_ p: SIMD2<Double>, to outline: [SIMD2<Double>]) -> Double {
        var best = Double.infinity
        for k in 0..<outline.count {
            let a = outline[k], d = outline[(k + 1) % outline.count] - a
            let t = min(max(((p - a) * d).sum() / max((d * d).sum(), 1e-12), 0), 1)
            let e = p - (a + t * d)
            best = min(best, (e * e).sum())
        }
        return best.squareRoot()
    }

    /// The bounding box of landmarks (picture pixels): the region `ratio` compares.
    public static func box(of landmarks: [SIMD2<Double>]) throws -> FaceBox {
        guard !landmarks.isEmpty else { throw EvaluationError.invalidInput("a box needs at least one landmark") }
        let xs = landmarks.map(\.x), ys = landmarks.map(\.y)
        return FaceBox(x: xs.min()!, y: ys.min()!, width: xs.max()! - xs.min()!, height: ys.max()! - ys.min()!)
    }

    /// Face Mesh's face oval of 468 landmarks (MediaPipe's convention, pixel centres at integers) in pixel-edge
    /// coordinates.
    public static func faceOval(_ landmarks: [SIMD2<Double>]) throws -> [SIMD2<Double>] {
        guard landmarks.count >= 468 else { throw EvaluationError.invalidInput("the face oval needs 468 Face Mesh landmarks, got \(landmarks.count)") }
        return FaceMeshTopology.faceOval.map { landmarks[$0] + 0.5 }
    }

    /// Rec. 601 luminance in [0, 1], 1×1×H×W.
    static func luminance(_ image: RGBImage) throws -> Tensor {
        let rgb = try (image.toTensor() + 1.0) * 0.5
        let weights = try Tensor([0.299, 0.587, 0.114] as [Float], shape: [1, 3, 1, 1])
        return try (rgb * weights).sum([1], keepDim: true)
    }

    /// Separable Gaussian blur (radius 3σ, edges replicated) of a 1×1×H×W tensor.
    static func blur(_ x: Tensor, sigma: Double) throws -> Tensor {
        let r = max(1, Int((3 * sigma).rounded(.up)))
        let g = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = g.reduce(0, +)
        let k = g.map { Float($0 / total) }
        let horizontal = try Tensor(k, shape: [1, 1, 1, 2 * r + 1]), vertical = try Tensor(k, shape: [1, 1, 2 * r + 1, 1])
        let h = try F.conv2d(F.pad(x, [r, r, 0, 0], mode: .replicate), horizontal)
        return try F.conv2d(F.pad(h, [0, 0, r, r], mode: .replicate), vertical)
    }

    static func clipped(_ box: FaceBox, _ image: RGBImage) throws -> (x: Int, y: Int, w: Int, h: Int) {
        let x0 = max(0, Int(box.x.rounded())), y0 = max(0, Int(box.y.rounded()))
        let x1 = min(image.width, Int((box.x + box.width).rounded())), y1 = min(image.height, Int((box.y + box.height).rounded()))
        guard x1 - x0 >= 4, y1 - y0 >= 4 else { throw EvaluationError.invalidInput("the box \(box) leaves fewer than 4×4 pixels of the picture") }
        return (x0, y0, x1 - x0, y1 - y0)
    }
}
