import Foundation

/// EXIF orientation (tag 0x0112) of JPEG files: cameras store pixels as the sensor saw them and record
/// how to turn them upright; decoders that ignore it show phone portraits sideways (and face detectors
/// then find no face). Values 1–8 as in the EXIF specification.
enum ExifOrientation {
    /// The orientation stored in a JPEG's APP1 "Exif" segment, or 1 when there is none or it is unreadable.
    static func read(jpeg data: Data) -> Int {
        let b = [UInt8](data.prefix(min(data.count, 1 << 17)))
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xDA || marker == 0xD9 { break } // start of scan / end of image
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard len >= 2, i + 2 + len <= b.count else { break }
            if marker == 0xE1, len >= 16, Array(b[(i + 4)..<(i + 10)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return parseTIFF(Array(b[(i + 10)..<(i + 2 + len)])) ?? 1
            }
            i += 2 + len
        }
        return 1
    }

    private static func parseTIFF(_ t: [UInt8]) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), let n = u16(ifd), n < 1000 else { return nil }
        for k in 0..<n {
            let e = ifd + 2 + 12 * k
            guard let tag = u16(e) else { return nil }
            if tag == 0x0112, let v = u16(e + 8), (1...8).contains(v) { return v }
        }
        return nil
    }

    /// `image` turned upright for `orientation`.
    static func apply(_ orientation: Int, to image: RGBImage) throws -> RGBImage {
        guard (2...8).contains(orientation) else { return image }
        let (w, h) = (image.width, image.height)
        let transposed = orientation >= 5
        let (ow, oh) = transposed ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        // The source pixel shown at (x, y) of the upright image.
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case 2: (sx, sy) = (w - 1 - x, y)          // mirrored
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)  // rotated 180°
                        case 4: (sx, sy) = (x, h - 1 - y)          // mirrored vertically
                        case 5: (sx, sy) = (y, x)                  // transposed
                        case 6: (sx, sy) = (y, h - 1 - x)          // rotate 90° clockwise to view
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)  // transverse
                        default: (sx, sy) = (w - 1 - y, x)         // 8: rotate 90° counter-clockwise to view
                        }
                        let s = (sy * w + sx) * 3, d = (y * ow + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return try RGBImage(width: ow, height: oh, pixels: out)
    }
}
