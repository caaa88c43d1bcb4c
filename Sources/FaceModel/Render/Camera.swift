import Torch
import Foundation

/// The pinhole camera of Deep3DFaceRecon: it sits on the +z axis at `distance` from the origin and
/// looks down −z (x right, y up). A point (x, y, z) after pose has camera depth d = distance − z and
/// image position (continuous pixel coordinates, origin at the top-left corner of the image, y down)
///   u = cx + f·x/d,   v = cy − f·y/d.
/// Pixel (row i, column j) covers [j, j+1) × [i, i+1); its centre is (j + 0.5, i + 0.5).
public struct Camera: Sendable, Equatable {
    public var focal: Double
    public var centerX: Double
    public var centerY: Double
    public var distance: Double

    public init(focal: Double, centerX: Double, centerY: Double, distance: Double = 10) {
        self.focal = focal
        self.centerX = centerX
        self.centerY = centerY
        self.distance = distance
    }

    /// Focal 1015 at 224 px, principal point at the centre, camera at distance 10, scaled to
    /// `width` × `height` (the focal follows the width, so the face covers the same fraction of the image).
    public static func deep3DFaceRecon(width: Int, height: Int) -> Camera {
        Camera(focal: 1015.0 * Double(width) / 224.0, centerX: Double(width) / 2, centerY: Double(height) / 2, distance: 10)
    }

    public static func deep3DFaceRecon(size: Int) -> Camera { deep3DFaceRecon(width: size, height: size) }

    /// Projects posed vertices N×V×3 to pixel coordinates N×V×2 and returns the camera depths N×V.
    public func project(_ vertices: Tensor) throws -> (pixels: Tensor, depth: Tensor) {
        let x = try vertices.select(-1, 0), y = try vertices.select(-1, 1), z = try vertices.select(-1, 2)
        let depth = try distance - z
        let u = try x * focal / depth + centerX
        let v = try centerY - (y * focal / depth)
        return (try Tensor.stack([u, v], dim: -1), depth)
    }
}

/// Head pose: rotation from three angles and a translation (Deep3DFaceRecon's convention).
public enum Pose {
    /// R = Rz(c) · Ry(b) · Rx(a) for angles (a, b, c) in radians, N×3 → N×3×3. A model point s is
    /// posed as R·s + t (right-handed rotations about the model axes). With the camera on +z:
    /// a > 0 pitches the face down (forehead toward the camera, chin away), b > 0 turns it toward the
    /// image's right (the nose moves right), c > 0 rolls it counter-clockwise as seen in the image.
    public static func rotationMatrix(_ angles: Tensor) throws -> Tensor {
        guard angles.rank == 2, angles.size(1) == 3 else {
            throw FaceModelError.invalidArgument("angles must be N×3, got \(angles.shape)")
        }
        let a = try angles.select(1, 0), b = try angles.select(1, 1), c = try angles.select(1, 2)
        let ca = try a.cos(), sa = try a.sin(), cb = try b.cos(), sb = try b.sin(), cc = try c.cos(), sc = try c.sin()
        // Rz·Ry·Rx written out:
        let r00 = try cc * cb
        let r01 = try cc * sb * sa - sc * ca
        let r02 = try cc * sb * ca + sc * sa
        let r10 = try sc * cb
        let r11 = try sc * sb * sa + cc * ca
        let r12 = try sc * sb * ca - cc * sa
        let r20 = try -sb
        let r21 = try cb * sa
        let r22 = try cb * ca
        return try Tensor.stack([r00, r01, r02, r10, r11, r12, r20, r21, r22], dim: 1).reshape([angles.size(0), 3, 3])
    }

    /// R·s + t for every vertex: points N×V×3, rotation N×3×3, translation N×3.
    public static func apply(_ points: Tensor, rotation: Tensor, translation: Tensor) throws -> Tensor {
        try points.matmul(rotation.transpose(1, 2)) + translation.unsqueeze(1)
    }
}
