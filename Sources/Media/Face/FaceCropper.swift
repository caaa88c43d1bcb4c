import Torch
import Foundation

/// Where a square crop came from: crop pixel (u, v) (pixel centres at +0.5) maps to source point
/// x = originX + (u + 0.5)·scale, y = originY + (v + 0.5)·scale. The crop covers the square
/// [originX, originX + side) × [originY, originY + side) of the source, side = cropSize · scale.
public struct CropTransform: Sendable, Equatable, Codable {
    public var originX: Double
    public var originY: Double
    /// Source pixels per crop pixel.
    public var scale: Double
    public var cropSize: Int
    public var sourceWidth: Int
    public var sourceHeight: Int

    public var side: Double { Double(cropSize) * scale }

    /// Source coordinates of a crop point (continuous coordinates, pixel edges at integers).
    public func toSource(u: Double, v: Double) -> (x: Double, y: Double) { (originX + u * scale, originY + v * scale) }
    /// Crop coordinates of a source point.
    public func toCrop(x: Double, y: Double) -> (u: Double, v: Double) { ((x - originX) / scale, (y - originY) / scale) }
    /// The same square sampled at another resolution.
    public func resized(to size: Int) -> CropTransform {
        CropTransform(originX: originX, originY: originY, scale: side / Double(size), cropSize: size,
                      sourceWidth: sourceWidth, sourceHeight: sourceHeight)
    }

    /// The pixel-aligned square of the picture that holds this crop, one picture pixel per pixel (cropping it copies
    /// pixels and pasting it back resamples nothing), or — when that square is wider than `maxSize` — this crop at
    /// `maxSize`.
    public func nativeSquare(maxSize: Int) -> CropTransform {
        let x0 = originX.rounded(.down), y0 = originY.rounded(.down)
        let n = Int(max((originX + side).rounded(.up) - x0, (originY + side).rounded(.up) - y0))
        guard n <= maxSize else { return resized(to: maxSize) }
        return CropTransform(originX: x0, originY: y0, scale: 1, cropSize: max(n, 1), sourceWidth: sourceWidth, sourceHeight: sourceHeight)
    }

    /// The largest centred square of a `width` × `height` picture, sampled at `size`.
    public static func centreSquare(width: Int, height: Int, size: Int) -> CropTransform {
        let side = Double(min(width, height))
        return CropTransform(originX: (Double(width) - side) / 2, originY: (Double(height) - side) / 2, scale: side / Double(size),
                             cropSize: size, sourceWidth: width, sourceHeight: height)
    }

    /// A face box in source pixels expressed in crop pixels (e.g. to check what the crop contains).
    public func toCrop(_ b: FaceBox) -> FaceBox {
        let (u, v) = toCrop(x: b.x, y: b.y)
        return FaceBox(x: u, y: v, width: b.width / scale, height: b.height / scale)
    }
}

/// FOMM-style square face crops (paper Sec. 5.1: faces cropped and resized to 256×256) and the
/// inverse: pasting a generated crop back into the full frame with a feathered edge.
///
/// Crop maths: the square is centred on the box centre (moved by `shiftY`·side, positive = down) with
/// side = `enlarge` · max(box width, box height). If `keepInside` and the square is no larger than
/// the image, it is shifted (not shrunk) to lie inside the image, so no padding is needed; otherwise
/// pixels outside the image repeat the nearest edge pixel. FOMM's crop-video.py grows a tight
/// landmark box by 10% per side (≈1.2×); `enlarge` 1.6 on a Haar box gives VoxCeleb-like framing
/// (whole head, a little neck).
public enum FaceCropper {
    /// The crop transform for `box` without sampling any pixels (use it to crop every frame of a
    /// video with one fixed square, as FOMM does).
    public static func transform(for box: FaceBox, imageWidth: Int, imageHeight: Int, size: Int = 256,
                                 enlarge: Double = 1.6, shiftY: Double = 0, keepInside: Bool = true) throws -> CropTransform {
        let b = try box.validated()
        try MediaLimits.check(width: imageWidth, height: imageHeight)
        try MediaLimits.check(width: size, height: size, what: "crop")
        guard enlarge.isFinite, enlarge > 0, enlarge <= 20 else { throw MediaError.invalidArgument("enlarge must be in (0, 20], got \(enlarge)") }
        guard shiftY.isFinite, abs(shiftY) <= 1 else { throw MediaError.invalidArgument("shiftY must be in [-1, 1], got \(shiftY)") }
        let side = enlarge * max(b.width, b.height)
        var x0 = b.centerX - side / 2
        var y0 = b.centerY + shiftY * side - side / 2
        if keepInside {
            if side <= Double(imageWidth) { x0 = min(max(0, x0), Double(imageWidth) - side) }
            if side <= Double(imageHeight) { y0 = min(max(0, y0), Double(imageHeight) - side) }
        }
        return CropTransform(originX: x0, originY: y0, scale: side / Double(size), cropSize: size,
                             sourceWidth: imageWidth, sourceHeight: imageHeight)
    }

