import Torch
import FaceModel
import Foundation

extension SplitMix64 {
    /// The synthetic data's stream for `seed` (offset so that seed 0 does not start at state 0).
    public init(dataSeed seed: UInt64) { self.init(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }
}

/// An RGB colour with components in [0, 1].
public struct RGB: Sendable, Equatable {
    public var r: Float, g: Float, b: Float
    public init(_ r: Float, _ g: Float, _ b: Float) { self.r = r; self.g = g; self.b = b }
    func scaled(_ s: Float) -> RGB { RGB(r * s, g * s, b * s) }
    func mixed(_ o: RGB, _ t: Float) -> RGB { RGB(r + (o.r - r) * t, g + (o.g - g) * t, b + (o.b - b) * t) }
}

/// One synthetic person: 3DMM appearance (α, δ, γ) plus everything a 3DMM render lacks — fine skin
/// detail on the surface (freckles, moles, blush, stubble, brow and lip colour), hair with its own
/// hairline and length, a neck, optional glasses and a background. Only α, δ and γ are visible to
/// the geometry condition I_3d; the rest must come from the source image through TexAtt, which is
/// exactly the transfer problem TGDM is built for (paper Sec. 4.3).
public struct SyntheticIdentity: Sendable {
    public let index: Int
    public let identity: [Float]      // α, 80
    public let texture: [Float]       // δ, 80
    public let illumination: [Float]  // γ, 27
    /// Additive albedo detail per vertex (V×3, row-major) in [-1, 1] image units.
    public let vertexDetail: [Float]

    public struct Hair: Sendable {
        public var color: RGB
        /// Height of the hairline above the brows, as a fraction of the brow–chin distance.
        public var hairline: Float
        /// How far hair falls down the sides, as a fraction of the face height below the brows (0 = short).
        public var length: Float
        /// Volume: how far the hair extends beyond the head outline.
        public var volume: Float
        public var stripeFrequency: Float
        public var stripePhase: Float
    }
    public struct Background: Sendable {
        public var first: RGB, second: RGB
        public var angle: Float
        public var stripes: Float      // 0 = plain gradient
        public var stripePhase: Float
    }
    public struct Glasses: Sendable {
        public var color: RGB
        public var radius: Float       // relative to the eye width
        public var thickness: Float    // pixels at 64²; scales with the image
    }

    public let hair: Hair
    public let background: Background
    public let glasses: Glasses?
    public let neckTone: Float

    /// Draws identity `index` of the dataset with `seed`.
    public static func make(index: Int, seed: UInt64, model: MorphableModel, anchors: FaceAnchors) throws -> SyntheticIdentity {
        var rng = SplitMix64(dataSeed: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(index) &* 0x9E37_79B9)
        let alpha = (0..<80).map { _ in rng.normal() * 0.9 }
        let delta = (0..<80).map { _ in rng.normal() * 0.9 }
        // Light: the frontal preview light with a random direction tilt and colour cast.
        var gamma = SphericalHarmonics.frontalLight()
        for c in 0..<3 {
            let cast = rng.uniform(-0.06, 0.06)
            gamma[c * 9 + 0] += cast
            gamma[c * 9 + 1] += rng.uniform(-0.12, 0.12)
            gamma[c * 9 + 2] += rng.uniform(-0.08, 0.08)
            gamma[c * 9 + 3] += rng.uniform(-0.12, 0.12)
        }
        // γ is channel-major (γ[c·9 + k]); keep the directional bands equal across channels so the light
        // has a direction and only the ambient band carries the colour cast.
        for k in 1..<4 { let m = (gamma[k] + gamma[9 + k] + gamma[18 + k]) / 3; gamma[k] = m; gamma[9 + k] = m; gamma[18 + k] = m }

        let detail = anchors.skinDetail(rng: &rng)
        let hairPalette = [RGB(0.08, 0.06, 0.05), RGB(0.25, 0.15, 0.08), RGB(0.45, 0.30, 0.15), RGB(0.75, 0.60, 0.35),
                           RGB(0.55, 0.20, 0.10), RGB(0.6, 0.6, 0.6), RGB(0.15, 0.15, 0.35)]
        let hair = Hair(color: hairPalette[Int(rng.next() % UInt64(hairPalette.count))].scaled(rng.uniform(0.8, 1.15)),
                        hairline: rng.uniform(0.25, 0.55), length: rng.chance(0.45) ? rng.uniform(0.3, 1.2) : 0,
                        volume: rng.uniform(0.05, 0.25), stripeFrequency: rng.uniform(10, 30), stripePhase: rng.uniform(0, 6.28))
        func randomColor() -> RGB { RGB(rng.uniform(0.1, 0.95), rng.uniform(0.1, 0.95), rng.uniform(0.1, 0.95)) }
        let bg = Background(first: randomColor(), second: randomColor(), angle: rng.uniform(0, 6.28),
                            stripes: rng.chance(0.5) ? rng.uniform(3, 9) : 0, stripePhase: rng.uniform(0, 6.28))
        let glasses: Glasses? = rng.chance(0.3)
            ? Glasses(color: rng.chance(0.5) ? RGB(0.05, 0.05, 0.05) : randomColor(), radius: rng.uniform(0.75, 1.0),
                      thickness: rng.uniform(0.8, 1.6))
            : nil
        return SyntheticIdentity(index: index, identity: alpha, texture: delta, illumination: gamma, vertexDetail: detail,
                                 hair: hair, background: bg, glasses: glasses, neckTone: rng.uniform(0.75, 0.9))
    }
}

/// Where things are on the mean face, used to place surface detail (freckles on cheeks, stubble on
/// the chin, colour on lips and brows) in the model's own vertex space.
public struct FaceAnchors: Sendable {
    public let vertices: [SIMD3<Float>]
    public let landmarks: [SIMD3<Float>]
    /// Typical distance between neighbouring landmarks: the unit of the detail radii.
    public let scale: Float

