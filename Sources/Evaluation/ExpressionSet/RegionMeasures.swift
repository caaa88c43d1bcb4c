import Foundation
import Media

/// CIELAB (D65 white, CIE 1976) of 8-bit sRGB, and the colour difference ΔE*ab (CIE76).
public enum CIELab {
    /// L* in 0…100, a* (green − / red +), b* (blue − / yellow +).
    public static func lab(r: UInt8, g: UInt8, b: UInt8) -> SIMD3<Double> {
        func linear(_ v: UInt8) -> Double {
            let c = Double(v) / 255
            return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        let (lr, lg, lb) = (linear(r), linear(g), linear(b))
        // sRGB → XYZ (IEC 61966-2-1), normalised by the D65 white.
        let x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / 0.95047
        let y = 0.2126729 * lr + 0.7151522 * lg + 0.0721750 * lb
        let z = (0.0193339 * lr + 0.1191920 * lg + 0.9503041 * lb) / 1.08883
        func f(_ t: Double) -> Double { t > 216.0 / 24389 ? cbrt(t) : (24389.0 / 27 * t + 16) / 116 }
        let (fx, fy, fz) = (f(x), f(y), f(z))
        return SIMD3(116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    }

    public static func deltaE(_ p: SIMD3<Double>, _ q: SIMD3<Double>) -> Double {
        let d = p - q
        return (d * d).sum().squareRoot()
    }
}

/// A set of pixels of one image (indices y·width + x).
public struct PixelRegion: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [Int]

    public init(width: Int, height: Int, pixels: [Int]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public var count: Int { pixels.count }

    /// The pixels whose centres (x + ½, y + ½) lie inside `polygon` (even-odd rule; vertices in pixel coordinates,
    /// origin at the image's top-left corner: the renderer's convention).
    public static func polygon(_ polygon: [SIMD2<Double>], width: Int, height: Int) -> PixelRegion {
        guard polygon.count >= 3 else { return PixelRegion(width: width, height: height, pixels: []) }
        let y0 = max(0, Int(floor(polygon.map(\.y).min()!))), y1 = min(height - 1, Int(ceil(polygon.map(\.y).max()!)))
        let x0 = max(0, Int(floor(polygon.map(\.x).min()!))), x1 = min(width - 1, Int(ceil(polygon.map(\.x).max()!)))
        var inside: [Int] = []
        guard y0 <= y1, x0 <= x1 else { return PixelRegion(width: width, height: height, pixels: []) }
        for y in y0...y1 {
            for x in x0...x1 where contains(polygon, SIMD2(Double(x) + 0.5, Double(y) + 0.5)) { inside.append(y * width + x) }
        }
        return PixelRegion(width: width, height: height, pixels: inside)
    }

    static func contains(_ polygon: [SIMD2<Double>], _ p: SIMD2<Double>) -> Bool {
        var inside = false
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let a = polygon[i], b = polygon[j]
            if (a.y > p.y) != (b.y > p.y), p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x { inside.toggle() }
            j = i
        }
        return inside
    }

    /// The pixels in both.
    public func intersecting(_ other: PixelRegion) -> PixelRegion {
        let kept = Set(other.pixels)
        return PixelRegion(width: width, height: height, pixels: pixels.filter { kept.contains($0) })
    }

    /// These pixels less those of `other`.
    public func subtracting(_ other: PixelRegion) -> PixelRegion {
        let removed = Set(other.pixels)
        return PixelRegion(width: width, height: height, pixels: pixels.filter { !removed.contains($0) })
    }
}

/// Colour and texture statistics of image regions.
public struct LabImage: Sendable {
    public let width: Int
    public let height: Int
    /// L*, a*, b* per pixel, row-major.
    public let lab: [SIMD3<Double>]

