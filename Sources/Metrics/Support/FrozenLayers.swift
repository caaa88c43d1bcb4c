import Foundation
import Torch

// Inference-only building blocks shared by the converted networks. Their tensors are filled by
// `Module.load` from the converted files, so they start as zeros instead of a random initialisation.

/// Batch normalisation with running statistics (inference): γ (x − mean) / √(var + eps) + β per channel.
/// A network without γ (the TF Inception) passes `scale: false`.
final class FrozenBatchNorm: Module {
    let gamma: Tensor?
    let beta: Tensor
    let mean: Tensor
    let variance: Tensor
    let eps: Double

    init(_ channels: Int, scale: Bool = true, eps: Double) throws {
        gamma = scale ? try Tensor.ones([channels]) : nil
        beta = try Tensor.zeros([channels])
        mean = try Tensor.zeros([channels])
        variance = try Tensor.ones([channels])
        self.eps = eps
        super.init()
    }

    /// (multiplier, offset) per channel, so that BN(x) = x · multiplier + offset.
    func affine() throws -> (Tensor, Tensor) {
        var m = try (variance + eps).rsqrt()
        if let gamma { m = try m * gamma }
        return (m, try beta - mean * m)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (m, b) = try affine()
        return try x * m.reshape([1, -1, 1, 1]) + b.reshape([1, -1, 1, 1])
    }
}

/// A weight of the given shape that a checkpoint will overwrite.
func placeholder(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape) }

/// 3×3 stride-1 average pooling with padding 1 that averages only the pixels inside the image
/// (`count_include_pad=False`, as the Inception blocks' pooling branches do).
func averagePool3x3ExcludingPadding(_ x: Tensor) throws -> Tensor {
    let sum = try F.avgPool2d(x, kernel: 3, stride: 1, padding: 1)
    let ones = try Tensor.ones([1, 1, x.size(2), x.size(3)], dtype: x.dtype, device: x.device)
    return try sum / F.avgPool2d(ones, kernel: 3, stride: 1, padding: 1)
}

/// Max pooling with TensorFlow's "SAME" padding: the output has ⌈size / stride⌉ pixels and the missing
/// border goes after the image when it is odd (Keras MaxPooling2D(padding="same")).
func maxPoolSame(_ x: Tensor, kernel: Int, stride: Int) throws -> Tensor {
    func pads(_ n: Int) -> (Int, Int) {
        let out = (n + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - n, 0)
        return (total / 2, total - total / 2)
    }
    let (top, bottom) = pads(x.size(2)), (left, right) = pads(x.size(3))
    let padded = try F.pad(x, [left, right, top, bottom], value: -Double.infinity)
    return try F.maxPool2d(padded, kernel: kernel, stride: stride)
}
