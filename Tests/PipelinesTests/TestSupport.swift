import Diffusion
import FaceModel
import Foundation
import Media
import Pipelines
import TGDMModel
import Torch
import XCTest

/// The repository's Samples/ folder (portraits with coefficient sidecars, a driving video).
let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Samples")

/// A tiny random TGDM at 16² reading full 261-coefficient ρ̂ (k = `window`), with non-zero TexAtt and output
/// weights so its frames depend on their conditions.
func tinyBundle(window: Int = 0, seed: UInt64 = 3) throws -> TGDMModelBundle {
    let config = TGDMConfig(imageSize: 16, baseChannels: 8, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                            textureEncoderBlocks: 1, coefficientDim: Coefficients.count, normGroups: 4, temporalRadius: window)
    let model = try TGDMUNet(config: config, generator: Generator(seed: seed))
    try Torch.noGrad {
        for (name, p) in model.namedParameters() where name.hasSuffix("tau") { try p.copy_(Tensor.full([1], 0.5)) }
        try model.outputConv.weight.copy_(Tensor.randn(model.outputConv.weight.shape, generator: Generator(seed: seed + 1)) * 0.2)
    }
    return TGDMModelBundle(model: model, schedule: try NoiseSchedule(.paper), defaultSampler: SamplerConfiguration(kind: .ddim, steps: 3, eta: 1))
}

/// One shared renderer for the default face model.
enum Shared {
    static let renderer: FaceRenderer = try! FaceRenderer(model: MorphableModel.loadDefault())
}

func tinyPipeline(window: Int = 0) throws -> TalkingFacePipeline {
    Torch.configureThreads(1)
    return TalkingFacePipeline(bundle: try tinyBundle(window: window), renderer: Shared.renderer)
}

func temporaryDirectory(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-pipeline-\(name.filter(\.isLetter))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) throws -> Double { try (a - b).abs().max().item() }
