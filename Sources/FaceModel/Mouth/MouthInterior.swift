import Foundation
import Torch

/// The colours of a person's mouth interior, estimated from their photo (sRGB in [0, 1]).
public struct MouthPalette: Equatable, Sendable {
    public var teeth: SIMD3<Float>
    public var gums: SIMD3<Float>
    public var tongue: SIMD3<Float>
    public var cavity: SIMD3<Float>
    /// Whether `teeth` was measured on the photo's own teeth (else made from its skin and light).
    public var teethFromPhoto: Bool

    public init(teeth: SIMD3<Float>, gums: SIMD3<Float>, tongue: SIMD3<Float>, cavity: SIMD3<Float>, teethFromPhoto: Bool) {
        self.teeth = teeth
        self.gums = gums
        self.tongue = tongue
        self.cavity = cavity
        self.teethFromPhoto = teethFromPhoto
    }

    /// From the lips, the cheeks and (when the photo shows them) the teeth of a portrait crop.
    /// Tongue, gums and cavity are the lips' own colour darkened as a mouth interior is, so they take the person's
    /// colouring and the photo's light and white balance; teeth are the photo's teeth, or an off-white at the
    /// brightness of the lit skin, tinted by it.
    public static func estimate(lips: SIMD3<Float>, skin: SIMD3<Float>, teethPixels: [SIMD3<Float>]) -> MouthPalette {
        func luma(_ c: SIMD3<Float>) -> Float { 0.299 * c.x + 0.587 * c.y + 0.114 * c.z }
        let tongue = simd_clamp01(lips * SIMD3(0.86, 0.62, 0.64))
        let gums = simd_clamp01(lips * SIMD3(1.04, 0.86, 0.9))
        let cavity = simd_clamp01(lips * SIMD3(0.34, 0.19, 0.19))
        // The brightest half of the pixels the photo shows between its lips that are lighter and greyer than the lips.
        // Teeth are much lighter than the lips, greyer, and about as light as the lit skin or lighter; a lip's
        // highlight or a glimpse of the wet inner lip is not.
        func saturation(_ c: SIMD3<Float>) -> Float { (c.max() - c.min()) / max(c.max(), 1e-3) }
        let lipsLuma = luma(lips), skinLuma = luma(skin), greyer = min(0.35, 0.6 * saturation(lips))
        let candidates = teethPixels.filter { luma($0) > max(lipsLuma + 0.15, 0.8 * skinLuma) && saturation($0) < greyer }
            .sorted { luma($0) > luma($1) }
        if candidates.count >= 12 {
            let brightest = candidates.prefix(max(6, candidates.count / 2))
            let mean = brightest.reduce(.zero, +) / Float(brightest.count)
            return MouthPalette(teeth: mean, gums: gums, tongue: tongue, cavity: cavity, teethFromPhoto: true)
        }
        // Ivory at about 1.3 times the skin's brightness, with a sixth of the skin's tint (the light's colour).
        let level = min(max(1.3 * luma(skin), 0.45), 0.88)
        let tint = skin / max(luma(skin), 1e-3)
        let ivory = SIMD3<Float>(1.0, 0.97, 0.88) * (SIMD3(repeating: 5.0 / 6) + tint / 6)
        return MouthPalette(teeth: simd_clamp01(ivory / max(luma(ivory), 1e-3) * level), gums: gums, tongue: tongue, cavity: cavity,
                            teethFromPhoto: false)
    }
}

@inline(__always) func simd_clamp01(_ c: SIMD3<Float>) -> SIMD3<Float> { c.clamped(lowerBound: .zero, upperBound: SIMD3(repeating: 1)) }

