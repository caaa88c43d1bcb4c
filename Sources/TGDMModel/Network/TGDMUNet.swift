import Torch
import Foundation

/// An encoder level of the UNet: AdaIN residual blocks, each followed by a texture fusion at fusion levels,
/// then a downsampling (except at the deepest level).
public final class EncoderStage: Module {
    public let blocks: [AdaINResBlock]
    public let fusions: [Module]
    public let downsample: Downsample?

    init(blocks: [AdaINResBlock], fusions: [Module], downsample: Downsample?) {
        self.blocks = blocks
        self.fusions = fusions
        self.downsample = downsample
        super.init()
    }
}

/// The bottleneck: residual block, fusion (when the deepest level is a fusion level), residual block.
public final class MiddleStage: Module {
    public let first: AdaINResBlock
    public let fusion: Module?
    public let second: AdaINResBlock

    init(first: AdaINResBlock, fusion: Module?, second: AdaINResBlock) {
        self.first = first
        self.fusion = fusion
        self.second = second
        super.init()
    }
}

/// A decoder level: residual blocks over [features, encoder skip], fusions, then an upsampling (except at level 0).
public final class DecoderStage: Module {
    public let blocks: [AdaINResBlock]
    public let fusions: [Module]
    public let upsample: Upsample?

    init(blocks: [AdaINResBlock], fusions: [Module], upsample: Upsample?) {
        self.blocks = blocks
        self.fusions = fusions
        self.upsample = upsample
        super.init()
    }
}

/// The source-side conditioning Φ_E(I_s), computed once per source image and reused at every denoising
/// step. A batch-1 source serves a batch of frames of the same person (broadcast, never copied).
public struct SourceFeatures {
    /// F_s^i keyed by UNet level (empty for `.imageConcat`).
    public let byLevel: [Int: Tensor]
    /// The source image itself, for `.imageConcat`.
    public let image: Tensor?
    public let batch: Int
    public let spatial: (Int, Int)

    /// The features of batch elements `start ..< start + count` (a batch-1 source is shared as it is).
    public func narrowed(_ start: Int, _ count: Int) throws -> SourceFeatures {
        guard batch > 1 else { return self }
        return SourceFeatures(byLevel: try byLevel.mapValues { try $0.narrow(0, start, count) },
                              image: try image?.narrow(0, start, count), batch: count, spatial: spatial)
    }
}

/// Everything ε_θ reads besides Z_t and t, prepared and validated once per job (or chunk of frames) by
/// `TGDMUNet.prepare`, so the denoising loop only runs the network: Φ_E(I_s) (batch 1 or B), I_3d, and the
/// coefficient half Linear(ρ̂) of the AdaIN condition C = Linear(ρ̂) + Linear(t) (Sec. 4.3).
public struct TGDMConditioning {
    public let source: SourceFeatures
    /// I_3d, [B, C, H, W]; nil for the `.noRender` variant.
    public let render: Tensor?
    /// Linear(ρ̂) (+ Linear(z_id) for swap models), [B, timeEmbeddingDim].
    public let coefficientEmbedding: Tensor
    /// The warped source and its validity mask, [B, C + 1, H, W], for `sourceWarp` models.
    public let warp: Tensor?
    public var batch: Int { coefficientEmbedding.size(0) }
    public var spatial: (Int, Int) { source.spatial }
}

/// ε-prediction plus, on request, the TexAtt attention maps keyed by module path (e.g. "middle.fusion",
/// "up.1.fusions.0"), each [B, H_d·W_d, H_s·W_s] (the paper's Fig. 7).
public struct TGDMOutput {
    public let noise: Tensor
    public let attention: [String: Tensor]
}

