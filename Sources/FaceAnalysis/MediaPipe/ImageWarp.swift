import Torch
import Foundation
import Media

/// The crop MediaPipe's CPU `ImageToTensorCalculator` makes: the rotated ROI's corners are mapped onto
/// the corners of the output (OpenCV `getPerspectiveTransform` + `warpPerspective`, INTER_LINEAR), so
/// output pixel (x, y) samples the source at ROI(u = x/W, v = y/H), with source pixel i at coordinate i.
/// Sampling follows OpenCV's fixed-point bilinear path for 8-bit images: coordinates rounded to 1/32
/// pixel, weights (32 − fx)(32 − fy)… summing to 2¹⁵, result rounded to a byte. Matching it matters:
/// the networks then see the same bytes as in MediaPipe, which the parity tests check.
public enum ImageWarp {
    public enum Border: Sendable { case zero, replicate }

    /// A `width`×`height` RGB crop of `roi` (optionally mirrored left-right, as the iris graph does for
    /// one eye).
    public static func crop(_ image: RGBImage, roi: RotatedRect, width: Int, height: Int, border: Border,
                            flipHorizontally: Bool = false) throws -> RGBImage {
        guard roi.isValid else { throw FaceAnalysisError.invalidInput("invalid region of interest \(roi)") }
        guard width > 0, height > 0 else { throw FaceAnalysisError.invalidInput("crop size \(width)x\(height)") }
        // Corners in Float, as cv::boxPoints computes them from a Float RotatedRect.
        let tl = roi.project(u: flipHorizontally ? 1 : 0, v: 0)
        let tr = roi.project(u: flipHorizontally ? 0 : 1, v: 0)
        let bl = roi.project(u: flipHorizontally ? 1 : 0, v: 1)
        let ox = Double(Float(tl.x)), oy = Double(Float(tl.y))
        let ax = (Double(Float(tr.x)) - ox) / Double(width), ay = (Double(Float(tr.y)) - oy) / Double(width)
        let bx = (Double(Float(bl.x)) - ox) / Double(height), by = (Double(Float(bl.y)) - oy) / Double(height)

        let sw = image.width, sh = image.height
        var out = [UInt8](repeating: 0, count: width * height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for x in 0..<width {
                        let fx = ox + ax * Double(x) + bx * Double(y)
                        let fy = oy + ay * Double(x) + by * Double(y)
                        guard fx.isFinite, fy.isFinite, abs(fx) < 1e6, abs(fy) < 1e6 else { continue }
                        let X = Int((fx * 32).rounded(.toNearestOrEven)), Y = Int((fy * 32).rounded(.toNearestOrEven))
                        let ix = X >> 5, iy = Y >> 5
                        let wx = X & 31, wy = Y & 31
                        let w00 = (32 - wx) * (32 - wy), w01 = wx * (32 - wy), w10 = (32 - wx) * wy, w11 = wx * wy
                        let o = (y * width + x) * 3
                        for c in 0..<3 {
                            func at(_ px: Int, _ py: Int) -> Int {
                                var px = px, py = py
                                switch border {
                                case .zero:
                                    if px < 0 || py < 0 || px >= sw || py >= sh { return 0 }
                                case .replicate:
                                    px = min(max(px, 0), sw - 1); py = min(max(py, 0), sh - 1)
                                }
                                return Int(src[(py * sw + px) * 3 + c])
                            }
                            let sum = at(ix, iy) * w00 + at(ix + 1, iy) * w01 + at(ix, iy + 1) * w10 + at(ix + 1, iy + 1) * w11
                            // OpenCV's weights are these ×32 (sum 2¹⁵) with (v + 2¹⁴) >> 15: the same as (v + 2⁹) >> 10 here.
                            dst[o + c] = UInt8(clamping: (sum + (1 << 9)) >> 10)
                        }
                    }
                }
            }
        }
        return try RGBImage(width: width, height: height, pixels: out)
    }

    /// A 1×3×H×W float tensor with values byte·(max − min)/255 + min (MediaPipe's
    /// `output_tensor_float_range`).
    public static func tensor(_ image: RGBImage, range: ClosedRange<Float>) throws -> Tensor {
        let plane = image.width * image.height
        let scale = (range.upperBound - range.lowerBound) / 255, offset = range.lowerBound
        var planar = [Float](repeating: 0, count: 3 * plane)
        image.pixels.withUnsafeBufferPointer { src in
            for i in 0..<plane {
                for c in 0..<3 { planar[c * plane + i] = Float(src[3 * i + c]) * scale + offset }
            }
        }
        return try Tensor(planar, shape: [1, 3, image.height, image.width])
    }
}