    public init(_ image: RGBImage) {
        width = image.width
        height = image.height
        var lab: [SIMD3<Double>] = []
        lab.reserveCapacity(width * height)
        for k in 0..<(width * height) {
            let o = 3 * k
            lab.append(CIELab.lab(r: image.pixels[o], g: image.pixels[o + 1], b: image.pixels[o + 2]))
        }
        self.lab = lab
    }

    /// Mean L*a*b* over the region (nil when it is empty).
    public func mean(_ r: PixelRegion) -> SIMD3<Double>? {
        guard r.count > 0 else { return nil }
        return r.pixels.reduce(SIMD3<Double>.zero) { $0 + lab[$1] } / Double(r.count)
    }

    /// Fraction of the region's pixels with a* < 0 (a green cast; skin, lips, teeth and a mouth's shadow all have a* > 0).
    public func greenFraction(_ r: PixelRegion) -> Double? {
        guard r.count > 0 else { return nil }
        return Double(r.pixels.filter { lab[$0].x.isNaN || lab[$0].y < 0 }.count) / Double(r.count)
    }

    /// L* of the region's pixels.
    public func lightness(_ r: PixelRegion) -> [Double] { r.pixels.map { lab[$0].x } }

    /// Luminance texture: the RMS of L* after each pixel's local mean is removed (the mean of the region's pixels in
    /// the 5 × 5 window around it). Pores, fine wrinkles and lashes stay; a flat fill, a smooth shading gradient and a
    /// blurred smear (which a plane fit would still count, through its low-frequency blobs) do not. The window stops at
    /// the region's edge, so the contrast between the region and its surroundings is not texture. Nil below 6 pixels.
    public func texture(_ r: PixelRegion, radius: Int = 2) -> Double? {
        guard r.count >= 6 else { return nil }
        var inside = [Bool](repeating: false, count: width * height)
        for p in r.pixels { inside[p] = true }
        var sum = 0.0
        for p in r.pixels {
            let x = p % width, y = p / width
            var local = 0.0, n = 0.0
            for yy in max(0, y - radius)...min(height - 1, y + radius) {
                for xx in max(0, x - radius)...min(width - 1, x + radius) where inside[yy * width + xx] {
                    local += lab[yy * width + xx].x
                    n += 1
                }
            }
            let e = lab[p].x - local / n
            sum += e * e
        }
        return (sum / Double(r.count)).squareRoot()
    }
}

/// Geometry read from landmarks.
public enum FaceGeometry {
    /// Face Mesh's six eye points per eye (p1 outer/inner corner … in the order of Soukupová & Čech's EAR):
    /// the subject's right eye (image left) and left eye (image right).
    public static let faceMeshRightEye = [33, 160, 158, 133, 153, 144]
    public static let faceMeshLeftEye = [263, 387, 385, 362, 380, 373]

    /// Eye aspect ratio (|p2 − p6| + |p3 − p5|) / (2·|p1 − p4|) (Soukupová & Čech 2016): ≈ 0.25–0.35 open, < 0.1 closed.
    public static func eyeAspectRatio(_ p: [SIMD2<Double>]) -> Double {
        precondition(p.count == 6)
        let width = Landmarks.distance(p[0], p[3])
        guard width > 0 else { return 0 }
        return (Landmarks.distance(p[1], p[5]) + Landmarks.distance(p[2], p[4])) / (2 * width)
    }

    /// EAR of one eye from Face Mesh's 468 points.
    public static func eyeAspectRatio(faceMesh l: [SIMD2<Double>], leftEye: Bool) -> Double {
        eyeAspectRatio((leftEye ? faceMeshLeftEye : faceMeshRightEye).map { l[$0] })
    }

    /// iBUG-68 eye openings: the subject's right eye is 36–41 (image left), the left eye 42–47.
    public static func ibugEye(leftEye: Bool) -> [Int] { leftEye ? Array(42...47) : Array(36...41) }

