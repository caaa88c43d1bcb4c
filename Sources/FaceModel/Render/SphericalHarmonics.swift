import Torch
import Foundation

/// Second-order spherical-harmonics lighting of Lambertian surfaces, exactly as Deep3DFaceRecon:
/// γ (27 values) is read RGB-major as a 3×9 matrix (γ[c·9 + k] = band k of channel c), 0.8 is
/// added to band 0 of every channel (so γ = 0 is a uniform ambient light of 0.8·π·Y00 ≈ 0.709), and
/// the shading of a unit normal n = (x, y, z) is Σ_k γ_ck · H_k(n) with
///   H0 = a0·c0,  H1 = −a1·c1·y,  H2 = a1·c1·z,  H3 = −a1·c1·x,
///   H4 = a2·c2·x·y,  H5 = −a2·c2·y·z,  H6 = a2·c2/(2√3)·(3z² − 1),  H7 = −a2·c2·x·z,  H8 = a2·c2/2·(x² − y²),
/// a = (π, 2π/√3, 2π/√8), c = (1/√(4π), √3/√(4π), 3√5/√(12π)).
/// The colour is shading ⊙ albedo.
public enum SphericalHarmonics {
    public static let initialAmbient = 0.8
    static let a = [Double.pi, 2 * Double.pi / 3.0.squareRoot(), 2 * Double.pi / 8.0.squareRoot()]
    static let c = [1 / (4 * Double.pi).squareRoot(), 3.0.squareRoot() / (4 * Double.pi).squareRoot(),
                    3 * 5.0.squareRoot() / (12 * Double.pi).squareRoot()]

    /// The 9 basis values H_k for normals N×V×3 → N×V×9.
    public static func basis(_ normals: Tensor) throws -> Tensor {
        let x = try normals.select(-1, 0), y = try normals.select(-1, 1), z = try normals.select(-1, 2)
        let k1 = a[1] * c[1], k2 = a[2] * c[2]
        let h0 = try (x * 0.0) + a[0] * c[0]
        let terms: [Tensor] = [
            h0,
            try y * -k1,
            try z * k1,
            try x * -k1,
            try x * y * k2,
            try y * z * -k2,
            try (z.square() * 3.0 - 1.0) * (k2 / (2 * 3.0.squareRoot())),
            try x * z * -k2,
            try (x.square() - y.square()) * (k2 / 2),
        ]
        return try Tensor.stack(terms, dim: -1)
    }

    /// Shading N×V×3 for unit normals N×V×3 and γ N×27.
    public static func shading(normals: Tensor, gamma: Tensor) throws -> Tensor {
        guard gamma.rank == 2, gamma.size(1) == 27 else {
            throw FaceModelError.invalidArgument("illumination must be N×27, got \(gamma.shape)")
        }
        let offset = try Tensor([Float](repeating: 0, count: 27).enumerated().map { $0.offset % 9 == 0 ? Float(initialAmbient) : 0 })
        let g = try (gamma + offset).reshape([gamma.size(0), 3, 9]).transpose(1, 2)   // N×9×3
        return try basis(normals).matmul(g)
    }

    /// γ for a soft light from the front and above (plus the built-in ambient), a pleasant default for
    /// previews: returns a 27-vector.
    public static func frontalLight(strength: Double = 0.12, fromAbove: Double = 0.06) -> [Float] {
        var g = [Float](repeating: 0, count: 27)
        for ch in 0..<3 {
            g[ch * 9 + 2] = Float(strength)       // H2 ∝ z: brighter where the surface faces the camera
            g[ch * 9 + 1] = Float(-fromAbove)     // H1 ∝ −y: brighter where it faces up
        }
        return g
    }
}
