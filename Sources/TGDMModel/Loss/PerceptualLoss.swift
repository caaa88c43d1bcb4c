import Torch
import Foundation

/// Where the perceptual loss gets its VGG16 weights.
public enum PerceptualNetwork: Codable, Equatable, Sendable {
    /// Fixed random weights (offline default; see docs/TGDM.md for why and what it costs).
    case randomVGG16(seed: UInt64, widthDivisor: Int)
    /// torchvision ImageNet weights converted to safetensors.
    case pretrainedVGG16(path: String)
    /// The published LPIPS (the paper's L_p: LPIPS over VGG16), from the Metrics target; the trainer's owner
    /// hands it to `TGDMLoss.perceptualProvider` (`tgdm train tgdm --perceptual lpips` does).
    case lpips(backbone: String)

    public static let offlineDefault = PerceptualNetwork.randomVGG16(seed: 0, widthDivisor: 4)

    public func makeFeatures() throws -> VGG16Features {
        switch self {
        case .randomVGG16(let seed, let divisor): return try VGG16Features(randomSeed: seed, widthDivisor: divisor)
        case .pretrainedVGG16(let path): return try VGG16Features(pretrained: URL(fileURLWithPath: path))
        case .lpips: throw TGDMError.invalidConfig("the LPIPS perceptual loss is provided by the Metrics target: set TGDMLoss.perceptualProvider")
        }
    }
}

/// LPIPS-style distance (Zhang et al. 2018) with unit channel weights: for each VGG16 tap, features are
/// normalised to unit length along channels, the squared differences are summed over channels and
/// averaged over positions; the taps are summed and the batch averaged. (LPIPS proper learns per-channel
/// weights on top; those are trained on human judgements and are not available offline.)
public final class PerceptualLoss {
    public let network: VGG16Features

    public init(network: VGG16Features) { self.network = network }
    public convenience init(_ choice: PerceptualNetwork = .offlineDefault) throws { self.init(network: try choice.makeFeatures()) }

    /// Per-sample distances [B] between images in [-1, 1].
    public func distances(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw TGDMError.invalidInput("perceptual loss needs equal shapes, got \(a.shape) and \(b.shape)") }
        let fa = try network.taps(a), fb = try network.taps(b)
        var total: Tensor? = nil
        for (x, y) in zip(fa, fb) {
            let nx = try x / (x.square().sum(dim: 1, keepDim: true).sqrt() + 1e-10)
            let ny = try y / (y.square().sum(dim: 1, keepDim: true).sqrt() + 1e-10)
            let d = try (nx - ny).square().sum(dim: 1).mean([1, 2])
            total = try total.map { try $0 + d } ?? d
        }
        return total!
    }

    /// Mean distance over the batch.
    public func callAsFunction(_ a: Tensor, _ b: Tensor) throws -> Tensor { try distances(a, b).mean() }
}
