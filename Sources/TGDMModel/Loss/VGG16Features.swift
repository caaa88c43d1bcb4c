import Torch
import Foundation

/// The convolutional part of VGG16 (Simonyan & Zisserman 2015), returning the five LPIPS taps
/// relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3. Frozen: gradients flow to the input only.
///
/// Two ways to get weights:
/// - `VGG16Features(pretrained:)` loads torchvision's ImageNet weights converted to safetensors by
///   scripts/fixtures/tgdm_convert_vgg16.py (keys `features.N.weight/bias`, N the torchvision layer index).
/// - `VGG16Features(randomSeed:widthDivisor:)` draws fixed random weights (torchvision's He-normal
///   initialisation, seeded) — the offline default, since pretrained weights cannot be downloaded here.
///   `widthDivisor` narrows every layer (4 → 16…128 channels) to make the loss cheap on a CPU.
public final class VGG16Features: Module {
    public let convs: [Conv2d]
    /// Input statistics applied to images in [-1, 1] after mapping them to [0, 1] (ImageNet mean/std).
    let mean: [Double] = [0.485, 0.456, 0.406]
    let std: [Double] = [0.229, 0.224, 0.225]

    /// Output channels per block; a tap after the last convolution of each block, a 2×2 max-pool between blocks.
    static let blocks: [[Int]] = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
    /// torchvision's `features.N` index of each convolution.
    static let torchvisionIndices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]

    public let widthDivisor: Int

    public init(randomSeed seed: UInt64 = 0, widthDivisor: Int = 1) throws {
        guard [1, 2, 4, 8].contains(widthDivisor) else {
            throw TGDMError.invalidConfig("VGG16 width divisor must be 1, 2, 4 or 8, got \(widthDivisor)")
        }
        self.widthDivisor = widthDivisor
        let g = Generator(seed: seed)
        var convs: [Conv2d] = []
        var inC = 3
        for block in Self.blocks {
            for width in block {
                let outC = width / widthDivisor
                let conv = try Conv2d(inC, outC, kernel: 3, padding: 1)
                // torchvision VGG init: kaiming_normal_(mode="fan_out", nonlinearity="relu"), zero bias.
                let std = (2.0 / Double(outC * 9)).squareRoot()
                try Torch.noGrad {
                    try conv.weight.copy_(Tensor.randn(conv.weight.shape, generator: g) * std)
                    try conv.bias?.zero_()
                }
                convs.append(conv)
                inC = outC
            }
        }
        self.convs = convs
        super.init()
        try freeze()
    }

    /// Full-width VGG16 with torchvision weights from a safetensors file.
    public convenience init(pretrained url: URL) throws {
        try self.init(randomSeed: 0, widthDivisor: 1)
        let file = try Safetensors.load(url)
        var state: [String: Tensor] = [:]
        for (i, index) in Self.torchvisionIndices.enumerated() {
            for part in ["weight", "bias"] {
                guard let t = file.tensors["features.\(index).\(part)"] else {
                    throw TGDMError.checkpoint("\(url.lastPathComponent) has no 'features.\(index).\(part)': not a torchvision VGG16 state dict (convert it with scripts/fixtures/tgdm_convert_vgg16.py)")
                }
                state["convs.\(i).\(part)"] = try t.to(.float32)
            }
        }
        try load(state, strict: true)
        try freeze()
    }

    /// The five taps for images in [-1, 1], [B, 3, H, W] (H, W ≥ 16).
    public func taps(_ images: Tensor) throws -> [Tensor] {
        guard images.rank == 4, images.size(1) == 3, images.size(2) >= 16, images.size(3) >= 16 else {
            throw TGDMError.invalidInput("VGG16 expects [B, 3, H, W] images with H, W ≥ 16, got \(images.shape)")
        }
        let dev = images.device
        let m = try Tensor(mean.map(Float.init), shape: [1, 3, 1, 1]).to(dev)
        let s = try Tensor(std.map(Float.init), shape: [1, 3, 1, 1]).to(dev)
        var h = try ((images + 1.0) * 0.5 - m) / s
        var out: [Tensor] = []
        var k = 0
        for (b, block) in Self.blocks.enumerated() {
            if b > 0 { h = try F.maxPool2d(h, kernel: 2) }
            for _ in block {
                h = try convs[k](h).relu()
                k += 1
            }
            out.append(h)
        }
        return out
    }
}
