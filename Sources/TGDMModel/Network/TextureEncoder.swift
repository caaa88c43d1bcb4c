import Torch
import Foundation

/// One resolution level of the texture encoder: residual blocks, then (except at the last level) a downsampling.
public final class TextureEncoderStage: Module {
    public let blocks: [PlainResBlock]
    public let downsample: Downsample?

    init(blocks: [PlainResBlock], downsample: Downsample?) {
        self.blocks = blocks
        self.downsample = downsample
        super.init()
    }
}

/// The texture encoder Φ_E (Sec. 4.3): a convolutional encoder over the source image I_s that returns the
/// multiscale texture features F_s at the fusion levels (1/8 and 1/16 of the input in the paper: 32×32 and
/// 16×16 at 256²). It uses the UNet's channel plan, so F_s^i has the channels of the noise feature it meets.
public final class TextureEncoder: Module {
    public let inputConv: Conv2d
    public let stages: [TextureEncoderStage]
    let outputLevels: [Int]

    public init(config: TGDMConfig, generator: Generator? = nil) throws {
        let levels = config.fusionLevels
        guard let deepest = levels.max() else { throw TGDMError.invalidConfig("texture encoder without fusion levels") }
        inputConv = try Conv2d(config.imageChannels, config.channels(level: 0), kernel: 3, generator: generator)
        var stages: [TextureEncoderStage] = []
        var channels = config.channels(level: 0)
        for level in 0...deepest {
            let out = config.channels(level: level)
            var blocks: [PlainResBlock] = []
            for _ in 0..<config.textureEncoderBlocks {
                blocks.append(try PlainResBlock(inChannels: channels, outChannels: out, groups: config.groups(for:), generator: generator))
                channels = out
            }
            let down = level < deepest ? try Downsample(channels: out, generator: generator) : nil
            stages.append(TextureEncoderStage(blocks: blocks, downsample: down))
        }
        self.stages = stages
        outputLevels = levels
        super.init()
    }

    /// Features keyed by UNet level.
    public func callAsFunction(_ source: Tensor) throws -> [Int: Tensor] {
        var h = try inputConv(source)
        var out: [Int: Tensor] = [:]
        for (level, stage) in stages.enumerated() {
            for block in stage.blocks { h = try block(h) }
            if outputLevels.contains(level) { out[level] = h }
            if let down = stage.downsample { h = try down(h) }
        }
        return out
    }
}
