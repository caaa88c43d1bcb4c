import Torch
import Foundation
import Media

/// Masks from Face Mesh landmarks, for face swapping (the paper's swap keeps the target's mouth interior
/// and background) and for evaluation regions. Masks are row-major `width`×`height` arrays with 1 inside
/// and 0 outside, sampled at pixel centres (pixel (i, j) has centre (j + ½, i + ½), the coordinates
/// the analysis uses). Landmarks must be in the pixel coordinates of the mask (map them first, e.g.
/// with `CropTransform.toCrop`).
public enum LandmarkMasks {
    /// 1 inside a closed polygon (even–odd rule), 0 outside.
    public static func polygon(_ points: [SIMD2<Double>], width: Int, height: Int) throws -> [Float] {
        guard width > 0, height > 0, width * height <= 1 << 26 else { throw FaceAnalysisError.invalidInput("mask size \(width)x\(height)") }
        guard points.count >= 3 else { throw FaceAnalysisError.invalidInput("a polygon needs at least 3 points, got \(points.count)") }
        guard points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { throw FaceAnalysisError.invalidInput("polygon has NaN or infinite points") }
        var mask = [Float](repeating: 0, count: width * height)
        for row in 0..<height {
            let y = Double(row) + 0.5
            var xs: [Double] = []
            for k in points.indices {
                let a = points[k], b = points[(k + 1) % points.count]
                if (a.y <= y) != (b.y <= y) { xs.append(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x)) }
            }
            xs.sort()
            var k = 0
            while k + 1 < xs.count {
                // Pixel centres j + ½ in [xs[k], xs[k+1]).
                let j0 = max(0, Int((xs[k] - 0.5).rounded(.up))), j1 = min(width - 1, Int((xs[k + 1] - 0.5).rounded(.up)) - 1)
                if j0 <= j1 { for j in j0...j1 { mask[row * width + j] = 1 } }
                k += 2
            }
        }
        return mask
    }

    static func loop(_ lm: [SIMD3<Double>], _ idx: [Int]) throws -> [SIMD2<Double>] {
        guard lm.count >= 468 else { throw FaceAnalysisError.invalidInput("masks need 468 Face Mesh landmarks, got \(lm.count)") }
        return idx.map { SIMD2(lm[$0].x, lm[$0].y) }
    }

    /// The face inside the Face Mesh outline (forehead to chin); with `excludingMouth` the mouth opening
    /// (inside the inner lip contour) is 0, as the paper's swap treats the mouth interior as background.
    public static func faceRegion(_ landmarks: [SIMD3<Double>], width: Int, height: Int, excludingMouth: Bool = false) throws -> [Float] {
        var m = try polygon(loop(landmarks, FaceMeshTopology.faceOval), width: width, height: height)
        if excludingMouth {
            let mouth = try mouthInterior(landmarks, width: width, height: height)
            for i in m.indices { m[i] *= 1 - mouth[i] }
        }
        return m
    }

    /// The mouth opening: inside the inner lip contour (all 0 when the lips are closed).
    public static func mouthInterior(_ landmarks: [SIMD3<Double>], width: Int, height: Int) throws -> [Float] {
        try polygon(loop(landmarks, FaceMeshTopology.lipsInner), width: width, height: height)
    }

    /// A mask as a 1×1×H×W tensor.
    public static func tensor(_ mask: [Float], width: Int, height: Int) throws -> Tensor {
        try Tensor(mask, shape: [1, 1, height, width])
    }
}
