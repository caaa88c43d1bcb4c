import Foundation

/// Separable resampling with a triangle (bilinear) kernel. When shrinking, the kernel is widened by the
/// scale factor so every source pixel contributes (an antialiased, area-aware bilinear filter, like
/// PIL's BILINEAR); when enlarging it is ordinary bilinear interpolation. Pixel centres are at +0.5.
enum ImageResampler {
    /// For each output index: the first source index and the normalised weights that follow it.
    struct Taps {
        var start: [Int]
        var weights: [[Float]]
    }

    static func taps(source: Int, target: Int) -> Taps {
        let scale = Double(source) / Double(target)
        let support = Swift.max(scale, 1.0) // kernel radius in source pixels
        var start = [Int](repeating: 0, count: target)
        var weights = [[Float]](repeating: [], count: target)
        for o in 0..<target {
            let centre = (Double(o) + 0.5) * scale
            let lo = Swift.max(0, Int((centre - support).rounded(.down)))
            let hi = Swift.min(source - 1, Int((centre + support).rounded(.up)))
            var w = [Double]()
            var total = 0.0
            for i in lo...Swift.max(lo, hi) {
                let d = abs((Double(i) + 0.5 - centre) / support)
                let k = Swift.max(0, 1 - d)
                w.append(k)
                total += k
            }
            if total <= 0 { // degenerate: nearest pixel
                let nearest = Swift.min(source - 1, Swift.max(0, Int(centre)))
                start[o] = nearest
                weights[o] = [1]
            } else {
                start[o] = lo
                weights[o] = w.map { Float($0 / total) }
            }
        }
        return Taps(start: start, weights: weights)
    }

    /// Resizes interleaved RGB bytes.
    static func resize(_ src: [UInt8], width: Int, height: Int, toWidth tw: Int, toHeight th: Int) -> [UInt8] {
        let xt = taps(source: width, target: tw)
        let yt = taps(source: height, target: th)
        // Horizontal pass into floats (height × tw × 3), then vertical pass into bytes.
        var mid = [Float](repeating: 0, count: height * tw * 3)
        src.withUnsafeBufferPointer { s in
            mid.withUnsafeMutableBufferPointer { m in
                for y in 0..<height {
                    let row = y * width * 3
                    for x in 0..<tw {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        var i = (row + xt.start[x] * 3)
                        for w in xt.weights[x] {
                            r += w * Float(s[i]); g += w * Float(s[i + 1]); b += w * Float(s[i + 2])
                            i += 3
                        }
                        let o = (y * tw + x) * 3
                        m[o] = r; m[o + 1] = g; m[o + 2] = b
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: th * tw * 3)
        mid.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { d in
                let stride = tw * 3
                for y in 0..<th {
                    let ws = yt.weights[y]
                    let y0 = yt.start[y]
                    for k in 0..<stride {
                        var acc: Float = 0
                        var idx = y0 * stride + k
                        for w in ws {
                            acc += w * m[idx]
                            idx += stride
                        }
                        d[y * stride + k] = UInt8(Swift.min(255, Swift.max(0, acc.rounded())))
                    }
                }
            }
        }
        return out
    }
}

extension RGBImage {
    /// A resized copy (antialiased bilinear; see `ImageResampler`).
    public func resized(width w: Int, height h: Int) throws -> RGBImage {
        try MediaLimits.check(width: w, height: h)
        if w == width && h == height { return self }
        return try RGBImage(width: w, height: h,
                            pixels: ImageResampler.resize(pixels, width: width, height: height, toWidth: w, toHeight: h))
    }
}
