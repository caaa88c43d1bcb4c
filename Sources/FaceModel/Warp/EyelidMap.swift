import Foundation

/// Where a closing eyelid's pixels come from (issue #20): the source's own upper-lid skin, stretched along the lid.
///
/// A 3DMM lid never lies exactly on the photo's lid, so the dense correspondence of a lid that closes further than in
/// the source points into the real eye (iris, lashes) or at a band of folded skin a pixel or two high. Instead, each
/// eye gets a frame of its own in both images: u runs from the outer to the inner corner, v down from the corner line,
/// in eye widths. The lid is the band between a top curve (halfway from the corner line to the brow: crease and lid
/// skin, which hardly move in a blink) and the lash line (the upper-lid landmarks). The target's band, grown by the
/// closing lid, takes its pixels from the source's band at the same u: linearly stretched, except the last few
/// hundredths of an eye width at the lash line, which keep their height, so the lashes stay a thin dark line at the
/// lid's edge. Landmarks are the model's iBUG-68 points projected into each crop.
struct EyelidMap {
    /// iBUG-68 indices of one eye: corners, upper and lower lid points (outer to inner), brow (outer to inner).
    struct EyeLandmarks {
        let outer: Int, inner: Int
        let upper: (Int, Int), lower: (Int, Int)
        let brow: [Int]
    }
    /// The subject's right eye (image left) and left eye.
    static let eyes = [EyeLandmarks(outer: 36, inner: 39, upper: (37, 38), lower: (41, 40), brow: [17, 18, 19, 20, 21]),
                       EyeLandmarks(outer: 45, inner: 42, upper: (44, 43), lower: (46, 47), brow: [26, 25, 24, 23, 22])]

    /// Where the lid's top curve lies between the corner line (0) and the brow (1).
    static let creaseFraction: Float = 0.5
    /// Height, in eye widths, of the lash line kept unstretched at the lid's edge (≈ 1.5 px for a 28 px eye).
    static let lashHeight: Float = 0.055
    /// How far the eye's frame reaches past the model's outer and inner corners (eye widths).
    static let outerMargin: Float = 0.15
    static let innerMargin: Float = 0.05
    /// How far (eye widths) above the lash line the stretched skin ends.
    static let lashClearance: Float = 0.05
    /// A gap under the closed lash line narrower than this (eye widths) is covered by the lash line.
    static let sliver: Float = 0.2
    /// Lid skin ends where the photo gets darker than this fraction of the skin just above the lashes (a glasses rim).
    static let rimDarkness: Float = 0.6
    /// The thinnest band of skin (eye widths) a lid under a glasses rim is stretched from.
    static let minimumSkin: Float = 0.08
    /// The lid is remapped once its lash line is lower than the source's by this much (eye widths), fully from twice it.
    static let closingStart: Float = 0.03
    /// Where the closed lid's fine texture is read: skin this far (eye widths) below the source's lower lid, clear of
    /// the lower lashes, and at most `detailDepth` further down (the cheek's skin, not the nose's shadow).
    static let detailGap: Float = 0.12
    static let detailDepth: Float = 0.45

    /// One eye in one image: its frame and curves (v in eye widths, positive towards the mouth).
    struct Eye {
        let origin: SIMD2<Float>, axisU: SIMD2<Float>, axisV: SIMD2<Float>, width: Float
        /// Upper and lower lid: v(u) = u(1 − u)(a + b·u), zero at both corners, through the two lid landmarks.
        let upper: (a: Float, b: Float)
        let lower: (a: Float, b: Float)
        /// The upper lid of the model's landmarks, where `upper` was moved onto the photo's lash line.
        var modelUpper: (a: Float, b: Float)
        /// A target's eye only: how far the source's photo lash line lies off its model lid (`offset`, a lid curve), and
        /// the source's model lid (`reference`). `lash` adds the offset to the target's model lid, fading it out as the lid
        /// comes down onto the lower lid.
        var photoOffset: (offset: (a: Float, b: Float), reference: (a: Float, b: Float))? = nil
        /// Brow: v(u) = c0 + c1·u + c2·u², least squares through the brow landmarks.
        let brow: Parabola
        /// Where the lid's skin ends upwards in the photo, when something dark crosses it below the top curve (the rim
        /// of glasses): v at u = 0, 1/20, …, 1 (`withSkinLimit`).
        var skinLimit: [Float]? = nil

