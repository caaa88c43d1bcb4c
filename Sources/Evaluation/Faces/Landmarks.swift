import FaceAnalysis
import Foundation

/// Landmark distances (LMD, Chen et al. 2019): the mean Euclidean distance between corresponding points of
/// two faces, here Face Mesh's 468 points in the 256-pixel frame of `FaceMeasurement.landmarks`.
public enum Landmarks {
    /// Face Mesh's lip points (outer and inner contour, 40): the mouth LMD of the paper's Table 3.
    public static let mouth: [Int] = Array(Set(FaceMeshTopology.lipsOuter + FaceMeshTopology.lipsInner)).sorted()

    public static func distance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double {
        let d = a - b
        return (d.x * d.x + d.y * d.y).squareRoot()
    }

    /// Mean distance over `indices` (all points when nil).
    public static func meanDistance(_ a: [SIMD2<Double>], _ b: [SIMD2<Double>], indices: [Int]? = nil) throws -> Double {
        guard a.count == b.count, !a.isEmpty else {
            throw EvaluationError.invalidInput("landmark sets of \(a.count) and \(b.count) points cannot be compared")
        }
        let idx = indices ?? Array(a.indices)
        guard let top = idx.max(), top < a.count, idx.min()! >= 0 else {
            throw EvaluationError.invalidInput("landmark index outside 0..<\(a.count)")
        }
        return idx.reduce(0.0) { $0 + distance(a[$1], b[$1]) } / Double(idx.count)
    }
}
