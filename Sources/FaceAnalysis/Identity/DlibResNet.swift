import Foundation
import Media
import Torch

/// dlib's `affine` layer in convolution mode: y = x · scale[c] + shift[c]. dlib folds a trained batch
/// norm into this (γ/√(var+ε), β − mean·γ/√(var+ε)), so it carries no statistics.
public final class ChannelAffine: Module, UnaryLayer {
    public let scale: Tensor
    public let shift: Tensor

    public init(channels: Int) throws {
        scale = try Tensor.ones([channels])
        shift = try Tensor.zeros([channels])
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let c = scale.count
        return try x * scale.reshape([1, c, 1, 1]) + shift.reshape([1, c, 1, 1])
    }
}

/// One residual unit of dlib's face-recognition ResNet (`ares` / `ares_down` in
/// examples/dnn_face_recognition_ex.cpp): conv3×3 (stride 1 or 2) → affine → relu → conv3×3 → affine,
/// added to the input (or to its 2×2 average pool when downsampling), then relu.
/// dlib's strided convolutions have no padding, so a downsampling unit can give a smaller map than
/// the pooled shortcut (8×8 → 3×3 vs 4×4); dlib's `add_prev` then adds top-left aligned and treats
/// what is missing as zero, channels included (the shortcut has half the channels). So does this.
public final class DlibResidualBlock: Module, UnaryLayer {
    public let conv1: Conv2d
    public let affine1: ChannelAffine
    public let conv2: Conv2d
    public let affine2: ChannelAffine
    public let downsamples: Bool

    public init(inChannels: Int, outChannels: Int, downsample: Bool) throws {
        // dlib's con_ pads k/2 only when the stride is 1.
        conv1 = try Conv2d(inChannels, outChannels, kernel: 3, stride: downsample ? 2 : 1, padding: downsample ? 0 : 1)
        affine1 = try ChannelAffine(channels: outChannels)
        conv2 = try Conv2d(outChannels, outChannels, kernel: 3, stride: 1, padding: 1)
        affine2 = try ChannelAffine(channels: outChannels)
        downsamples = downsample
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try affine1(conv1(x)).relu()
        h = try affine2(conv2(h))
        let shortcut = downsamples ? try F.avgPool2d(x, kernel: 2, stride: 2) : x
        return try Self.addZeroPadded(h, shortcut).relu()
    }

    /// dlib's tt::add(dest, a, b) for tensors of different sizes: the result has the larger size in
    /// every dimension and each input contributes where it has values.
    static func addZeroPadded(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        if a.shape == b.shape { return try a + b }
        let (sa, sb) = (a.shape, b.shape)
        let c = max(sa[1], sb[1]), h = max(sa[2], sb[2]), w = max(sa[3], sb[3])
        func grow(_ t: Tensor, _ s: [Int]) throws -> Tensor {
            s[1] == c && s[2] == h && s[3] == w ? t : try F.pad(t, [0, w - s[3], 0, h - s[2], 0, c - s[1]])
        }
        return try grow(a, sa) + grow(b, sb)
    }
}

/// dlib's face recognition network (`anet_type`, dlib_face_recognition_resnet_model_v1): a 150×150
/// RGB face chip → a 128-d embedding; two faces are the same person when the Euclidean distance of
/// their embeddings is below 0.6 (99.38 % on LFW, per dlib). 29 convolutions:
/// conv7×7/2 → affine → relu → maxpool3/2, then 14 residual units (3×32, 4×64, 3×128, 3×256, 1×256),
/// a global average pool and a bias-free fully connected layer. Parameter paths are checkpoint keys
/// (see scripts/analysis/convert_dlib.py).
public final class DlibResNet: Module, UnaryLayer {
    public static let inputSize = 150
    public static let embeddingSize = 128

    /// dlib's input_rgb_image_sized means (122.782, 117.001, 104.298), read from the model file.
    public let inputMean: Tensor
    public let stemConv: Conv2d
    public let stemAffine: ChannelAffine
    public let blocks: [DlibResidualBlock]
    public let fc: Linear

    /// The layers with placeholder weights; `pretrained()` loads dlib's.
    public init(embeddingSize: Int = DlibResNet.embeddingSize) throws {
        inputMean = try Tensor([122.782, 117.001, 104.298] as [Float])
        stemConv = try Conv2d(3, 32, kernel: 7, stride: 2, padding: 0)
        stemAffine = try ChannelAffine(channels: 32)
        // (channels, downsample) in input order: alevel4 … alevel0 of dnn_face_recognition_ex.cpp.
        let layout: [(Int, Bool)] = [(32, false), (32, false), (32, false),
                                     (64, true), (64, false), (64, false), (64, false),
                                     (128, true), (128, false), (128, false),
                                     (256, true), (256, false), (256, false),
                                     (256, true)]
        var channels = 32
        var units: [DlibResidualBlock] = []
        for (c, down) in layout {
            units.append(try DlibResidualBlock(inChannels: channels, outChannels: c, downsample: down))
            channels = c
        }
        blocks = units
        fc = try Linear(256, embeddingSize, bias: false)
        super.init()
    }

    /// The network with the converted dlib weights (`Models/analysis/…`, or `url`), in eval mode and frozen.
    public static func pretrained(url: URL? = nil) throws -> DlibResNet {
        let state = try url.map { try DlibModels.load($0) } ?? DlibModels.load(ModelFile.dlibRecognitionNetwork)
        let net = try DlibResNet()
        do { try net.load(state) } catch {
            throw FaceIdentityError.modelInvalid("\(ModelFile.dlibRecognitionNetwork): \(error); rerun \(DlibModels.installScript)")
        }
        try net.freeze()
        net.eval()
        return net
    }

    /// N×3×150×150 input already normalised as dlib does ((byte − mean) / 256) → N×128.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let s = x.shape
        guard s.count == 4, s[1] == 3, s[2] == Self.inputSize, s[3] == Self.inputSize else {
            throw FaceIdentityError.invalidInput("the identity network takes N×3×150×150 chips, got \(s)")
        }
        var h = try stemAffine(stemConv(x)).relu()
        h = try F.maxPool2d(h, kernel: 3, stride: 2)
        for block in blocks { h = try block(h) }
        return try fc(h.mean([2, 3]))
    }

    /// Chips with bytes in 0…255 (N×3×150×150, RGB, any float dtype) → dlib's normalised input.
    public func normalize(bytes x: Tensor) throws -> Tensor {
        try (x - inputMean.to(x.dtype).reshape([1, 3, 1, 1])) / 256
    }

    /// 150×150 RGB chips → the N×3×150×150 tensor dlib feeds its network.
    public func inputTensor(chips: [RGBImage]) throws -> Tensor {
        let side = Self.inputSize, plane = side * side
        var values = [Float](repeating: 0, count: chips.count * 3 * plane)
        let mean = try inputMean.floats()
        for (n, chip) in chips.enumerated() {
            guard chip.width == side, chip.height == side else {
                throw FaceIdentityError.invalidInput("identity chips must be 150×150, got \(chip.width)×\(chip.height)")
            }
            chip.pixels.withUnsafeBufferPointer { px in
                values.withUnsafeMutableBufferPointer { out in
                    let base = n * 3 * plane
                    for i in 0..<plane {
                        // input_rgb_image_sized::to_tensor: (pixel − mean) / 256, in float.
                        for c in 0..<3 { out[base + c * plane + i] = (Float(px[3 * i + c]) - mean[c]) / 256 }
                    }
                }
            }
        }
        return try Tensor(values, shape: [chips.count, 3, side, side])
    }
}
