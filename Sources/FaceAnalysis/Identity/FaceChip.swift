import Foundation
import Media

/// Where to cut a face chip, as dlib describes it (chip_details): a rectangle in the image, rotated
/// by `angle` about its centre, resampled to `size`×`size` pixels.
public struct FaceChipAlignment: Sendable, Equatable {
    public var left: Double, top: Double, right: Double, bottom: Double
    public var angle: Double
    public var size: Int

    /// dlib's get_face_chip_details(shape, size, padding) for the 5-point model: the similarity that
    /// puts the five points where dlib's template wants them in a chip with `padding` (fraction of the
    /// face size added on each side). dlib's recognition network wants (150, 0.25).
    public init(landmarks: FaceLandmarks5, size: Int = 150, padding: Double = 0.25) throws {
        guard size > 0, size <= 4096, padding >= 0, padding.isFinite else {
            throw FaceIdentityError.invalidInput("chip size \(size) and padding \(padding) must be positive")
        }
        let template: [SIMD2<Double>] = [SIMD2(0.8595674595992, 0.2134981538014), SIMD2(0.6460604764104, 0.2289674387677),
                                         SIMD2(0.1205750620789, 0.2137274526848), SIMD2(0.3340850613712, 0.2290642403242),
                                         SIMD2(0.4901123135679, 0.6277975316475)]
        let s = Double(size)
        let chipPoints = template.map { ($0 + SIMD2(repeating: padding)) / (2 * padding + 1) * s }
        let sim = DlibGeometry.similarity(from: chipPoints, to: landmarks.points)
        // chip_details(chip_points, img_points, dims): rotation and scale from the similarity, the
        // rectangle centred on the image of the chip's centre.
        let scale = (sim.a * sim.a + sim.b * sim.b).squareRoot()
        guard scale > 0, scale.isFinite else { throw FaceIdentityError.invalidInput("degenerate face points \(landmarks.points)") }
        angle = atan2(sim.b, sim.a)
        let c = SIMD2(s / 2, s / 2)
        let center = SIMD2(sim.a * c.x - sim.b * c.y, sim.b * c.x + sim.a * c.y) + sim.t
        let rect = DRect(center: center, width: s * scale, height: s * scale)
        (left, top, right, bottom, self.size) = (rect.left, rect.top, rect.right, rect.bottom, size)
    }

    var rect: DRect { DRect(left: left, top: top, right: right, bottom: bottom) }

    /// dlib's extract_image_chip with bilinear interpolation: when the chip is much smaller than its
    /// rectangle, dlib first shrinks the image with its 2:1 pyramid (5-tap [1 4 6 4 1] filter) until
    /// one more level would be smaller than the chip, then samples that level. Samples outside the
    /// image are black; interpolated values are truncated to bytes, as dlib's vector_to_pixel does.
    public func extract(from image: RGBImage) throws -> RGBImage {
        let chipArea = Double(size * size)
        let rect = self.rect
        var depth = 0
        var grow = 2.0
        var r = rect.down
        while r.area > chipArea {
            r = r.down
            depth += 1
            grow = grow * 2 + 2  // two pixels of border per level against edge effects
        }
        let center = rect.center
        let rotated = DRect(bounding: [rect.topLeft, rect.topRight, rect.bottomLeft, rect.bottomRight]
            .map { DlibGeometry.rotate($0, about: center, by: angle) })
        let whole = DRect(left: 0, top: 0, right: Double(image.width - 1), bottom: Double(image.height - 1))
        let bounds = rotated.grown(grow).intersect(whole).roundedToPixels
        var out = try RGBImage(width: size, height: size)
        guard !bounds.isEmpty else { return out }  // the chip lies outside the image: all black

        var source = try image.cropped(x: Int(bounds.left), y: Int(bounds.top), width: Int(bounds.width), height: Int(bounds.height))
        var local = rect.translated(by: -bounds.topLeft)
        while local.down.area > chipArea {
            source = Self.pyramidDown(source)
            local = local.down
        }
        let c = local.center
        let a = DlibGeometry.rotate(local.topLeft, about: c, by: angle)
        let b = DlibGeometry.rotate(local.topRight, about: c, by: angle)
        let d = DlibGeometry.rotate(local.bottomLeft, about: c, by: angle)
        let last = Double(size - 1)
        let (du, dv) = ((b - a) / last, (d - a) / last)
        Self.sampleBilinear(source, origin: a, du: du, dv: dv, into: &out)
        return out
    }

