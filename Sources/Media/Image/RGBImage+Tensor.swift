import Torch
import Foundation

/// Image ↔ tensor convention used across the project: float32, channels first (RGB), values in
/// [-1, 1] with `v = byte / 127.5 - 1` and back `byte = round((v + 1) * 127.5)` after clamping.
extension RGBImage {
    /// A 1×3×H×W float32 tensor in [-1, 1].
    public func toTensor() throws -> Tensor {
        let plane = width * height
        var planar = [Float](repeating: 0, count: 3 * plane)
        pixels.withUnsafeBufferPointer { src in
            planar.withUnsafeMutableBufferPointer { dst in
                for i in 0..<plane {
                    dst[i] = Float(src[3 * i]) / 127.5 - 1
                    dst[plane + i] = Float(src[3 * i + 1]) / 127.5 - 1
                    dst[2 * plane + i] = Float(src[3 * i + 2]) / 127.5 - 1
                }
            }
        }
        return try Tensor(planar, shape: [1, 3, height, width])
    }

    /// Builds an image from a 3×H×W or 1×3×H×W tensor in [-1, 1] (any float dtype, any device).
    /// Values outside the range are clamped; NaN or infinite values are an error.
    public init(tensor: Tensor) throws {
        let shape = tensor.shape
        let (h, w): (Int, Int)
        switch shape.count {
        case 3 where shape[0] == 3: (h, w) = (shape[1], shape[2])
        case 4 where shape[0] == 1 && shape[1] == 3: (h, w) = (shape[2], shape[3])
        default:
            throw MediaError.invalidArgument("image tensor must be 3×H×W or 1×3×H×W, got \(shape)")
        }
        try MediaLimits.check(width: w, height: h)
        let values: [Float]
        do {
            values = try tensor.detach().to(.cpu).contiguous().floats()
        } catch {
            throw MediaError.invalidArgument("cannot read image tensor: \(error)")
        }
        let plane = w * h
        var px = [UInt8](repeating: 0, count: 3 * plane)
        var bad = false
        values.withUnsafeBufferPointer { src in
            px.withUnsafeMutableBufferPointer { dst in
                for c in 0..<3 {
                    for i in 0..<plane {
                        let v = src[c * plane + i]
                        if !v.isFinite { bad = true; return }
                        let byte = ((Swift.min(Swift.max(v, -1), 1) + 1) * 127.5).rounded()
                        dst[3 * i + c] = UInt8(byte)
                    }
                }
            }
        }
        if bad { throw MediaError.invalidArgument("image tensor contains NaN or infinite values") }
        try self.init(width: w, height: h, pixels: px)
    }
}
