import Torch
import Foundation

/// Injects source texture features F_s into noise features F_d of the same resolution.
public protocol TextureFusion: AnyObject {
    /// Returns F̂_d, and the attention map M [B, H_d·W_d, H_s·W_s] when asked and the block has one.
    /// `source` has the batch of `noise`, or batch 1 for one source shared by every element.
    func fuse(noise: Tensor, source: Tensor, returnAttention: Bool) throws -> (features: Tensor, attention: Tensor?)
}

/// The Texture Attention module (Eq. 15-16): Q_d = Conv1×1(F_d), K_s = Conv1×1(F_s), V_s = Conv1×1(F_s) with C/4
/// channels; M = softmax(Q_d K_sᵀ · s) over source positions (s = 1/√(C/4) when `scaled`, else 1 as in Eq. 15);
/// F_{s→d} = Conv1×1(M V_s) back to C channels; F̂_d = τ F_{s→d} + F_d with τ a learned scalar that starts at
/// 0, so a fresh block passes F_d through unchanged.
public final class TexAttBlock: Module, TextureFusion {
    public let query: Conv2d
    public let key: Conv2d
    public let value: Conv2d
    public let output: Conv2d
    public let tau: Tensor
    let scaled: Bool

    public init(channels: Int, sourceChannels: Int, scaled: Bool = true, generator: Generator? = nil) throws {
        guard channels >= 4 else { throw TGDMError.invalidConfig("TexAtt needs at least 4 channels, got \(channels)") }
        let inner = channels / 4
        query = try Conv2d(channels, inner, kernel: 1, generator: generator)
        key = try Conv2d(sourceChannels, inner, kernel: 1, generator: generator)
        value = try Conv2d(sourceChannels, inner, kernel: 1, generator: generator)
        output = try Conv2d(inner, channels, kernel: 1, generator: generator)
        tau = try Tensor.zeros([1]).requiresGrad(true)
        self.scaled = scaled
        super.init()
    }

    public func fuse(noise fd: Tensor, source fs: Tensor, returnAttention: Bool) throws -> (features: Tensor, attention: Tensor?) {
        guard fd.rank == 4, fs.rank == 4, fd.size(0) == fs.size(0) || fs.size(0) == 1 else {
            throw TGDMError.invalidInput("TexAtt expects NCHW noise and source features with one batch size (or a shared source), got \(fd.shape) and \(fs.shape)")
        }
        let (b, h, w) = (fd.size(0), fd.size(2), fd.size(3))
        let q = try query(fd).flatten(2).transpose(1, 2)
        // A shared source is projected once; matmul broadcasts K_s and V_s over the batch.
        let k = try key(fs).flatten(2).transpose(1, 2)
        let v = try value(fs).flatten(2).transpose(1, 2)
        let d = q.size(2)
        let (mixed, weights) = try F.attention(q: q, k: k, v: v, scale: scaled ? 1 / Double(d).squareRoot() : 1,
                                               returnWeights: returnAttention)
        let transferred = try output(mixed.transpose(1, 2).reshape([b, d, h, w]))
        return (try transferred * tau + fd, weights)
    }
}

/// The "Feat Concat" ablation: F̂_d = F_d + Conv1×1([F_d, F_s]) with the convolution starting at zero.
public final class FeatureConcatBlock: Module, TextureFusion {
    public let mix: Conv2d

    public init(channels: Int, sourceChannels: Int, generator: Generator? = nil) throws {
        mix = try Conv2d(channels + sourceChannels, channels, kernel: 1, generator: generator)
        super.init()
        try mix.zeroInit()
    }

    public func fuse(noise fd: Tensor, source fs: Tensor, returnAttention: Bool) throws -> (features: Tensor, attention: Tensor?) {
        guard fd.rank == 4, fs.rank == 4, fd.size(0) == fs.size(0) || fs.size(0) == 1, fd.size(2) == fs.size(2), fd.size(3) == fs.size(3) else {
            throw TGDMError.invalidInput("feature concat needs aligned NCHW features, got \(fd.shape) and \(fs.shape)")
        }
        let source = fs.size(0) == fd.size(0) ? fs : try fs.expand([fd.size(0)] + fs.shape.dropFirst())
        return (try fd + mix(Tensor.cat([fd, source], dim: 1)), nil)
    }
}