    /// The band of skin just below an eye (iBUG-68 points): from the lower lid (40–41, or 46–47) down half an eye
    /// height, between the lower lid's two points widened to the eye's corners. The lid of a closed eye should have
    /// the colour and the texture of this skin.
    public static func skinBelowEye(_ l: [SIMD2<Double>], leftEye: Bool, width: Int, height: Int) -> PixelRegion {
        let e = ibugEye(leftEye: leftEye).map { l[$0] }
        // e[0], e[3]: corners; e[1], e[2]: upper lid; e[4], e[5]: lower lid (iBUG order, clockwise on screen).
        let eyeHeight = max(abs(((e[1] + e[2]) / 2 - (e[4] + e[5]) / 2).y), 0.25 * Landmarks.distance(e[0], e[3]))
        let drop = SIMD2(0.0, 0.5 * eyeHeight)
        let lowerLid = [e[3], e[4], e[5], e[0]]
        // Start a tenth of an eye height under the lid line (the lashes) and go half an eye height down.
        let top = lowerLid.map { $0 + SIMD2(0, 0.1 * eyeHeight) }
        let polygon = top + top.reversed().map { $0 + drop }
        return PixelRegion.polygon(polygon, width: width, height: height)
    }

    /// The mouth opening of iBUG-68 points: the inner-lip corners (60, 64), the upper inner lip (61–63), the lower inner
    /// lip's centre (66), and in place of 65 and 67 the points under 63 and 61 on the parabola through 60, 66 and 64
    /// (in the mouth's own axis), all inside the outer lip contour (48–59). The morphable model's 65 and 67 fold below
    /// its outer lower lip (on the astronaut's fit: 65 at y 184 and 67 at 191 under 55 at 180 and 59 at 177, in a 256²
    /// crop), which made 60–67 a self-crossing polygon reaching into the chin.
    public static func innerMouth(_ l: [SIMD2<Double>], width: Int, height: Int) -> PixelRegion {
        let a = l[60], b = l[64], axis = b - a
        let length2 = (axis * axis).sum()
        var polygon = [60, 61, 62, 63, 64].map { l[$0] }
        if length2 > 0 {
            let normal = SIMD2(-axis.y, axis.x) / length2.squareRoot()
            func local(_ p: SIMD2<Double>) -> (u: Double, v: Double) { (((p - a) * axis).sum() / length2, ((p - a) * normal).sum()) }
            let m = local(l[66])
            // v(u) = v_m · u(1 − u) / (u_m(1 − u_m)): zero at the corners, through 66.
            let k = m.u > 0.05 && m.u < 0.95 ? m.v / (m.u * (1 - m.u)) : 0
            for upper in [63, 61] {
                let u = min(max(local(l[upper]).u, 0), 1)
                let v = k * u * (1 - u)
                polygon.append(a + axis * u + normal * v)
                if upper == 63 { polygon.append(l[66]) }
            }
        } else {
            polygon.append(l[66])
        }
        return PixelRegion.polygon(polygon, width: width, height: height).intersecting(outerMouth(l, width: width, height: height))
    }

    /// The outer lip contour (48–59): lips and opening.
    public static func outerMouth(_ l: [SIMD2<Double>], width: Int, height: Int) -> PixelRegion {
        PixelRegion.polygon((48...59).map { l[$0] }, width: width, height: height)
    }

    /// Inner-lip gap (62 ↔ 66) over mouth width (48 ↔ 54) of iBUG-68 points.
    public static func ibugLipGap(_ l: [SIMD2<Double>]) -> Double {
        let w = Landmarks.distance(l[48], l[54])
        return w > 0 ? Landmarks.distance(l[62], l[66]) / w : 0
    }

    /// Inner-lip gap (13 ↔ 14) over mouth width (61 ↔ 291) of Face Mesh points (`FaceMeasurement.mouthOpening`).
    public static func faceMeshLipGap(_ l: [SIMD2<Double>]) -> Double {
        let w = Landmarks.distance(l[61], l[291])
        return w > 0 ? Landmarks.distance(l[13], l[14]) / w : 0
    }
}
