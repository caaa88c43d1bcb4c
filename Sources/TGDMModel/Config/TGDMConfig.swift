import Torch
import Foundation

/// Errors of the TGDM generator, its losses and its trainer (libtorch failures surface as `TorchError`).
public enum TGDMError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidConfig(String)
    case invalidInput(String)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return "TGDM config: \(m)"
        case .invalidInput(let m): return "TGDM input: \(m)"
        case .checkpoint(let m): return "TGDM checkpoint: \(m)"
        }
    }
}

/// The shape of the TGDM denoiser ε_θ(Z_t, F_s, I_3d, ρ̂, t) (paper Sec. 4.3, Fig. 2). One struct describes
/// both the paper's 256² network and small test/benchmark models; every size-dependent choice derives
/// from it, so checkpoints of equal configs have equal keys.
public struct TGDMConfig: Codable, Equatable, Sendable {
    /// The ablations of Table 2.
    public enum Variant: String, Codable, Sendable, CaseIterable {
        /// Ours: I_3d concatenated at the input, source texture through TexAtt cross-attention.
        case texAtt
        /// "Img Concat": the source image concatenated at the input; no texture encoder, no TexAtt.
        case imageConcat
        /// "Feat Concat": source features concatenated to the noise features (then a 1×1 conv) instead of attention.
        case featureConcat
        /// "w/o I_3d": TexAtt, but no rendered face at the input; geometry only through ρ̂.
        case noRender
        /// No source branch at all: the source reaches the network only as the 3DMM-warped source at the
        /// input (`sourceWarp`), the warp-only row of the issue-#10 ablation.
        case plain
    }

    /// Training/sampling resolution (square). Inputs may be any size divisible by `downsampleFactor`.
    public var imageSize: Int
    public var imageChannels: Int
    /// Channels of the first UNet level; level l has `baseChannels * channelMultipliers[l]`.
    public var baseChannels: Int
    /// One entry per resolution level; `count - 1` stride-2 downsamplings.
    public var channelMultipliers: [Int]
    /// Residual blocks per encoder level (the decoder has one more per level, ADM-style).
    public var blocksPerStage: Int
    /// Downsampling factors (relative to the input) where source features F_s meet noise features:
    /// [8, 16] is the paper's 32×32 and 16×16 at 256². Each must be a UNet level.
    public var texAttFactors: [Int]
    /// Residual blocks per level in the texture encoder Φ_E.
    public var textureEncoderBlocks: Int
    /// Length of one frame's ρ̂ (261).
    public var coefficientDim: Int
    /// Radius k of the temporal window of Sec. 4.2: ρ̂ of frames i−k…i+k is the AdaIN condition of frame i
    /// (k = 1 in the paper for video driving; 0 reads the frame alone). I_3d is always the centre frame.
    public var temporalRadius: Int
    /// The source warped to the target by the 3DMM correspondence (`FaceWarpField`) and its validity mask are
    /// concatenated at the input beside I_3d (4 more channels), so the network copies what the warp got right
    /// and invents only what the source does not show (issue #10).
    public var sourceWarp: Bool
    /// Length of the identity embedding z_id of the face-swapping paradigm (Sec. 4.4, Fig. 4), added to the
    /// AdaIN condition as Linear(z_id); 0 for reenactment models. The paper's expert is CurricularFace; here
    /// the dlib 128-d face-recognition embedding stands in.
    public var identityDim: Int
    /// Upper bound on GroupNorm groups (the largest divisor of the channel count up to this is used).
    public var normGroups: Int
    public var dropout: Double
    /// Scale TexAtt logits by 1/√d (d = C/4). The paper's Eq. 15 has no scale; without it the softmax
    /// saturates once the features grow, so it is on by default.
    public var attentionScaled: Bool
    public var variant: Variant

    public init(imageSize: Int = 256, imageChannels: Int = 3, baseChannels: Int = 128, channelMultipliers: [Int] = [1, 1, 2, 3, 4],
                blocksPerStage: Int = 2, texAttFactors: [Int] = [8, 16], textureEncoderBlocks: Int = 1, coefficientDim: Int = 261,
                normGroups: Int = 32, dropout: Double = 0, attentionScaled: Bool = true, variant: Variant = .texAtt,
                temporalRadius: Int = 0, sourceWarp: Bool = false, identityDim: Int = 0) {
        self.imageSize = imageSize
        self.imageChannels = imageChannels
        self.baseChannels = baseChannels
        self.channelMultipliers = channelMultipliers
        self.blocksPerStage = blocksPerStage
        self.texAttFactors = texAttFactors
        self.textureEncoderBlocks = textureEncoderBlocks
        self.coefficientDim = coefficientDim
        self.normGroups = normGroups
        self.dropout = dropout
        self.attentionScaled = attentionScaled
        self.variant = variant
        self.temporalRadius = temporalRadius
        self.sourceWarp = sourceWarp
        self.identityDim = identityDim
    }