        init?(_ eye: EyeLandmarks, landmarks p: (Int) -> SIMD2<Float>) {
            // The frame reaches a little past the model's corners: a fitted 3DMM eye is often narrower than the photo's,
            // whose dark outer corner would otherwise stay open beside the closed lid.
            let corner = p(eye.outer), innerCorner = p(eye.inner)
            let o = corner - (innerCorner - corner) * EyelidMap.outerMargin, i = innerCorner + (innerCorner - corner) * EyelidMap.innerMargin
            let w = ((i - o) * (i - o)).sum().squareRoot()
            guard w > 2 else { return nil }
            let axis = (i - o) / w
            // "Down" points from the eyes towards the mouth whatever the roll: the brow lies on the other side.
            var down = SIMD2<Float>(-axis.y, axis.x)
            let browCentre = eye.brow.map(p).reduce(.zero, +) / Float(eye.brow.count)
            if ((browCentre - o) * down).sum() > 0 { down = -down }
            func local(_ q: SIMD2<Float>) -> (u: Float, v: Float) {
                let d = q - o
                return ((d * axis).sum() / w, (d * down).sum() / w)
            }
            func lid(_ a: SIMD2<Float>, _ b: SIMD2<Float>) -> (a: Float, b: Float)? {
                let (u1, v1) = local(a), (u2, v2) = local(b)
                guard u1 > 0.02, u1 < 0.98, u2 > 0.02, u2 < 0.98, abs(u2 - u1) > 0.05 else { return nil }
                let r1 = v1 / (u1 * (1 - u1)), r2 = v2 / (u2 * (1 - u2))
                let slope = (r2 - r1) / (u2 - u1)
                return (r1 - slope * u1, slope)
            }
            guard let up = lid(p(eye.upper.0), p(eye.upper.1)), let low = lid(p(eye.lower.0), p(eye.lower.1)) else { return nil }
            guard let browCurve = Parabola(fitting: eye.brow.map { q in let l = local(p(q)); return SIMD2(l.u, l.v) }) else { return nil }
            origin = o
            axisU = axis
            axisV = down
            width = w
            upper = up
            modelUpper = up
            lower = low
            brow = browCurve
        }

        init(origin: SIMD2<Float>, axisU: SIMD2<Float>, axisV: SIMD2<Float>, width: Float, upper: (a: Float, b: Float),
             lower: (a: Float, b: Float), brow: Parabola) {
            self.origin = origin
            self.axisU = axisU
            self.axisV = axisV
            self.width = width
            self.upper = upper
            self.modelUpper = upper
            self.lower = lower
            self.brow = brow
        }