/// The inside of an open mouth (issue #20), drawn at any resolution inside the lips of ρ̂: upper teeth fixed to the skull,
/// lower teeth and the tongue moving with the jaw, gums above the upper teeth when the upper lip lifts, a dark cavity.
///
/// The morphable model's own interior (a tongue and a strip of lower teeth that ride with the lips) does not look like a
/// mouth, so the interior is a proxy built from the model's lip ring, as GaussianAvatars builds teeth from FLAME's:
/// the upper teeth's edge hangs a little below where the inner upper lip lies at rest (ρ̂ with β = 0: only the skull and
/// the pose move it); the lower teeth's edge sits a little above where the inner lower lip lies when only the jaw
/// units of ρ̂ act. Shading is by place in the mouth: the upper lip shadows the upper teeth, teeth and tongue darken
/// towards the corners (they curve back into the mouth), tooth boundaries are thin darker lines, lower teeth lie in the
/// upper teeth's shadow. Colours come from a `MouthPalette` of the source photo.
public final class MouthInterior: @unchecked Sendable {
    let renderer: FaceRenderer
    let landmarks: [Int]
    /// Columns of β that move the jaw (the lower teeth follow them).
    let jawUnits: [Int]

    /// Visible upper teeth below the rest upper lip, and lower teeth above the jaw's lower lip (mouth widths).
    public static let upperShow: Float = 0.07
    public static let lowerShow: Float = 0.03
    static let minimumShow: Float = 0.07
    /// Half the width of the teeth rows (mouth widths from the centre).
    static let upperHalfWidth: Float = 0.42
    static let lowerHalfWidth: Float = 0.34
    /// Tooth boundaries (mouth widths from the centre): central incisors, laterals, canines, premolars.
    static let upperGaps: [Float] = [0, 0.15, 0.26, 0.34, 0.4]
    static let lowerGaps: [Float] = [0, 0.08, 0.16, 0.23, 0.29]

    public init(renderer: FaceRenderer) throws {
        self.renderer = renderer
        landmarks = try renderer.model.landmarkIndices.toArray(Int64.self).map { Int($0) }
        jawUnits = ["jawOpen", "jawLeft", "jawRight", "jawForward"].compactMap { renderer.model.expressionNames.firstIndex(of: $0) }
    }

    /// The 68 landmarks of every frame of `c`, projected into a size² crop: N × 68 × (x, y).
    public func landmarks(_ c: Coefficients, size: Int) throws -> [[SIMD2<Float>]] {
        let projected = try Torch.noGrad { try renderer.geometry(c, camera: .deep3DFaceRecon(size: size)).projected.contiguous().floats() }
        let v = renderer.model.vertexCount
        return (0..<c.batch).map { b in landmarks.map { SIMD2(projected[(b * v + $0) * 2], projected[(b * v + $0) * 2 + 1]) } }
    }

    /// `c` with β replaced: every unit set to 0 except `keep`.
    func withExpression(_ c: Coefficients, keeping keep: [Int]) throws -> Coefficients {
        var rows = try c.tensor.contiguous().floats()
        let e = CoefficientPart.expression.range
        for b in 0..<c.batch {
            for k in 0..<e.count where !keep.contains(k) { rows[b * Coefficients.count + e.lowerBound + k] = 0 }
        }
        return try Coefficients(Tensor(rows, shape: [c.batch, Coefficients.count]))
    }

    /// The palette of a source crop (1×3×h×w in [-1, 1]) with its coefficients.
    public func palette(image: Tensor, coefficients: Coefficients) throws -> MouthPalette {
        let size = image.size(2)
        guard image.size(3) == size else { throw FaceModelError.invalidArgument("the source crop must be square") }
        let pixels = try ((image.select(0, 0) + 1.0) * 0.5).contiguous().floats(), plane = size * size
        let p = try landmarks(coefficients.frame(0), size: size)[0]
        func colour(_ i: Int) -> SIMD3<Float> { SIMD3(pixels[i], pixels[plane + i], pixels[2 * plane + i]) }
        func mean(_ mask: [Bool]) -> SIMD3<Float>? {
            var sum = SIMD3<Float>.zero, n: Float = 0
            for i in 0..<plane where mask[i] { sum += colour(i); n += 1 }
            return n > 4 ? sum / n : nil
        }
        let inner = Polygon(Self.innerLipContour(p)).mask(size: size)
        let outer = Polygon((48...59).map { p[$0] }).mask(size: size)
        let lips = mean(zip(outer, inner).map { $0 && !$1 }) ?? SIMD3(0.7, 0.4, 0.4)
        // Cheeks: between the jaw line and the nose, below the eyes.
        let cheeks = zip(Polygon([p[1], p[2], p[3], p[48], p[31], p[40]]).mask(size: size),
                         Polygon([p[15], p[14], p[13], p[54], p[35], p[47]]).mask(size: size)).map { $0 || $1 }
        let skin = mean(cheeks) ?? lips
        let teeth = (0..<plane).filter { inner[$0] }.map(colour)
        return MouthPalette.estimate(lips: lips, skin: skin, teethPixels: teeth)
    }