    /// Crops the square around `box` and resizes it to size × size.
    public static func crop(_ image: RGBImage, box: FaceBox, size: Int = 256, enlarge: Double = 1.6,
                            shiftY: Double = 0, keepInside: Bool = true) throws -> (crop: RGBImage, transform: CropTransform) {
        let t = try transform(for: box, imageWidth: image.width, imageHeight: image.height, size: size,
                              enlarge: enlarge, shiftY: shiftY, keepInside: keepInside)
        return (try crop(image, transform: t), t)
    }

    /// Samples the crop described by `transform` (its source size must match the image). Each crop
    /// pixel averages k×k bilinear samples, k = ceil(scale) up to 4, so shrinking does not alias.
    public static func crop(_ image: RGBImage, transform t: CropTransform) throws -> RGBImage {
        guard t.sourceWidth == image.width, t.sourceHeight == image.height else {
            throw MediaError.invalidDimensions("transform is for a \(t.sourceWidth)x\(t.sourceHeight) image, got \(image.width)x\(image.height)")
        }
        guard t.scale.isFinite, t.scale > 0 else { throw MediaError.invalidArgument("crop scale must be positive") }
        try MediaLimits.check(width: t.cropSize, height: t.cropSize, what: "crop")
        let n = t.cropSize
        let k = min(4, max(1, Int(t.scale.rounded(.up))))
        var out = [UInt8](repeating: 0, count: n * n * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var acc = [Float](repeating: 0, count: 3)
                for v in 0..<n {
                    for u in 0..<n {
                        acc[0] = 0; acc[1] = 0; acc[2] = 0
                        for sy in 0..<k {
                            for sx in 0..<k {
                                let x = t.originX + (Double(u) + (Double(sx) + 0.5) / Double(k)) * t.scale
                                let y = t.originY + (Double(v) + (Double(sy) + 0.5) / Double(k)) * t.scale
                                bilinear(src, image.width, image.height, x - 0.5, y - 0.5, &acc)
                            }
                        }
                        let o = (v * n + u) * 3
                        let inv = 1 / Float(k * k)
                        for c in 0..<3 { dst[o + c] = UInt8(min(255, max(0, (acc[c] * inv).rounded()))) }
                    }
                }
            }
        }
        return try RGBImage(width: n, height: n, pixels: out)
    }

    /// Pastes `crop` (a generated face of any square size; it is resampled to the transform's square)
    /// into a copy of `frame` at the place `transform` describes. The blend weight is 1 inside and
    /// falls smoothly (smoothstep) to 0 over `feather` source pixels towards the square's edge, so no
    /// seam shows; `mask` (crop-sized, row-major, values in [0, 1], e.g. a face-parsing mask) is
    /// multiplied in. The result has the frame's size.
    public static func pasteBack(_ crop: RGBImage, into frame: RGBImage, transform t: CropTransform,
                                 feather: Double = 12, mask: [Float]? = nil) throws -> RGBImage {
        guard t.sourceWidth == frame.width, t.sourceHeight == frame.height else {
            throw MediaError.invalidDimensions("transform is for a \(t.sourceWidth)x\(t.sourceHeight) frame, got \(frame.width)x\(frame.height)")
        }
        guard crop.width == crop.height else { throw MediaError.invalidDimensions("crop must be square, got \(crop.width)x\(crop.height)") }
        guard feather.isFinite, feather >= 0 else { throw MediaError.invalidArgument("feather must be >= 0, got \(feather)") }
        if let mask, mask.count != crop.width * crop.height {
            throw MediaError.invalidArgument("mask has \(mask.count) values, the crop has \(crop.width * crop.height) pixels")
        }
        if let mask, mask.contains(where: { !$0.isFinite }) { throw MediaError.invalidArgument("mask contains NaN") }
        let side = t.side
        let cropScale = side / Double(crop.width) // source pixels per pixel of this crop
        let x0 = max(0, Int(t.originX.rounded(.down))), y0 = max(0, Int(t.originY.rounded(.down)))
        let x1 = min(frame.width, Int((t.originX + side).rounded(.up))), y1 = min(frame.height, Int((t.originY + side).rounded(.up)))
        var result = frame
        guard x0 < x1, y0 < y1 else { return result } // the square lies outside the frame
        let k = min(4, max(1, Int((1 / cropScale).rounded(.up)))) // supersample when the crop is larger than the region
        let cw = crop.width
        crop.pixels.withUnsafeBufferPointer { src in
            result.pixels.withUnsafeMutableBufferPointer { dst in
                var acc = [Float](repeating: 0, count: 3)
                for y in y0..<y1 {
                    for x in x0..<x1 {
                        // Distance (in frame pixels) from this pixel centre to the nearest square edge.
                        let px = Double(x) + 0.5, py = Double(y) + 0.5
                        let edge = min(px - t.originX, py - t.originY, t.originX + side - px, t.originY + side - py)
                        if edge <= 0 { continue }
                        var alpha = feather > 0 ? min(1, edge / feather) : 1
                        alpha = alpha * alpha * (3 - 2 * alpha)
                        let u = (px - t.originX) / cropScale, v = (py - t.originY) / cropScale
                        if let mask {
                            let mu = min(cw - 1, max(0, Int(u))), mv = min(cw - 1, max(0, Int(v)))
                            alpha *= Double(mask[mv * cw + mu])
                        }
                        if alpha <= 0 { continue }
                        acc[0] = 0; acc[1] = 0; acc[2] = 0
                        for sy in 0..<k {
                            for sx in 0..<k {
                                let su = (Double(x) + (Double(sx) + 0.5) / Double(k) - t.originX) / cropScale
                                let sv = (Double(y) + (Double(sy) + 0.5) / Double(k) - t.originY) / cropScale
                                bilinear(src, cw, cw, su - 0.5, sv - 0.5, &acc)
                            }
                        }
                        let o = (y * frame.width + x) * 3
                        let a = Float(alpha), inv = 1 / Float(k * k)
                        for c in 0..<3 {
                            let blended = a * acc[c] * inv + (1 - a) * Float(dst[o + c])
                            dst[o + c] = UInt8(min(255, max(0, blended.rounded())))
                        }
                    }
                }
            }
        }
        return result
    }

    /// Tensor convenience: `crop` is 3×S×S or 1×3×S×S in [-1, 1]; the result is the frame as 1×3×H×W.
    public static func pasteBack(tensor crop: Tensor, into frame: RGBImage, transform: CropTransform,
                                 feather: Double = 12) throws -> Tensor {
        try pasteBack(try RGBImage(tensor: crop), into: frame, transform: transform, feather: feather).toTensor()
    }

    /// Adds the bilinear sample at continuous pixel-index coordinates (x, y) to acc, clamping to the edge.
    @inline(__always)
    static func bilinear(_ p: UnsafeBufferPointer<UInt8>, _ w: Int, _ h: Int, _ x: Double, _ y: Double, _ acc: inout [Float]) {
        let cx = min(max(x, 0), Double(w - 1)), cy = min(max(y, 0), Double(h - 1))
        let ix = Int(cx), iy = Int(cy)
        let fx = Float(cx - Double(ix)), fy = Float(cy - Double(iy))
        let ix1 = min(ix + 1, w - 1), iy1 = min(iy + 1, h - 1)
        let a = (iy * w + ix) * 3, b = (iy * w + ix1) * 3, c = (iy1 * w + ix) * 3, d = (iy1 * w + ix1) * 3
        for ch in 0..<3 {
            let top = Float(p[a + ch]) * (1 - fx) + Float(p[b + ch]) * fx
            let bottom = Float(p[c + ch]) * (1 - fx) + Float(p[d + ch]) * fx
            acc[ch] += top * (1 - fy) + bottom * fy
        }
    }
}