        /// This eye with its upper lid fitted to the image's lash line: at each u, the strongest bright-to-dark step
        /// going down (lid skin to lashes) within a quarter of an eye width above the model's lid and a tenth below
        /// it. Nil when the steps are too weak or too scattered to trust (a closed or hidden eye, glare on glasses).
        func onLashLine(luminance: [Float], size: Int) -> Eye? {
            func sample(_ q: SIMD2<Float>) -> Float { self.sample(luminance, size, q) }
            let step: Float = 0.5 / width, reach = EyelidMap.lashHeight
            var points: [(u: Float, v: Float)] = [], steps: [Float] = []
            for u in stride(from: Float(0.2), through: 0.8, by: 0.1) {
                var best: (v: Float, drop: Float) = (0, 0)
                for v in stride(from: lash(u) - 0.25, through: lash(u) + 0.1, by: step) {
                    let drop = sample(point(u: u, v: v - reach)) - sample(point(u: u, v: v + reach))
                    if drop > best.drop { best = (v, drop) }
                }
                points.append((u, best.v))
                steps.append(best.drop)
            }
            // A lash line is a step of several grey levels all along the lid (luminance in [0, 1]).
            guard steps.sorted()[steps.count / 2] > 0.06 else { return nil }
            // Least squares of v = u(1 − u)(a + b·u) through the steps' tops, the lash line's own height below them.
            var m00: Float = 0, m01: Float = 0, m11: Float = 0, r0: Float = 0, r1: Float = 0
            for (u, v) in points {
                let g = u * (1 - u), y = v + EyelidMap.lashHeight
                m00 += g * g; m01 += g * g * u; m11 += g * g * u * u; r0 += g * y; r1 += g * y * u
            }
            let det = m00 * m11 - m01 * m01
            guard abs(det) > 1e-9 else { return nil }
            let fitted = (a: (r0 * m11 - r1 * m01) / det, b: (m00 * r1 - m01 * r0) / det)
            let residual = points.map { (u: Float, v: Float) -> Float in
                let curve: Float = u * (1 - u) * (fitted.a + fitted.b * u)
                return abs(curve - EyelidMap.lashHeight - v)
            }.max() ?? 1
            guard residual < 0.12 else { return nil }
            var eye = Eye(origin: origin, axisU: axisU, axisV: axisV, width: width, upper: fitted, lower: lower, brow: brow)
            eye.modelUpper = upper
            return eye
        }

        func local(_ q: SIMD2<Float>) -> (u: Float, v: Float) {
            let d = q - origin
            return ((d * axisU).sum() / width, (d * axisV).sum() / width)
        }
        func point(u: Float, v: Float) -> SIMD2<Float> { origin + (axisU * u + axisV * v) * width }
        func lash(_ u: Float) -> Float {
            let model = u * (1 - u) * (upper.a + upper.b * u)
            guard let photo = photoOffset else { return model }
            let reference = u * (1 - u) * (photo.reference.a + photo.reference.b * u)
            // Gone by the time the lid is 60 % of the way down: a fully closed lid (blink unit 1) must not stop short.
            let closed = min(max((model - reference) / max(0.6 * (lowerLid(u) - reference), 1e-3), 0), 1)
            return model + u * (1 - u) * (photo.offset.a + photo.offset.b * u) * (1 - closed)
        }
        func lowerLid(_ u: Float) -> Float { u * (1 - u) * (lower.a + lower.b * u) }
        func top(_ u: Float) -> Float { EyelidMap.creaseFraction * brow(u) }

        /// The top of the lid skin a closing lid may take: the top curve, or lower where the photo's skin ends.
        func skinTop(_ u: Float) -> Float {
            guard let limit = skinLimit else { return top(u) }
            let x = min(max(u, 0), 1) * Float(limit.count - 1), k = min(Int(x), limit.count - 2), f = x - Float(k)
            return max(top(u), limit[k] * (1 - f) + limit[k + 1] * f)
        }

        /// This eye with `skinLimit` read from the photo: going up from just above the lash line, the first place where
        /// the luminance falls below `EyelidMap.rimDarkness` of the lid skin's own (the 80th percentile of the band) —
        /// the dark rim of glasses, which a stretched lid would otherwise carry down over the eye (issue #20: a brown
        /// lid on Grace Hopper). Unchanged where nothing that dark lies between the lash line and the top curve.
        func withSkinLimit(luminance: [Float], size: Int) -> Eye {
            let step: Float = 0.5 / width
            var limits: [Float?] = []
            for k in 0...20 {
                let u = Float(k) / 20, start = lash(u) - EyelidMap.lashHeight - EyelidMap.lashClearance, top = top(u)
                var skin: [Float] = []
                for v in stride(from: start, through: top, by: -step) { skin.append(sample(luminance, size, point(u: u, v: v))) }
                guard !skin.isEmpty else { limits.append(nil); continue }
                // The skin's level: bright end of the band (a rim covers at most most of it; the lashes are below it).
                let reference = skin.sorted()[min(skin.count - 1, skin.count * 4 / 5)]
                var limit: Float? = nil
                for v in stride(from: start, through: top, by: -step) where sample(luminance, size, point(u: u, v: v)) < EyelidMap.rimDarkness * reference {
                    limit = v + 0.03
                    break
                }
                limits.append(limit)
            }
            // A rim crosses the whole eye: found at two thirds of the places or not at all (a crease shadow or a lash at a
            // corner is not one, and a limit at some places only would tear the lid). Gaps take their nearest neighbour's
            // value, then the line is smoothed along the lid.
            let found = limits.indices.filter { limits[$0] != nil }
            guard found.count * 3 >= limits.count * 2 else { return self }
            let filled = limits.indices.map { i in limits[found.min { abs($0 - i) < abs($1 - i) }!]! }
            var eye = self
            eye.skinLimit = filled.indices.map { i in
                let window = max(0, i - 2)...min(filled.count - 1, i + 2)
                return window.map { filled[$0] }.reduce(0, +) / Float(window.count)
            }
            return eye
        }