    /// How far the lips of every frame of `c` are apart: the inner-lip gap (landmarks 62–66) over the mouth width (60–64).
    public func opening(_ c: Coefficients) throws -> [Float] {
        try landmarks(c, size: 256).map { Self.opening($0) }
    }

    static func opening(_ p: [SIMD2<Float>]) -> Float {
        func distance(_ a: SIMD2<Float>, _ b: SIMD2<Float>) -> Float { ((a - b) * (a - b)).sum().squareRoot() }
        return distance(p[62], p[66]) / max(distance(p[60], p[64]), 1e-3)
    }

    /// The mouth interior of every frame of `c` at size²: colour N×3×S×S in [-1, 1], coverage N×1×S×S (1 inside the
    /// inner lip contour of ρ̂, where the interior shows) and each frame's lip opening (`opening(_:)`).
    public func layer(_ c: Coefficients, size: Int, palette: MouthPalette) throws -> MouthLayer {
        let n = c.batch, plane = size * size
        let full = try landmarks(c, size: size)
        let rest = try landmarks(withExpression(c, keeping: []), size: size)
        let jaw = try landmarks(withExpression(c, keeping: jawUnits), size: size)
        var colour = [Float](repeating: -1, count: n * 3 * plane), coverage = [Float](repeating: 0, count: n * plane)
        for b in 0..<n {
            let p = full[b]
            let left = p[60], right = p[64]
            let width = ((right - left) * (right - left)).sum().squareRoot()
            guard width > 3 else { continue }
            let axisU = (right - left) / width
            var down = SIMD2<Float>(-axisU.y, axisU.x)
            if ((p[33] - left) * down).sum() > 0 { down = -down }   // the nose tip is above the mouth
            func local(_ q: SIMD2<Float>) -> SIMD2<Float> { SIMD2(((q - left) * axisU).sum() / width, ((q - left) * down).sum() / width) }
            // The inner lip contour, smoothed (the 8 landmarks make a zigzag), split into its upper and lower halves.
            let contour = Polygon.smoothed(Self.innerLipContour(p), iterations: 2)
            let half = contour.count / 2
            let upperLip = Curve(contour[0...half].map(local)), lowerLip = Curve((contour[half...] + [contour[0]]).map(local))
            // The skull-fixed teeth line: a parabola through the rest upper lip (its cupid's bow is not the teeth's).
            let restUpper = Parabola((60...64).map { local(rest[b][$0]) })
            let jawLower = Parabola([64, 65, 66, 67, 60].map { local(jaw[b][$0]) })
            let polygon = Polygon(contour), outerLips = Polygon((48...59).map { p[$0] })
            let box = polygon.bounds(size: size)
            guard !box.isEmpty else { continue }
            for y in box.rows { for x in box.columns {
                let q = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                guard polygon.contains(q), outerLips.contains(q) else { continue }
                let l = local(q), u = l.x - 0.5, v = l.y
                let lip = upperLip(l.x), opening = max(lowerLip(l.x) - lip, 0)
                // Upper teeth hang from the skull, but show at least a little and fill at most part of the opening
                // (a fitted β = 0 is not the person's true rest); lower teeth likewise from the jaw.
                let upperEdge = lip + min(max(restUpper(l.x) + Self.upperShow - lip, Self.minimumShow), 0.45 * opening)
                let lowerEdge = lowerLip(l.x) - min(max(lowerLip(l.x) - jawLower(l.x) + Self.lowerShow, Self.minimumShow / 2), 0.25 * opening)
                let side = 1 - smoothstep(0.18, 0.5, abs(u))
                // The cavity, with the tongue's back rising from the lower teeth in the middle.
                let tongueTop = lowerEdge - 0.45 * max(lowerEdge - upperEdge, 0) * max(0, 1 - (u / 0.36) * (u / 0.36))
                var c: SIMD3<Float>
                if v > tongueTop && abs(u) < 0.36 {
                    c = palette.tongue * (0.65 + 0.35 * smoothstep(tongueTop, lowerEdge, v)) * (0.6 + 0.4 * side)
                } else {
                    let nearLip = smoothstep(0, 0.06, min(abs(v - lip), abs(v - upperEdge)))
                    c = palette.cavity * (1 - 0.35 * nearLip) * (0.7 + 0.3 * side)
                }
                if v < upperEdge && abs(u) < Self.upperHalfWidth {
                    // Gums only where the upper lip is well above its rest line (the fitted rest is approximate), and
                    // never more than a thin band.
                    if v < min(restUpper(l.x) - 0.05, lip + 0.03) {
                        c = palette.gums * (0.75 + 0.25 * side)
                    } else {
                        // The upper lip's shadow on the top of the teeth; tooth boundaries show towards the edge.
                        let along = (v - lip) / max(upperEdge - lip, 1e-3)
                        let shade = (0.74 + 0.26 * smoothstep(0, 0.45, along)) * (1 - 0.06 * smoothstep(0.8, 1, along))
                        let gap = 1 - (1 - Self.gapShade(u, gaps: Self.upperGaps, width: width)) * smoothstep(0.2, 0.7, along)
                        // Towards the corners the teeth turn away into the mouth's warm shadow.
                        let shadow = palette.tongue * 0.5
                        c = shadow * (1 - side) + palette.teeth * shade * gap * side
                    }
                } else if v > lowerEdge && abs(u) < Self.lowerHalfWidth {
                    // Lower teeth: in the upper teeth's and lips' shadow, seen only in the middle.
                    let seen = (1 - smoothstep(0.1, 0.3, abs(u))) * 0.8
                    c = c * (1 - seen) + palette.teeth * 0.7 * Self.gapShade(u, gaps: Self.lowerGaps, width: width) * seen
                }
                c = simd_clamp01(c)
                let i = y * size + x
                for ch in 0..<3 { colour[(b * 3 + ch) * plane + i] = 2 * c[ch] - 1 }
                coverage[b * plane + i] = 1
            } }
        }
        return MouthLayer(colour: try Tensor(colour, shape: [n, 3, size, size]), coverage: try Tensor(coverage, shape: [n, 1, size, size]),
                          opening: full.map { Self.opening($0) })
    }