    enum CodingKeys: String, CodingKey {
        case imageSize, imageChannels, baseChannels, channelMultipliers, blocksPerStage, texAttFactors, textureEncoderBlocks
        case coefficientDim, temporalRadius, sourceWarp, identityDim, normGroups, dropout, attentionScaled, variant
    }

    /// Decodes configs written before `temporalRadius`, `sourceWarp` and `identityDim` existed (k = 0, no warp, no z_id).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        imageChannels = try c.decode(Int.self, forKey: .imageChannels)
        baseChannels = try c.decode(Int.self, forKey: .baseChannels)
        channelMultipliers = try c.decode([Int].self, forKey: .channelMultipliers)
        blocksPerStage = try c.decode(Int.self, forKey: .blocksPerStage)
        texAttFactors = try c.decode([Int].self, forKey: .texAttFactors)
        textureEncoderBlocks = try c.decode(Int.self, forKey: .textureEncoderBlocks)
        coefficientDim = try c.decode(Int.self, forKey: .coefficientDim)
        temporalRadius = try c.decodeIfPresent(Int.self, forKey: .temporalRadius) ?? 0
        sourceWarp = try c.decodeIfPresent(Bool.self, forKey: .sourceWarp) ?? false
        identityDim = try c.decodeIfPresent(Int.self, forKey: .identityDim) ?? 0
        normGroups = try c.decode(Int.self, forKey: .normGroups)
        dropout = try c.decode(Double.self, forKey: .dropout)
        attentionScaled = try c.decode(Bool.self, forKey: .attentionScaled)
        variant = try c.decode(Variant.self, forKey: .variant)
    }

    /// The paper's generator: 256² input, 16× downsampling (5 levels: 256…16), TexAtt at 32×32 and 16×16.
    /// The paper gives no widths; 128 base channels with ADM-like multipliers is our choice.
    public static let paper256 = TGDMConfig()

    /// A 128² model for CPU experiments: 16× downsampling, TexAtt at 16×16 and 8×8.
    public static let small128 = TGDMConfig(imageSize: 128, baseChannels: 64, channelMultipliers: [1, 1, 2, 2, 4])

    /// A 64² model for tests and quick runs: 8× downsampling, TexAtt at 16×16 and 8×8.
    public static let small64 = TGDMConfig(imageSize: 64, baseChannels: 32, channelMultipliers: [1, 2, 2, 2],
                                            blocksPerStage: 1, texAttFactors: [4, 8])

    public var levels: Int { channelMultipliers.count }
    public var downsampleFactor: Int { 1 << (levels - 1) }
    public func channels(level: Int) -> Int { baseChannels * channelMultipliers[level] }
    public var timeEmbeddingDim: Int { 4 * baseChannels }
    /// Frames in the temporal window, 2k + 1.
    public var windowFrames: Int { 2 * temporalRadius + 1 }
    /// Width of the coefficient input of C = Linear(ρ̂) + Linear(t): one frame or the flattened window.
    public var conditionInputDim: Int { coefficientDim * windowFrames }
    /// UNet levels (0 = full resolution) that carry TexAtt / feature-concat fusion.
    public var fusionLevels: [Int] { usesTextureEncoder ? texAttFactors.map { $0.trailingZeroBitCount }.sorted() : [] }
    public var usesTextureEncoder: Bool { variant != .imageConcat && variant != .plain }
    public var usesRender: Bool { variant != .noRender }

    /// Channels entering the first convolution: Z_t, plus I_3d, plus the source image for `.imageConcat`,
    /// plus the warped source and its mask with `sourceWarp`.
    public var inputChannels: Int {
        imageChannels * (1 + (usesRender ? 1 : 0) + (variant == .imageConcat ? 1 : 0)) + (sourceWarp ? imageChannels + 1 : 0)
    }

    public func validate() throws {
        func fail(_ m: String) -> TGDMError { .invalidConfig(m) }
        guard imageChannels >= 1, imageChannels <= 16 else { throw fail("imageChannels \(imageChannels) must be in 1...16") }
        guard baseChannels >= 4, baseChannels <= 4096 else { throw fail("baseChannels \(baseChannels) must be in 4...4096") }
        guard (1...8).contains(levels), channelMultipliers.allSatisfy({ (1...64).contains($0) }) else {
            throw fail("channelMultipliers \(channelMultipliers) need 1...8 entries in 1...64")
        }
        guard (1...16).contains(blocksPerStage), (1...16).contains(textureEncoderBlocks) else {
            throw fail("blocks per stage must be in 1...16")
        }
        guard imageSize >= downsampleFactor, imageSize <= 4096, imageSize % downsampleFactor == 0 else {
            throw fail("imageSize \(imageSize) must be a multiple of the downsampling factor \(downsampleFactor) (and at most 4096)")
        }
        guard coefficientDim >= 1, coefficientDim <= 100_000 else { throw fail("coefficientDim \(coefficientDim) out of range") }
        guard (0...8).contains(temporalRadius) else { throw fail("temporalRadius \(temporalRadius) must be in 0...8") }
        guard (0...4096).contains(identityDim) else { throw fail("identityDim \(identityDim) must be in 0...4096") }
        guard normGroups >= 1 else { throw fail("normGroups must be positive") }
        guard dropout >= 0, dropout < 1 else { throw fail("dropout \(dropout) must be in [0, 1)") }
        if variant == .plain, !sourceWarp { throw fail("the plain variant needs sourceWarp (it has no other source input)") }
        if usesTextureEncoder {
            guard !texAttFactors.isEmpty else { throw fail("\(variant) needs at least one texAttFactor") }
            guard Set(texAttFactors).count == texAttFactors.count else { throw fail("texAttFactors \(texAttFactors) repeat") }
            for f in texAttFactors {
                guard f >= 1, f & (f - 1) == 0, f <= downsampleFactor else {
                    throw fail("texAttFactor \(f) is not a UNet level (powers of two up to \(downsampleFactor))")
                }
                guard channels(level: f.trailingZeroBitCount) >= 4 else { throw fail("TexAtt needs at least 4 channels") }
            }
        }
    }

    /// The largest group count ≤ `normGroups` that divides `channels`.
    func groups(for channels: Int) -> Int {
        var g = min(normGroups, channels)
        while channels % g != 0 { g -= 1 }
        return g
    }
}