    public init(model: MorphableModel) throws {
        let v = try model.meanShape.reshape([-1, 3]).floats()
        let verts = stride(from: 0, to: v.count, by: 3).map { SIMD3(v[$0], v[$0 + 1], v[$0 + 2]) }
        let lm = try model.landmarkIndices.toArray(Int64.self).map { verts[Int($0)] }
        vertices = verts
        landmarks = lm
        scale = simd_length(lm[0] - lm[16]) / 14
    }

    func nearest(to p: SIMD3<Float>, radius: Float, _ body: (Int, Float) -> Void) {
        for (i, v) in vertices.enumerated() {
            let d = simd_length(v - p)
            if d < radius { body(i, d / radius) }
        }
    }

    /// Per-vertex additive detail (V×3).
    func skinDetail(rng: inout SplitMix64) -> [Float] {
        var d = [Float](repeating: 0, count: vertices.count * 3)
        func add(_ i: Int, _ c: RGB, _ w: Float) { d[3 * i] += c.r * w; d[3 * i + 1] += c.g * w; d[3 * i + 2] += c.b * w }
        let cheeks = [landmarks[2], landmarks[3], landmarks[13], landmarks[14], landmarks[29], landmarks[31], landmarks[35]]
        // Freckles: many small brown spots around nose and cheeks.
        if rng.chance(0.4) {
            for _ in 0..<Int(rng.uniform(20, 60)) {
                let a = cheeks[Int(rng.next() % UInt64(cheeks.count))]
                let p = a + SIMD3(rng.normal(), rng.normal(), 0) * scale * 1.6
                nearest(to: p, radius: scale * rng.uniform(0.25, 0.45)) { i, t in add(i, RGB(-0.35, -0.45, -0.45), 1 - t) }
            }
        }
        // Moles: one to three dark spots anywhere on the face.
        for _ in 0..<Int(rng.uniform(0, 3.99)) {
            let p = vertices[Int(rng.next() % UInt64(vertices.count))]
            nearest(to: p, radius: scale * rng.uniform(0.35, 0.6)) { i, t in add(i, RGB(-0.8, -0.85, -0.85), t < 0.7 ? 1 : 0) }
        }
        // Blush: soft red on both cheeks.
        if rng.chance(0.5) {
            let s = rng.uniform(0.15, 0.35)
            for a in [landmarks[3], landmarks[13]] {
                nearest(to: (a + landmarks[30]) * 0.5, radius: scale * 3.5) { i, t in add(i, RGB(0.5, -0.2, -0.15), s * (1 - t * t)) }
            }
        }
        // Stubble / beard: darken chin, jaw and upper lip.
        if rng.chance(0.35) {
            let s = rng.uniform(0.2, 0.45)
            for k in [4, 5, 6, 7, 8, 9, 10, 11, 12, 33, 51, 57] {
                nearest(to: landmarks[k], radius: scale * 2.2) { i, t in
                    let speckle: Float = (i * 2_654_435_761) % 7 < 4 ? 1 : 0.5
                    add(i, RGB(-0.6, -0.6, -0.55), s * speckle * (1 - t))
                }
            }
        }
        // Brows: thicker, coloured brows.
        let brow = rng.uniform(-0.1, 0.5)
        for k in 17...26 { nearest(to: landmarks[k], radius: scale * 0.9) { i, t in add(i, RGB(-0.7, -0.7, -0.7), brow * (1 - t)) } }
        // Lips: a colour shift (lipstick or pale lips).
        if rng.chance(0.5) {
            let c = RGB(rng.uniform(-0.1, 0.5), rng.uniform(-0.4, 0.05), rng.uniform(-0.3, 0.2))
            for k in 48...59 { nearest(to: landmarks[k], radius: scale * 0.8) { i, t in add(i, c, 1 - t) } }
        }
        // Skin grain: fine per-vertex noise, the texture detail a 64-dim PCA albedo never has.
        let grain = rng.uniform(0.01, 0.035)
        for i in 0..<vertices.count { let n = rng.normal() * grain; add(i, RGB(1, 1, 1), n) }
        for i in 0..<d.count { d[i] = Swift.max(-1, Swift.min(1, d[i])) }
        return d
    }
}

@inline(__always) func simd_length(_ v: SIMD3<Float>) -> Float { (v * v).sum().squareRoot() }
