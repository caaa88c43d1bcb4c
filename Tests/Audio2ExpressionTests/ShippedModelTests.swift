import Torch
import TextEncoder
import XCTest
import FaceModel
@testable import Audio2Expression

/// The committed weights (Models/emoa2e) on freshly synthesised speech.
final class ShippedModelTests: XCTestCase {
    override func setUp() { Torch.configureThreads(1) }  // one thread: much faster than two on a shared 2-core machine

    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/emoa2e/emoa2e_minilm_transformer.safetensors")

    func testShippedWeightsLoadAndMatchTheDefaultConfig() throws {
        let emo = try EmoA2E.load(weights: Self.weights, textEncoder: nil)
        XCTAssertEqual(emo.config.backbone, .transformer)
        XCTAssertEqual(emo.config.windowFrames, 32)
        XCTAssertEqual(emo.config.mfccRowsPerFrame, 20)
        XCTAssertEqual(emo.config.emotionDim, 384)
        XCTAssertEqual(emo.config.textEncoder, "minilm-l6-v2")
        let z = try l2Normalize(Tensor.randn([1, 384], generator: Generator(seed: 1)))
        let out = try emo.predict(mfccClips: Tensor.randn([40, 20, 13], generator: Generator(seed: 2)) * 5, identity: Tensor.zeros([80]), emotionEmbedding: z, intensity: 2)
        XCTAssertEqual(out.shape, [40, 64])
        XCTAssertTrue(try out.floats().allSatisfy { $0.isFinite })
    }

    func testShippedModelSpeaksAndEmotes() throws {
        try requireOrSkip(MiniLMEmotionEncoder.installedDirectory() != nil, "all-MiniLM-L6-v2 not installed (scripts/text/install_minilm.sh)")
        let emo = try EmoA2E.load(weights: Self.weights, textEncoder: MiniLMEmotionEncoder.installed())
        let names = try MorphableModel.loadDefault().expressionNames
        var rng = SplitMix64(seed: 5)
        let utt = try SpeechCorpusBuilder().speak("Open the window and move the boxes.", index: 0, style: VoiceStyle(voice: "en-us+m3", rate: 165, pitch: 45),
                                                  workDirectory: FileManager.default.temporaryDirectory, rng: &rng)
        let alpha = try Tensor.zeros([80])
        let happy = try emo.predict(mfccClips: utt.mfcc, identity: alpha, emotion: "joyful", intensity: 3)
        let sad = try emo.predict(mfccClips: utt.mfcc, identity: alpha, emotion: "sad", intensity: 3)
        func column(_ t: Tensor, _ name: String) throws -> [Float] { try t.select(1, names.firstIndex(of: name)!).floats() }
        func mean(_ v: [Float]) -> Float { v.reduce(0, +) / Float(v.count) }
        // The held-out word "joyful" smiles; "sad" frowns.
        XCTAssertGreaterThan(mean(try column(happy, "mouthSmileLeft")), mean(try column(sad, "mouthSmileLeft")) + 0.2)
        XCTAssertGreaterThan(mean(try column(sad, "mouthFrownLeft")), mean(try column(happy, "mouthFrownLeft")) + 0.2)
        // The jaw follows the speech: predicted opening correlates with the viseme target of this utterance.
        let builder = ExpressionTrackBuilder(vocabulary: try ExpressionVocabulary(names: names))
        let target = try builder.expression(speech: builder.speechTrack(phonemes: utt.timedPhonemes, frames: utt.frames), emotion: .happy, intensity: 3)
        let jaw = try column(happy, "jawOpen").map(Double.init), want = try column(target, "jawOpen").map(Double.init)
        XCTAssertGreaterThan(jaw.max()! - jaw.min()!, 0.25)
        let mj = jaw.reduce(0, +) / Double(jaw.count), mw = want.reduce(0, +) / Double(want.count)
        let cov = zip(jaw, want).map { ($0 - mj) * ($1 - mw) }.reduce(0, +)
        let correlation = cov / (jaw.map { ($0 - mj) * ($0 - mj) }.reduce(0, +) * want.map { ($0 - mw) * ($0 - mw) }.reduce(0, +)).squareRoot()
        print("shipped EmoA2E: jawOpen correlation with the viseme target \(correlation)")
        XCTAssertGreaterThan(correlation, 0.7)
    }
}