        /// Bilinear luminance at a crop point (pixel edges at integers).
        func sample(_ luminance: [Float], _ size: Int, _ q: SIMD2<Float>) -> Float {
            let x = min(max(q.x - 0.5, 0), Float(size - 1)), y = min(max(q.y - 0.5, 0), Float(size - 1))
            let x0 = min(Int(x), size - 2), y0 = min(Int(y), size - 2), fx = x - Float(x0), fy = y - Float(y0)
            let i = y0 * size + x0
            let top: Float = luminance[i] * (1 - fx) + luminance[i + 1] * fx
            let bottom: Float = luminance[i + size] * (1 - fx) + luminance[i + size + 1] * fx
            return top * (1 - fy) + bottom * fy
        }
        /// Inside the eye opening (between the lids): what shows the eyeball in this image.
        func inOpening(_ q: SIMD2<Float>) -> Bool {
            let (u, v) = local(q)
            return u > 0 && u < 1 && v > lash(u) && v < lowerLid(u)
        }

        /// Cramer's rule for a 3×3 system.
        static func solve3(_ m: [[Float]], _ r: [Float]) -> [Float]? {
            func det(_ a: [[Float]]) -> Float {
                a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                    + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
            }
            let d = det(m)
            guard abs(d) > 1e-9 else { return nil }
            return (0..<3).map { j in det(m.enumerated().map { row in row.element.enumerated().map { $0.offset == j ? r[row.offset] : $0.element } }) / d }
        }
    }

    /// Per eye: the source and target frames (nil where the landmarks give no usable eye).
    let pairs: [(source: Eye, target: Eye)]

    /// `sourceEyes`: from `sourceEyes(landmarks:luminance:size:)`, once per source; `targetLandmarks`: 68 × (x, y)
    /// interleaved, crop pixels.
    init(sourceEyes: [Eye?], targetLandmarks t: [Float]) {
        pairs = zip(Self.eyes, sourceEyes).compactMap { eye, source in
            guard let a = source, var b = Eye(eye, landmarks: { SIMD2(t[2 * $0], t[2 * $0 + 1]) }) else { return nil }
            // The target's lid in the photo's terms: moved by as much as the source's photo lash line lies off its model
            // lid, so an unmoved eye stays open where the photo's is. Before, the photo driven by itself lost a strip of
            // its eye wherever the model's lid lay lower than the photo's lash line (the astronaut's right eye, narrower
            // in every frame). A closing lid still reaches the lower lid: the offset fades out as it comes down.
            b.photoOffset = ((a.upper.a - a.modelUpper.a, a.upper.b - a.modelUpper.b), a.modelUpper)
            return (a, b)
        }
    }

    /// The source's eyes from its projected landmarks; with the source crop's luminance (S×S, row-major), each upper
    /// lid is moved onto the photo's own lash line: the fitted 3DMM's lid misses it by a pixel or two, enough to
    /// stretch the lashes or the iris over a closing lid.
    static func sourceEyes(landmarks s: [Float], luminance: [Float]?, size: Int) -> [Eye?] {
        eyes.map { eye in
            guard let model = Eye(eye, landmarks: { SIMD2(s[2 * $0], s[2 * $0 + 1]) }) else { return nil }
            guard let luminance else { return model }
            return (model.onLashLine(luminance: luminance, size: size) ?? model).withSkinLimit(luminance: luminance, size: size)
        }
    }

