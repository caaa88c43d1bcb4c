import FaceAnalysis
import Foundation
import Media
import Torch

/// Change of the picture where it should not change: outside the faces. Reenactment and swapping should
/// keep the background of the image they start from; a video's background should not flicker.
public enum RegionChange {
    /// Margin added around the Face Mesh outline, as a fraction of the face's width: hair and ears move with
    /// the head and the outline stops at the forehead.
    public static let faceMargin = 0.2

    /// 1×1×H×W mask: 1 outside every face (outline of each landmark set, dilated by `faceMargin` × its width).
    /// Landmarks in image pixels, MediaPipe's convention (pixel centres at integers).
    public static func outsideFaces(_ faces: [[SIMD2<Double>]], width: Int, height: Int) throws -> Tensor {
        var inside = try Tensor.zeros([1, 1, height, width])
        for lm in faces {
            guard lm.count >= 468 else { throw EvaluationError.invalidInput("face masks need 468 Face Mesh landmarks, got \(lm.count)") }
            // LandmarkMasks samples pixel centres at j + ½.
            let region = try LandmarkMasks.faceRegion(lm.map { SIMD3($0.x + 0.5, $0.y + 0.5, 0) }, width: width, height: height)
            let xs = lm.map(\.x)
            let radius = Swift.max(1, Int((faceMargin * (xs.max()! - xs.min()!)).rounded()))
            let mask = try LandmarkMasks.tensor(region, width: width, height: height)
            let grown = try F.maxPool2d(F.pad(mask, [radius, radius, radius, radius]), kernel: 2 * radius + 1, stride: 1)
            inside = try inside.maximum(grown)
        }
        return try 1.0 - inside
    }

    /// Mean absolute difference of `a` and `b` (same size) in 8-bit levels over the pixels outside every face
    /// in `faces`; nil when the faces cover the whole image.
    public static func meanChange(_ a: RGBImage, _ b: RGBImage, outside faces: [[SIMD2<Double>]]) throws -> Double? {
        guard a.width == b.width, a.height == b.height else {
            throw EvaluationError.invalidInput("background change needs images of one size, got \(a.width)x\(a.height) and \(b.width)x\(b.height)")
        }
        let mask = try outsideFaces(faces, width: a.width, height: a.height)
        let area = try mask.sum().item()
        guard area >= 1 else { return nil }
        let diff = try (a.toTensor() - b.toTensor()).abs().mean(dim: 1, keepDim: true) * 127.5
        return try (diff * mask).sum().item() / area
    }
}