    /// transform_image with interpolate_bilinear: chip pixel (c, r) reads the source at
    /// origin + c·du + r·dv.
    static func sampleBilinear(_ src: RGBImage, origin: SIMD2<Double>, du: SIMD2<Double>, dv: SIMD2<Double>, into out: inout RGBImage) {
        let (w, h, n) = (src.width, src.height, out.width)
        src.pixels.withUnsafeBufferPointer { s in
            out.pixels.withUnsafeMutableBufferPointer { o in
                for row in 0..<out.height {
                    for col in 0..<n {
                        let p = origin + Double(col) * du + Double(row) * dv
                        let (fx, fy) = (p.x.rounded(.down), p.y.rounded(.down))
                        let dst = 3 * (row * n + col)
                        guard fx >= 0, fy >= 0, fx + 1 < Double(w), fy + 1 < Double(h) else {
                            o[dst] = 0; o[dst + 1] = 0; o[dst + 2] = 0
                            continue
                        }
                        let (x, y) = (Int(fx), Int(fy))
                        let (lr, tb) = (p.x - fx, p.y - fy)
                        let tl = 3 * (y * w + x), tr = tl + 3, bl = tl + 3 * w, br = bl + 3
                        for ch in 0..<3 {
                            let v = (1 - tb) * ((1 - lr) * Double(s[tl + ch]) + lr * Double(s[tr + ch]))
                                + tb * ((1 - lr) * Double(s[bl + ch]) + lr * Double(s[br + ch]))
                            o[dst + ch] = UInt8(v)  // static_cast<unsigned char>: truncation
                        }
                    }
                }
            }
        }
    }

    /// dlib's pyramid_down<2> for RGB images: rows filtered with [1 4 6 4 1] at every other column
    /// (output width (w−3)/2), then columns at every other row from row 2 (output height (h−3)/2),
    /// integer sums divided by 256 (truncating). Images of 8 pixels or less on a side vanish.
    static func pyramidDown(_ img: RGBImage) -> RGBImage {
        let (w, h) = (img.width, img.height)
        guard w > 8, h > 8 else { return (try? RGBImage(width: 1, height: 1)) ?? img }
        let tw = (w - 3) / 2, oh = (h - 3) / 2
        var temp = [Int](repeating: 0, count: h * tw * 3)
        img.pixels.withUnsafeBufferPointer { s in
            for r in 0..<h {
                for c in 0..<tw {
                    let base = 3 * (r * w + 2 * c)
                    for ch in 0..<3 {
                        temp[3 * (r * tw + c) + ch] = Int(s[base + ch]) + 4 * Int(s[base + 3 + ch]) + 6 * Int(s[base + 6 + ch])
                            + 4 * Int(s[base + 9 + ch]) + Int(s[base + 12 + ch])
                    }
                }
            }
        }
        var px = [UInt8](repeating: 0, count: oh * tw * 3)
        for dr in 0..<oh {
            let r = 2 + 2 * dr
            for i in 0..<(tw * 3) {
                let v = temp[(r - 2) * tw * 3 + i] + 4 * temp[(r - 1) * tw * 3 + i] + 6 * temp[r * tw * 3 + i]
                    + 4 * temp[(r + 1) * tw * 3 + i] + temp[(r + 2) * tw * 3 + i]
                px[dr * tw * 3 + i] = UInt8(v / 256)
            }
        }
        return (try? RGBImage(width: tw, height: oh, pixels: px)) ?? img
    }
}
