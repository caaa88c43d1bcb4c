import Torch
import XCTest
@testable import TGDMModel

/// A tiny TGDM (16², 8 base channels) so trainer tests run in seconds.
extension TGDMConfig {
    static let tiny = TGDMConfig(imageSize: 16, baseChannels: 8, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                                 textureEncoderBlocks: 1, coefficientDim: 6, normGroups: 4)
}

/// Random pairs held in memory.
struct SyntheticPairs: PairDataset {
    let examples: [PairExample]
    var count: Int { examples.count }

    init(count: Int, size: Int, coefficientDim: Int, seed: UInt64) throws {
        let g = Generator(seed: seed)
        examples = try (0..<count).map { _ in
            let target = try Tensor.rand([3, size, size], generator: g) * 2 - 1
            return PairExample(source: try target.flip([2]), target: target, render: try target * 0.5,
                               coefficients: try Tensor.randn([coefficientDim], generator: g))
        }
    }

    func example(at index: Int) throws -> PairExample { examples[index] }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