/// The TGDM denoiser ε_θ(Z_t, F_s, I_3d, ρ̂, t) (Sec. 4.3, Fig. 2): an ADM-style UNet whose input is the noisy
/// face Z_t concatenated with the rendered face I_3d, whose every residual block is modulated by AdaIN with
/// C = Linear(ρ̂) + Linear(emb(t)), and whose features at the fusion levels (encoder, middle and decoder) take
/// the source texture F_s = Φ_E(I_s) through TexAtt. No self-attention: the paper names none.
///
/// Checkpoint keys are the property paths, e.g. `down.3.fusions.0.query.weight`, `middle.fusion.tau`,
/// `up.0.blocks.2.skip.weight`, `textureEncoder.stages.1.blocks.0.conv1.weight`, `condition.time1.weight`.
public final class TGDMUNet: Module {
    public let config: TGDMConfig
    public let condition: ConditionEmbedding
    public let inputConv: Conv2d
    public let textureEncoder: TextureEncoder?
    public let down: [EncoderStage]
    public let middle: MiddleStage
    public let up: [DecoderStage]
    public let outputNorm: GroupNorm
    public let outputConv: Conv2d

    public init(config: TGDMConfig, generator: Generator? = nil) throws {
        try config.validate()
        self.config = config
        let g = generator
        let cdim = config.timeEmbeddingDim
        let fusionLevels = Set(config.fusionLevels)
        condition = try ConditionEmbedding(sinusoidDim: config.baseChannels, coefficientDim: config.conditionInputDim, embeddingDim: cdim,
                                           identityDim: config.identityDim, generator: g)
        inputConv = try Conv2d(config.inputChannels, config.channels(level: 0), kernel: 3, generator: g)
        textureEncoder = config.usesTextureEncoder ? try TextureEncoder(config: config, generator: g) : nil

        func resBlock(_ i: Int, _ o: Int) throws -> AdaINResBlock {
            try AdaINResBlock(inChannels: i, outChannels: o, conditionDim: cdim, groups: config.groups(for: i), dropout: config.dropout, generator: g)
        }
        func fusion(_ level: Int) throws -> Module {
            let c = config.channels(level: level)
            switch config.variant {
            case .featureConcat: return try FeatureConcatBlock(channels: c, sourceChannels: c, generator: g)
            default: return try TexAttBlock(channels: c, sourceChannels: c, scaled: config.attentionScaled, generator: g)
            }
        }

        var skipChannels = [config.channels(level: 0)]
        var channels = config.channels(level: 0)
        var down: [EncoderStage] = []
        for level in 0..<config.levels {
            let out = config.channels(level: level)
            var blocks: [AdaINResBlock] = [], fusions: [Module] = []
            for _ in 0..<config.blocksPerStage {
                blocks.append(try resBlock(channels, out))
                channels = out
                if fusionLevels.contains(level) { fusions.append(try fusion(level)) }
                skipChannels.append(channels)
            }
            var ds: Downsample? = nil
            if level < config.levels - 1 {
                ds = try Downsample(channels: channels, generator: g)
                skipChannels.append(channels)
            }
            down.append(EncoderStage(blocks: blocks, fusions: fusions, downsample: ds))
        }
        self.down = down

        let deepest = config.levels - 1
        middle = MiddleStage(first: try resBlock(channels, channels),
                             fusion: fusionLevels.contains(deepest) ? try fusion(deepest) : nil,
                             second: try resBlock(channels, channels))

        var up: [DecoderStage] = []
        for level in (0..<config.levels).reversed() {
            let out = config.channels(level: level)
            var blocks: [AdaINResBlock] = [], fusions: [Module] = []
            for _ in 0...config.blocksPerStage {
                blocks.append(try resBlock(channels + skipChannels.removeLast(), out))
                channels = out
                if fusionLevels.contains(level) { fusions.append(try fusion(level)) }
            }
            up.append(DecoderStage(blocks: blocks, fusions: fusions, upsample: level > 0 ? try Upsample(channels: channels, generator: g) : nil))
        }
        self.up = up
        outputNorm = try GroupNorm(groups: config.groups(for: channels), channels: channels)
        outputConv = try Conv2d(channels, config.imageChannels, kernel: 3, generator: g)
        super.init()
        try outputConv.zeroInit()
    }

    // MARK: conditioning

    private func checkImage(_ x: Tensor, _ name: String) throws {
        let f = config.downsampleFactor
        guard x.rank == 4, x.size(1) == config.imageChannels, x.size(2) % f == 0, x.size(3) % f == 0,
              x.size(0) >= 1, x.size(2) >= f, x.size(3) >= f, x.size(2) <= 4096, x.size(3) <= 4096 else {
            throw TGDMError.invalidInput("\(name) must be [B, \(config.imageChannels), H, W] with H and W multiples of \(f) (at most 4096), got \(x.shape)")
        }
    }