    /// The inner lip contour of iBUG-68 points (60–64 along the upper lip, then back along the lower): the model's 65 and
    /// 67 fold below its own outer lower lip, so the lower lip is the parabola through 60, 66 and 64 (zero at the
    /// corners in the mouth's axis), sampled under 63 and 61.
    static func innerLipContour(_ p: [SIMD2<Float>]) -> [SIMD2<Float>] {
        let a = p[60], axis = p[64] - a, length2 = (axis * axis).sum()
        guard length2 > 1 else { return (60...67).map { p[$0] } }
        let normal = SIMD2(-axis.y, axis.x) / length2.squareRoot()
        func u(_ q: SIMD2<Float>) -> Float { ((q - a) * axis).sum() / length2 }
        let um = u(p[66]), vm = ((p[66] - a) * normal).sum()
        let k = um > 0.05 && um < 0.95 ? vm / (um * (1 - um)) : 0
        func lower(under i: Int) -> SIMD2<Float> {
            let t = min(max(u(p[i]), 0), 1)
            return a + axis * t + normal * (k * t * (1 - t))
        }
        return (60...64).map { p[$0] } + [lower(under: 63), p[66], lower(under: 61)]
    }

    /// A thin darker line at each tooth boundary (about a pixel wide whatever the mouth's size).
    static func gapShade(_ u: Float, gaps: [Float], width: Float) -> Float {
        let halfLine = 0.6 / width
        let nearest = gaps.map { abs(abs(u) - $0) }.min() ?? 1
        return nearest < halfLine ? 0.84 + 0.16 * nearest / halfLine : 1
    }
}

/// A drawn mouth interior (`MouthInterior.layer`).
public struct MouthLayer {
    /// N×3×S×S in [-1, 1].
    public let colour: Tensor
    /// N×1×S×S: 1 inside the inner lips.
    public let coverage: Tensor
    /// Per frame: inner-lip gap over mouth width.
    public let opening: [Float]