    /// Whether a source point lies in the source's eye opening (the real eyeball).
    func inSourceOpening(_ q: SIMD2<Float>) -> Bool { pairs.contains { $0.source.inOpening(q) } }
    /// Whether a target pixel lies in the target's eye opening.
    func inTargetOpening(_ q: SIMD2<Float>) -> Bool { pairs.contains { $0.target.inOpening(q) } }

    /// For a target pixel centre `q`: the source point of the stretched lid and its weight (1 inside the lid, falling
    /// to 0 at the band's top where the 3DMM correspondence takes over), or nil outside every closing lid.
    ///
    /// `detail` is where the lid's fine texture comes from: stretching a band of lid skin a few pixels high over the
    /// whole eye keeps its grain along the lid but smooths it across (a smooth, streaked lid, issue #20: texture 0.2–0.45
    /// of the skin's). The skin just below the eye, unstretched (one eye width per eye width, mirrored so the lash line
    /// lies nearest the eye), gives the lid back the grain of the person's own skin as a detail layer.
    /// `skin` is the part of `weight` that is stretched skin rather than the lash line (whose darkness is its own, not
    /// the light of the skin around it).
    func lidSource(_ q: SIMD2<Float>) -> (point: SIMD2<Float>, weight: Float, skin: Float, detail: SIMD2<Float>)? {
        for (src, tgt) in pairs {
            let (u, v) = tgt.local(q)
            guard u > 0, u < 1 else { continue }
            let topT = tgt.top(u), lashT = tgt.lash(u), topS = src.skinTop(u), lashS = src.lash(u)
            let heightT = lashT - topT, heightS = lashS - topS
            // A lid nearly down on the lower lid also covers the sliver left between them: lash line there.
            let bottomT = tgt.lowerLid(u) - lashT < Self.sliver ? max(lashT, tgt.lowerLid(u)) : lashT
            guard v >= topT, v <= bottomT, heightS > 0, heightT > 0 else { continue }
            let closing = smoothstep(Self.closingStart, 2 * Self.closingStart, lashT - lashS)
            guard closing > 0 else { continue }
            // The lash line keeps its height; the skin above it stretches over the rest. (Mirroring the skin band
            // instead of stretching it, to keep its grain, repeats whatever lash or crease shadow the band holds.)
            // Towards the corners the lashes thin out and the lash line found in the photo is least sure: the lash part
            // tapers, and the skin stops short of it by `lashClearance` so no blurred lash is stretched with the skin.
            let taper = min(1, 4 * u * (1 - u) / 0.75)
            let lash = min(Self.lashHeight * taper, 0.35 * heightS), below = max(0, lashT - v)
            // Near the corners the band is thin and lies on the lashes that fan out there: the clearance grows and the
            // skin is taken from higher up (never from a band under a fifth of an eye width).
            let skinEnd = lashS - lash - Self.lashClearance * (1 + 3 * (1 - taper))
            let skinTop = min(topS, skinEnd - (src.skinLimit == nil ? 0.2 : Self.minimumSkin))
            let vs: Float
            if heightT <= lash { vs = lashS - below * heightS / heightT }
            else if below <= lash { vs = lashS - below }
            else { vs = skinTop + (v - topT) * (skinEnd - skinTop) / (heightT - lash) }
            // The lid fades into the 3DMM correspondence at its top and, beyond the eye's corners, at its ends.
            let fromTop = smoothstep(0, 0.25, (v - topT) / heightT)
            let fromEnds = smoothstep(0, Self.outerMargin, u) * smoothstep(0, Self.innerMargin, 1 - u)
            let weight = closing * fromTop * fromEnds
            let skin = heightT <= lash ? 0 : weight * smoothstep(lash, 1.5 * lash + 1e-4, below)
            let vd = src.lowerLid(u) + Self.detailGap + min(max(bottomT - v, 0), Self.detailDepth)
            return (src.point(u: u, v: min(vs, lashS)), weight, skin, src.point(u: u, v: vd))
        }
        return nil
    }
}
