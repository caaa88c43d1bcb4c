import Torch
import Foundation

/// An ADM/DDPM residual block whose second normalisation is AdaIN (Eq. 17):
///   h = Conv3(SiLU(GN(x))),  AdaIN(h, C) = σ_c(C) · (h − μ(h))/σ(h) + μ_c(C),  out = skip(x) + Conv3(SiLU(AdaIN(h, C)))
/// μ(h), σ(h) are per-sample, per-channel statistics over H×W (instance norm, ε = 1e-5, biased variance);
/// [σ_c − 1, μ_c] = Linear(SiLU(C)), so a zero condition leaves the normalised features unscaled.
/// The last convolution starts at zero (ADM), so a fresh block is the identity on its skip path.
public final class AdaINResBlock: Module {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let condition: Linear
    public let conv2: Conv2d
    public let skip: Conv2d?
    let dropout: Double

    public init(inChannels: Int, outChannels: Int, conditionDim: Int, groups: Int, dropout: Double = 0, generator: Generator? = nil) throws {
        norm1 = try GroupNorm(groups: groups, channels: inChannels)
        conv1 = try Conv2d(inChannels, outChannels, kernel: 3, generator: generator)
        condition = try Linear(conditionDim, 2 * outChannels, generator: generator)
        conv2 = try Conv2d(outChannels, outChannels, kernel: 3, generator: generator)
        skip = inChannels == outChannels ? nil : try Conv2d(inChannels, outChannels, kernel: 1, generator: generator)
        self.dropout = dropout
        super.init()
        try conv2.zeroInit()
    }

    public func callAsFunction(_ x: Tensor, condition c: Tensor) throws -> Tensor {
        var h = try conv1(norm1(x).silu())
        let styles = try condition(c.silu()).chunk(2, dim: 1)
        let scale = try styles[0].unsqueeze(-1).unsqueeze(-1), shift = try styles[1].unsqueeze(-1).unsqueeze(-1)
        h = try F.instanceNorm(h, eps: 1e-5) * (scale + 1.0) + shift
        h = try conv2(F.dropout(h.silu(), p: dropout, training: training))
        return try (skip?(x) ?? x) + h
    }
}

/// An unconditioned residual block (GroupNorm, SiLU, 3×3 conv, twice) for the texture encoder Φ_E.
public final class PlainResBlock: Module {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let norm2: GroupNorm
    public let conv2: Conv2d
    public let skip: Conv2d?

    public init(inChannels: Int, outChannels: Int, groups: (Int) -> Int, generator: Generator? = nil) throws {
        norm1 = try GroupNorm(groups: groups(inChannels), channels: inChannels)
        conv1 = try Conv2d(inChannels, outChannels, kernel: 3, generator: generator)
        norm2 = try GroupNorm(groups: groups(outChannels), channels: outChannels)
        conv2 = try Conv2d(outChannels, outChannels, kernel: 3, generator: generator)
        skip = inChannels == outChannels ? nil : try Conv2d(inChannels, outChannels, kernel: 1, generator: generator)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try conv2(norm2(conv1(norm1(x).silu())).silu())
        return try (skip?(x) ?? x) + h
    }
}

/// Stride-2 3×3 convolution.
public final class Downsample: Module {
    public let conv: Conv2d
    public init(channels: Int, generator: Generator? = nil) throws {
        conv = try Conv2d(channels, channels, kernel: 3, stride: 2, padding: 1, generator: generator)
        super.init()
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try conv(x) }
}

/// Nearest-neighbour ×2 then a 3×3 convolution.
public final class Upsample: Module {
    public let conv: Conv2d
    public init(channels: Int, generator: Generator? = nil) throws {
        conv = try Conv2d(channels, channels, kernel: 3, generator: generator)
        super.init()
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv(F.interpolate(x, size: (x.size(2) * 2, x.size(3) * 2), mode: .nearest))
    }
}