    private func checkFinite(_ x: Tensor, _ name: String) throws {
        guard try x.isFinite() else { throw TGDMError.invalidInput("\(name) contains NaN or infinity") }
    }

    /// Runs Φ_E on the source image I_s (in [-1, 1], [B, C, H, W]; B = 1 for one person driving many frames).
    public func encodeSource(_ source: Tensor) throws -> SourceFeatures {
        try checkImage(source, "source image")
        try checkFinite(source, "source image")
        let spatial = (source.size(2), source.size(3))
        guard let encoder = textureEncoder else {
            return SourceFeatures(byLevel: [:], image: source, batch: source.size(0), spatial: spatial)
        }
        return SourceFeatures(byLevel: try encoder(source), image: nil, batch: source.size(0), spatial: spatial)
    }

    /// Validates the conditions of a batch once and precomputes what does not change between steps.
    /// - Parameters:
    ///   - source: `encodeSource` of one image (shared by the batch) or of B images.
    ///   - render: I_3d [B, C, H, W] (ignored by `.noRender`, required otherwise).
    ///   - coefficients: ρ̂ [B, conditionInputDim]: one frame, or the flattened window of `temporalRadius`.
    ///   - warp: the warped source and its mask [B, C + 1, H, W] (required by `sourceWarp` models, ignored otherwise).
    ///   - identity: z_id [B or 1, identityDim] (required by swap models with `identityDim` > 0, ignored otherwise).
    public func prepare(source: SourceFeatures, render: Tensor?, coefficients: Tensor, warp: Tensor? = nil,
                        identity: Tensor? = nil) throws -> TGDMConditioning {
        let d = config.conditionInputDim
        guard coefficients.rank == 2, coefficients.size(1) == d, coefficients.size(0) >= 1 else {
            throw TGDMError.invalidInput("coefficients must be [B, \(d)]\(config.temporalRadius > 0 ? " (a window of \(config.windowFrames) frames × \(config.coefficientDim))" : ""), got \(coefficients.shape)")
        }
        let b = coefficients.size(0)
        try checkFinite(coefficients, "coefficients")
        guard source.batch == 1 || source.batch == b else {
            throw TGDMError.invalidInput("source batch \(source.batch) must be 1 or match the \(b) frames")
        }
        var rendered: Tensor? = nil
        if config.usesRender {
            guard let render else { throw TGDMError.invalidInput("the \(config.variant) variant needs the rendered face I_3d") }
            try checkImage(render, "rendered face")
            guard render.size(0) == b, render.size(2) == source.spatial.0, render.size(3) == source.spatial.1 else {
                throw TGDMError.invalidInput("rendered face \(render.shape) must be [\(b), \(config.imageChannels), \(source.spatial.0), \(source.spatial.1)]")
            }
            try checkFinite(render, "rendered face")
            rendered = render
        }
        var warped: Tensor? = nil
        if config.sourceWarp {
            guard let warp else { throw TGDMError.invalidInput("this model reads the warped source: pass it with its mask") }
            guard warp.rank == 4, warp.shape == [b, config.imageChannels + 1, source.spatial.0, source.spatial.1] else {
                throw TGDMError.invalidInput("warped source must be [\(b), \(config.imageChannels + 1), \(source.spatial.0), \(source.spatial.1)], got \(warp.shape)")
            }
            try checkFinite(warp, "warped source")
            warped = warp
        }
        var embedding = try condition.coefficients(coefficients)
        if let identityLayer = condition.identity {
            guard let identity else { throw TGDMError.invalidInput("this swap model reads an identity embedding z_id") }
            guard identity.rank == 2, identity.size(1) == config.identityDim, identity.size(0) == b || identity.size(0) == 1 else {
                throw TGDMError.invalidInput("identity embedding must be [\(b) or 1, \(config.identityDim)], got \(identity.shape)")
            }
            try checkFinite(identity, "identity embedding")
            embedding = try embedding + identityLayer(identity)
        }
        return TGDMConditioning(source: source, render: rendered, coefficientEmbedding: embedding, warp: warped)
    }

    // MARK: forward

