// fuzz-swiftpm-targets: TGDMModel Audio2Expression
// The network configs stored in model files' metadata (TGDM `model_config`, EmoA2E `emoa2e.config`): any text
// either fails to decode/validate, or builds a network; inside a 64 MB creation budget (what the loaders allow a
// small file) a huge config must fail cleanly, never trap or allocate past the budget. The first byte picks the
// config kind.
import Audio2Expression
import Foundation
import TGDMModel
import Torch

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelConfig(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: bytes + 1, count: size - 1), as: UTF8.self)
    let budget = 64 << 20
    if bytes[0] % 2 == 0 {
        guard let config = try? TGDMModelBundle.modelConfig(["model_config": text]) else { return 0 }
        _ = try? Torch.withCreationBudget(bytes: budget) { try TGDMUNet(config: config, generator: Generator(seed: 0)) }
    } else {
        guard let config = try? JSONDecoder().decode(EmoA2EConfig.self, from: Data(text.utf8)) else { return 0 }
        _ = try? Torch.withCreationBudget(bytes: budget) { try EmoA2EModel(config: config, generator: Generator(seed: 0)) }
    }
    return 0
}