    public init(colour: Tensor, coverage: Tensor, opening: [Float]) {
        self.colour = colour
        self.coverage = coverage
        self.opening = opening
    }
}

/// A closed polygon in crop pixels (even-odd rule).
struct Polygon {
    let points: [SIMD2<Float>]
    init(_ points: [SIMD2<Float>]) { self.points = points }

    func contains(_ q: SIMD2<Float>) -> Bool {
        var inside = false
        var j = points.count - 1
        for i in points.indices {
            let a = points[i], b = points[j]
            if (a.y > q.y) != (b.y > q.y), q.x < (b.x - a.x) * (q.y - a.y) / (b.y - a.y) + a.x { inside.toggle() }
            j = i
        }
        return inside
    }

    /// Pixel rows and columns that can hold the polygon, clipped to the crop.
    func bounds(size: Int) -> (rows: Range<Int>, columns: Range<Int>, isEmpty: Bool) {
        let xs = points.map(\.x), ys = points.map(\.y)
        let x0 = max(0, Int((xs.min() ?? 0).rounded(.down))), x1 = min(size, Int((xs.max() ?? 0).rounded(.up)) + 1)
        let y0 = max(0, Int((ys.min() ?? 0).rounded(.down))), y1 = min(size, Int((ys.max() ?? 0).rounded(.up)) + 1)
        return (y0..<max(y0, y1), x0..<max(x0, x1), x1 <= x0 || y1 <= y0)
    }

    /// A closed contour smoothed by Chaikin's corner cutting (each pass doubles the points).
    static func smoothed(_ points: [SIMD2<Float>], iterations: Int) -> [SIMD2<Float>] {
        var p = points
        for _ in 0..<iterations {
            p = p.indices.flatMap { i -> [SIMD2<Float>] in
                let a = p[i], b = p[(i + 1) % p.count]
                return [a * 0.75 + b * 0.25, a * 0.25 + b * 0.75]
            }
        }
        return p
    }

    /// Row-major size² mask of the pixel centres inside.
    func mask(size: Int) -> [Bool] {
        var m = [Bool](repeating: false, count: size * size)
        let box = bounds(size: size)
        guard !box.isEmpty else { return m }
        for y in box.rows { for x in box.columns where contains(SIMD2(Float(x) + 0.5, Float(y) + 0.5)) { m[y * size + x] = true } }
        return m
    }
}

/// v(u) = c0 + c1·u + c2·u², least squares through points (u, v) (a straight line when they are too few).
struct Parabola {
    let c: (Float, Float, Float)
    /// Nil when the points do not fix a parabola (fewer than three distinct u).
    init?(fitting points: [SIMD2<Float>]) {
        var m = [[Float]](repeating: [0, 0, 0], count: 3), r: [Float] = [0, 0, 0]
        for q in points {
            let basis: [Float] = [1, q.x, q.x * q.x]
            for j in 0..<3 {
                r[j] += basis[j] * q.y
                for k in 0..<3 { m[j][k] += basis[j] * basis[k] }
            }
        }
        guard let s = EyelidMap.Eye.solve3(m, r) else { return nil }
        c = (s[0], s[1], s[2])
    }
    /// The fit, or the points' mean height when they do not fix a parabola.
    init(_ points: [SIMD2<Float>]) {
        if let fit = Parabola(fitting: points) { self = fit } else {
            c = (points.isEmpty ? 0 : points.map(\.y).reduce(0, +) / Float(points.count), 0, 0)
        }
    }
    func callAsFunction(_ u: Float) -> Float { c.0 + c.1 * u + c.2 * u * u }
}

/// v(u) through points (u, v), piecewise linear in u, constant beyond the ends.
struct Curve {
    let points: [SIMD2<Float>]
    init(_ points: [SIMD2<Float>]) { self.points = points.sorted { $0.x < $1.x } }

    func callAsFunction(_ u: Float) -> Float {
        guard let first = points.first, let last = points.last else { return 0 }
        if u <= first.x { return first.y }
        if u >= last.x { return last.y }
        for (a, b) in zip(points, points.dropFirst()) where u <= b.x {
            let t = b.x > a.x ? (u - a.x) / (b.x - a.x) : 0
            return a.y + t * (b.y - a.y)
        }
        return last.y
    }
}