    /// ε_θ for one batch. `render` (I_3d) is required unless the variant is `.noRender` (where it is ignored).
    public func callAsFunction(noisy: Tensor, timesteps: Tensor, source: Tensor, render: Tensor?, coefficients: Tensor,
                               warp: Tensor? = nil, identity: Tensor? = nil) throws -> Tensor {
        try predictNoise(noisy: noisy, timesteps: timesteps, source: encodeSource(source), render: render, coefficients: coefficients,
                         warp: warp, identity: identity).noise
    }

    /// Validates and prepares the conditions, then predicts (the training path: conditions change every call).
    public func predictNoise(noisy: Tensor, timesteps: Tensor, source: SourceFeatures, render: Tensor?, coefficients: Tensor,
                             warp: Tensor? = nil, identity: Tensor? = nil, returnAttention: Bool = false) throws -> TGDMOutput {
        try predictNoise(noisy: noisy, timesteps: timesteps,
                         conditioning: prepare(source: source, render: render, coefficients: coefficients, warp: warp, identity: identity),
                         returnAttention: returnAttention)
    }

    /// ε_θ(Z_t, F_s, I_3d, ρ̂, t) with prepared conditions. `timesteps` holds B values or one shared by the
    /// batch. Only shapes are checked here (no host synchronisation), so a sampler can call it every step.
    public func predictNoise(noisy: Tensor, timesteps: Tensor, conditioning cond: TGDMConditioning,
                             returnAttention: Bool = false) throws -> TGDMOutput {
        try checkImage(noisy, "noisy image")
        let b = noisy.size(0)
        guard b == cond.batch, cond.spatial == (noisy.size(2), noisy.size(3)) else {
            throw TGDMError.invalidInput("conditions for \(cond.batch)×\(cond.spatial) do not match the noisy image \(noisy.shape)")
        }
        guard timesteps.rank == 1, timesteps.count == b || timesteps.count == 1 else {
            throw TGDMError.invalidInput("need one timestep per batch element (\(b)) or one for all, got shape \(timesteps.shape)")
        }
        let source = cond.source
        var inputs = [noisy]
        if let render = cond.render { inputs.append(render) }
        if config.variant == .imageConcat, let image = source.image {
            inputs.append(image.size(0) == b ? image : try image.expand([b] + image.shape.dropFirst()))
        }
        if let warp = cond.warp { inputs.append(warp) }

        let c = try condition.timeEmbedding(timesteps) + cond.coefficientEmbedding
        var attention: [String: Tensor] = [:]
        func fuse(_ module: Module, _ h: Tensor, level: Int, path: String) throws -> Tensor {
            guard let fusion = module as? TextureFusion, let fs = source.byLevel[level] else {
                throw TGDMError.invalidInput("no source features for level \(level) at \(path)")
            }
            let (out, map) = try fusion.fuse(noise: h, source: fs, returnAttention: returnAttention)
            if let map { attention[path] = map }
            return out
        }

        var h = try inputConv(Tensor.cat(inputs, dim: 1))
        var skips = [h]
        for (level, stage) in down.enumerated() {
            for (j, block) in stage.blocks.enumerated() {
                h = try block(h, condition: c)
                if !stage.fusions.isEmpty { h = try fuse(stage.fusions[j], h, level: level, path: "down.\(level).fusions.\(j)") }
                skips.append(h)
            }
            if let ds = stage.downsample { h = try ds(h); skips.append(h) }
        }
        h = try middle.first(h, condition: c)
        if let f = middle.fusion { h = try fuse(f, h, level: config.levels - 1, path: "middle.fusion") }
        h = try middle.second(h, condition: c)
        for (i, stage) in up.enumerated() {
            let level = config.levels - 1 - i
            for (j, block) in stage.blocks.enumerated() {
                h = try block(Tensor.cat([h, skips.removeLast()], dim: 1), condition: c)
                if !stage.fusions.isEmpty { h = try fuse(stage.fusions[j], h, level: level, path: "up.\(i).fusions.\(j)") }
            }
            if let us = stage.upsample { h = try us(h) }
        }
        let eps = try outputConv(outputNorm(h).silu())
        return TGDMOutput(noise: eps, attention: attention)
    }
}
