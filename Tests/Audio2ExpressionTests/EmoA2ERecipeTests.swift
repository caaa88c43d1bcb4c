import Torch
import XCTest
import FaceModel
import Media
@testable import Audio2Expression

/// The synthetic-speech data path and the training recipe, on a tiny budget. The full run that produced
/// the shipped weights is `EmoA2EDefaultModelTraining` (gated, see scripts/emoa2e/train_default.sh).
final class EmoA2ERecipeTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }  // one thread: much faster than two on a shared 2-core machine

    func testSpokenSentenceGivesAlignedClipsAndTargets() throws {
        let face = try MorphableModel.loadDefault()
        var rng = SplitMix64(seed: 3)
        let utt = try SpeechCorpusBuilder().speak("Bob moved five big boxes.", index: 0, style: VoiceStyle(voice: "en-us", rate: 160, pitch: 50),
                                                  workDirectory: FileManager.default.temporaryDirectory, rng: &rng)
        XCTAssertEqual(utt.mfcc.shape.dropFirst(), [20, 13])
        let duration = utt.phonemes.last!.end
        XCTAssertEqual(Double(utt.frames), (duration * 25).rounded(.up), accuracy: 1)
        let builder = ExpressionTrackBuilder(vocabulary: try ExpressionVocabulary(names: face.expressionNames))
        let speech = try builder.speechTrack(phonemes: utt.timedPhonemes, frames: utt.frames)
        let target = try builder.expression(speech: speech, emotion: .happy, intensity: 2)
        XCTAssertEqual(target.shape, [utt.frames, 64])
        // Lips press during a /b/ and the jaw opens more on the vowels around it.
        let press = face.expressionNames.firstIndex(of: "mouthPressLeft")!
        let b = utt.phonemes.first { $0.phoneme == "b" }!
        let frameB = Int(((b.start + b.end) / 2 * 25).rounded(.down))
        XCTAssertGreaterThan(speech[frameB][press], 0.2)
        // Landmarks through the face model: the mouth moves with the expression.
        let projector = try MorphableModelLandmarks(model: face)
        let alpha = try Tensor.zeros([utt.frames, 80])
        let moving = try mouthLandmarkDistance(predicted: projector.landmarks(identity: alpha, expression: target),
                                               reference: projector.landmarks(identity: alpha, expression: Tensor.zeros([utt.frames, 64])))
        XCTAssertGreaterThan(moving, 0.5, "mouth landmarks must move by more than half a millimetre")
    }

    func testTinyRecipeRunTrainsEvaluatesAndWritesWeights() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-recipe-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = EmoA2ERecipeConfig()
        config.model = EmoA2EConfig(windowFrames: 16, hiddenDim: 32, layers: 1, heads: 2, dropout: 0)
        config.training = EmoA2ETrainingConfig(steps: 4, batchSize: 4, learningRate: 1e-3, logEvery: 2)
        config.backbones = [.transformer, .mlp]
        config.trainingSentenceLimit = 2
        config.heldOutSentenceLimit = 1
        config.voicesPerTrainingSentence = 1
        config.outputDirectory = dir.path
        config.shippedWeightsPath = dir.appendingPathComponent("shipped.safetensors").path
        var lines: [String] = []
        let report = try EmoA2ERecipe.run(config: config, textEncoder: HashTextEncoder(width: 16), faceModel: MorphableModel.loadDefault()) { lines.append($0) }
        XCTAssertEqual(report.trainingUtterances, 2)
        XCTAssertEqual(report.trainingSequences, 2 * 24)
        XCTAssertEqual(report.heldOutUtterances, 3)
        XCTAssertEqual(report.backbones.map { $0.backbone }, [.transformer, .mlp])
        for b in report.backbones {
            XCTAssertEqual(b.steps, 4)
            XCTAssertTrue(b.heldOutLMD.isFinite && b.heldOutLMD > 0)
            XCTAssertEqual(b.heldOutWordPredictions.count, 16)
            XCTAssertEqual(b.happyOffsetByIntensity.count, 3)
        }
        XCTAssertGreaterThan(report.baselineLMDEmotionOnly, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("report.json").path))
        let shipped = try EmoA2E.load(weights: URL(fileURLWithPath: config.shippedWeightsPath!), textEncoder: HashTextEncoder(width: 16))
        XCTAssertEqual(shipped.config.backbone, .transformer)
        XCTAssertTrue(lines.contains { $0.contains("transformer step 4") })
        // A second run reuses the synthesised speech.
        config.backbones = [.mlp]
        lines = []
        _ = try EmoA2ERecipe.run(config: config, textEncoder: HashTextEncoder(width: 16), faceModel: MorphableModel.loadDefault()) { lines.append($0) }
        XCTAssertTrue(lines.contains { $0.contains("utterances from") }, "\(lines)")
    }
}
