import Foundation

/// The five face points of dlib's shape_predictor_5_face_landmarks, in image pixels and dlib's order
/// (for an upright face): 0 outer and 1 inner corner of the eye on the image's right (the subject's
/// left eye), 2 outer and 3 inner corner of the eye on the image's left, 4 the base of the nose.
public struct FaceLandmarks5: Sendable, Equatable, Codable {
    public var points: [SIMD2<Double>]

    public init(_ points: [SIMD2<Double>]) throws {
        guard points.count == 5 else { throw FaceIdentityError.invalidInput("5 face points needed, got \(points.count)") }
        guard points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else {
            throw FaceIdentityError.invalidInput("face points must be finite, got \(points)")
        }
        self.points = points
    }

    /// Face Mesh (MediaPipe's 468-point topology) indices of dlib's five points: outer/inner corner of
    /// the subject's left eye (263, 362), of the right eye (33, 133), and the subnasale (2). On the
    /// astronaut they land within 2 px of dlib's points (face ≈ 90 px wide).
    public static let faceMeshIndices = [263, 362, 33, 133, 2]

    /// dlib's five points taken from Face Mesh landmarks (pixels), so a caller with a mesh can skip
    /// the shape predictor.
    public init(faceMesh landmarks: [SIMD2<Double>]) throws {
        guard landmarks.count >= 468 else {
            throw FaceIdentityError.invalidInput("Face Mesh landmarks: 468 points needed, got \(landmarks.count)")
        }
        try self.init(Self.faceMeshIndices.map { landmarks[$0] })
    }

    /// iBUG-68 indices of the same five points (eye corners 45, 42, 36, 39; subnasale 33), for faces whose 68
    /// landmarks are known, e.g. projected from 3DMM coefficients.
    public static let iBUG68Indices = [45, 42, 36, 39, 33]

    public init(iBUG68 landmarks: [SIMD2<Double>]) throws {
        guard landmarks.count == 68 else { throw FaceIdentityError.invalidInput("iBUG landmarks: 68 points needed, got \(landmarks.count)") }
        try self.init(Self.iBUG68Indices.map { landmarks[$0] })
    }

    /// The same points, each rounded to the nearest pixel as dlib's `full_object_detection` stores them.
    public var rounded: FaceLandmarks5 {
        var r = self
        r.points = points.map { SIMD2(DlibGeometry.round($0.x), DlibGeometry.round($0.y)) }
        return r
    }
}

/// Geometry as dlib computes it (dlib/geometry, image_transforms/interpolation.h), in double.
enum DlibGeometry {
    /// dlib's conversion of a real coordinate to a pixel: floor(v + 0.5).
    static func round(_ v: Double) -> Double { (v + 0.5).rounded(.down) }

    /// The least-squares similarity (scale·rotation, translation) mapping `from` onto `to`:
    /// q ≈ [a −b; b a]·p + t. Same optimum as dlib's find_similarity_transform (Umeyama without
    /// reflection), in closed form.
    static func similarity(from: [SIMD2<Double>], to: [SIMD2<Double>]) -> (a: Double, b: Double, t: SIMD2<Double>) {
        let n = Double(from.count)
        let mf = from.reduce(SIMD2<Double>(0, 0), +) / n
        let mt = to.reduce(SIMD2<Double>(0, 0), +) / n
        var sxx = 0.0, dot = 0.0, cross = 0.0
        for (p, q) in zip(from, to) {
            let u = p - mf, v = q - mt
            sxx += u.x * u.x + u.y * u.y
            dot += u.x * v.x + u.y * v.y
            cross += u.x * v.y - u.y * v.x
        }
        guard sxx > 0 else { return (1, 0, mt - mf) }
        let a = dot / sxx, b = cross / sxx
        return (a, b, mt - SIMD2(a * mf.x - b * mf.y, b * mf.x + a * mf.y))
    }

    /// p rotated by `angle` about `center` (dlib's rotate_point).
    static func rotate(_ p: SIMD2<Double>, about center: SIMD2<Double>, by angle: Double) -> SIMD2<Double> {
        let (s, c) = (sin(angle), cos(angle))
        let d = p - center
        return SIMD2(c * d.x - s * d.y, s * d.x + c * d.y) + center
    }
}

/// dlib's drectangle: inclusive corners, so width = right − left + 1.
struct DRect: Equatable {
    var left: Double, top: Double, right: Double, bottom: Double

    var isEmpty: Bool { top > bottom || left > right }
    var width: Double { isEmpty ? 0 : right - left + 1 }
    var height: Double { isEmpty ? 0 : bottom - top + 1 }
    var area: Double { width * height }
    var center: SIMD2<Double> { SIMD2((left + right) / 2, (top + bottom) / 2) }
    var topLeft: SIMD2<Double> { SIMD2(left, top) }
    var topRight: SIMD2<Double> { SIMD2(right, top) }
    var bottomLeft: SIMD2<Double> { SIMD2(left, bottom) }
    var bottomRight: SIMD2<Double> { SIMD2(right, bottom) }

    /// centered_drect: a rectangle of the given size (pixel counts) centred on p.
    init(center p: SIMD2<Double>, width: Double, height: Double) {
        let (w, h) = (width - 1, height - 1)
        self.init(left: p.x - w / 2, top: p.y - h / 2, right: p.x + w / 2, bottom: p.y + h / 2)
    }

    init(left: Double, top: Double, right: Double, bottom: Double) {
        self.left = left; self.top = top; self.right = right; self.bottom = bottom
    }

    /// The smallest rectangle holding the points.
    init(bounding points: [SIMD2<Double>]) {
        self.init(left: points.map(\.x).min()!, top: points.map(\.y).min()!,
                  right: points.map(\.x).max()!, bottom: points.map(\.y).max()!)
    }

    /// pyramid_down<2>::rect_down: the rectangle one level down dlib's 2:1 image pyramid.
    var down: DRect {
        DRect(left: left / 2 - 1.25, top: top / 2 - 0.75, right: right / 2 - 1.25, bottom: bottom / 2 - 0.75)
    }

    func grown(_ n: Double) -> DRect { DRect(left: left - n, top: top - n, right: right + n, bottom: bottom + n) }

    func intersect(_ o: DRect) -> DRect {
        DRect(left: max(left, o.left), top: max(top, o.top), right: min(right, o.right), bottom: min(bottom, o.bottom))
    }

    func translated(by d: SIMD2<Double>) -> DRect {
        DRect(left: left + d.x, top: top + d.y, right: right + d.x, bottom: bottom + d.y)
    }

    /// dlib's drectangle → rectangle conversion: every corner rounded to the nearest pixel.
    var roundedToPixels: DRect {
        DRect(left: DlibGeometry.round(left), top: DlibGeometry.round(top),
              right: DlibGeometry.round(right), bottom: DlibGeometry.round(bottom))
    }
}
