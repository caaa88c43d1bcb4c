import XCTest
import FaceModel
@testable import Audio2Expression

/// The run that produces Models/emoa2e/emoa2e_minilm_transformer.safetensors and the numbers in
/// docs/EMOA2E.md. Skipped unless TGDM_TRAIN_EMOA2E=1 (it takes about 15 minutes on a CPU); run it with
/// scripts/emoa2e/train_default.sh. TGDM_EMOA2E_STEPS overrides the step budget.
final class EmoA2EDefaultModelTraining: XCTestCase {
    func testTrainDefaultModel() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["TGDM_TRAIN_EMOA2E"] == "1" else { throw XCTSkip("set TGDM_TRAIN_EMOA2E=1 to train the default EmoA2E model") }
        Torch.configureThreads(1)
        var config = EmoA2ERecipeConfig()
        if let steps = env["TGDM_EMOA2E_STEPS"].flatMap(Int.init) { config.training.steps = steps }
        if let out = env["TGDM_EMOA2E_OUT"] { config.outputDirectory = out }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        config.outputDirectory = root.appendingPathComponent(config.outputDirectory).path
        config.shippedWeightsPath = root.appendingPathComponent("Models/emoa2e/emoa2e_minilm_transformer.safetensors").path
        let start = Date()
        let report = try EmoA2ERecipe.run(config: config, textEncoder: MiniLMEmotionEncoder.installed(), faceModel: MorphableModel.loadDefault()) {
            print(String(format: "[%6.0f s] ", Date().timeIntervalSince(start)) + $0)
        }
        print(String(format: "total %.0f s; baselines: average speech %.3f mm, emotion only %.3f mm", Date().timeIntervalSince(start),
                     report.baselineLMDAverageSpeech, report.baselineLMDEmotionOnly))
    }
}