extension TGDMConfig {
    /// The coefficient input of each frame (N × conditionInputDim) from per-frame ρ̂ (N × coefficientDim):
    /// with a temporal window (k > 0) the flattened ρ̂ of frames i−k…i+k (indices clamped to the sequence,
    /// Sec. 4.2); a single-frame model driven by a sequence gets the k = 1 window's mean instead, the same
    /// smoothing of per-frame estimation jitter in the only form it can read; a still gets ρ̂ itself.
    public func conditionInput(_ rho: Tensor, isSequence: Bool) throws -> Tensor {
        try conditionInput(rho, isSequence: isSequence, rows: 0..<rho.size(0))
    }

    /// Rows `rows` of `conditionInput(rho, isSequence:)`, identical to them, computed alone: a long sequence is
    /// conditioned chunk by chunk without holding the windows of every frame at once.
    public func conditionInput(_ rho: Tensor, isSequence: Bool, rows: Range<Int>) throws -> Tensor {
        guard rho.rank == 2, rho.size(1) == coefficientDim, rho.size(0) >= 1 else {
            throw TGDMError.invalidInput("expected N × \(coefficientDim) coefficients, got \(rho.shape)")
        }
        let n = rho.size(0)
        guard rows.lowerBound >= 0, rows.upperBound <= n, !rows.isEmpty else {
            throw TGDMError.invalidInput("rows \(rows) outside the \(n) frames")
        }
        func windows(_ k: Int) throws -> Tensor {
            var idx: [Int64] = []
            for i in rows { for o in -k...k { idx.append(Int64(Swift.min(Swift.max(i + o, 0), n - 1))) } }
            return try rho.indexSelect(0, Tensor(idx)).reshape([rows.count, 2 * k + 1, coefficientDim])
        }
        if temporalRadius > 0 { return try windows(temporalRadius).reshape([rows.count, conditionInputDim]) }
        if isSequence && n > 2 { return try windows(1).mean(dim: 1) }
        return rows == 0..<n ? rho : try rho.narrow(0, rows.lowerBound, rows.count)
    }
}
