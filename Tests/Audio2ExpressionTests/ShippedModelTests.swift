import Torch
import TextEncoder
import XCTest
import FaceModel
import Media
@testable import Audio2Expression

/// The committed weights (Models/emoa2e) on freshly synthesised speech, judged by what a viewer would see and
/// by the audio itself, not by the `ExpressionTrackBuilder` that made the model's training targets: the mouth
/// of the predicted face (the morphable model's 68 landmark vertices, in mm) against the waveform's energy
/// and espeak-ng's phoneme timing, and the mouth corners under emotion prompts and intensities.
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

    /// A sentence rich in bilabials and open vowels, with pauses, its MFCC clips, espeak-ng's phonemes and the
    /// waveform's energy per video frame.
    struct Speech {
        let mfcc: Tensor
        let phonemes: [(phoneme: String, start: Double, end: Double)]  // seconds from the start of the padded audio
        let energyDB: [Double]
        var frames: Int { energyDB.count }
    }

    static func speech() throws -> Speech {
        var options = SpeechSynthesizer.Options()
        (options.voice, options.rate, options.pitch, options.sampleRate) = ("en-us+m3", 165, 45, 16000)
        let wav = FileManager.default.temporaryDirectory.appendingPathComponent("shipped-a2e-\(UUID().uuidString).wav")
        defer { try? FileManager.default.removeItem(at: wav) }
        let result = try SpeechSynthesizer.synthesize("Bob and Pam paint a map by the barn. Papa bought a big box of apples.", options: options, to: wav)
        // Half a second of silence on each side, with the light noise the training corpus mixes in (40 dB below the
        // speech) so that silence is not digital zero, which the model never heard.
        let speech = try AudioDecoder.decode(wav, sampleRate: 16000)
        let power = speech.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(speech.count, 1))
        let sigma = Float((power / 1e4).squareRoot()), pad = 8000
        var rng = SplitMix64(seed: 7)
        var samples = [Float](repeating: 0, count: pad) + speech + [Float](repeating: 0, count: pad)
        for i in samples.indices { samples[i] += sigma * SpeechCorpusBuilder.gaussian(&rng) }
        let phonemes = result.phonemes.map { (phoneme: $0.phoneme, start: $0.start + 0.5, end: $0.end + 0.5) }
        let config = MFCCConfig(), clipper = try MFCCClips(rowsPerClip: 20, fps: 25)
        let frames = clipper.frameCount(sampleCount: samples.count, sampleRate: 16000)
        let mfcc = try clipper.clips(from: MFCC(config: config).compute(samples), config: config, frameCount: frames)
        // Energy of each frame's own 40 ms of samples (frame i spans [i/25, (i+1)/25) s, as its MFCC clip is centred).
        let energy = (0..<frames).map { i -> Double in
            let chunk = samples[min(i * 640, samples.count)..<min((i + 1) * 640, samples.count)]
            let power = chunk.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(chunk.count, 1))
            return 10 * Foundation.log10(power + 1e-10)
        }
        return Speech(mfcc: mfcc, phonemes: phonemes, energyDB: energy)
    }

    /// Mouth measures of T×64 expressions on the mean identity, from the 68 landmark vertices (mm, y up).
    struct Mouth {
        let gap: [Double]      // inner-lip opening: mean of the three inner upper/lower lip pairs
        let cornerLift: [Double] // mouth corners' height above the upper lip's middle (rises in a smile)
        let width: [Double]    // corner to corner
        let landmarks: [Float]
    }

    static func mouth(_ expression: Tensor, _ projector: MorphableModelLandmarks) throws -> Mouth {
        let t = expression.size(0)
        let lm = try projector.landmarks(identity: Tensor.zeros([t, 80]), expression: expression).floats()
        func p(_ f: Int, _ k: Int) -> SIMD3<Double> { SIMD3(Double(lm[f * 204 + 3 * k]), Double(lm[f * 204 + 3 * k + 1]), Double(lm[f * 204 + 3 * k + 2])) }
        func dist(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }
        let gap = (0..<t).map { f in [(61, 67), (62, 66), (63, 65)].map { dist(p(f, $0.0), p(f, $0.1)) }.reduce(0, +) / 3 }
        let lift = (0..<t).map { f in (p(f, 48).y + p(f, 54).y) / 2 - p(f, 51).y }
        let width = (0..<t).map { f in dist(p(f, 48), p(f, 54)) }
        return Mouth(gap: gap, cornerLift: lift, width: width, landmarks: lm)
    }

    static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }
    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let ma = mean(a), mb = mean(b)
        let cov = zip(a, b).map { ($0 - ma) * ($1 - mb) }.reduce(0, +)
        return cov / (a.map { ($0 - ma) * ($0 - ma) }.reduce(0, +) * b.map { ($0 - mb) * ($0 - mb) }.reduce(0, +)).squareRoot()
    }

    func testShippedModelSpeaksAndEmotes() throws {
        try requireOrSkip(MiniLMEmotionEncoder.installedDirectory() != nil, "all-MiniLM-L6-v2 not installed (scripts/text/install_minilm.sh)")
        let encoder = try MiniLMEmotionEncoder.installed()
        let emo = try EmoA2E.load(weights: Self.weights, textEncoder: encoder)
        let projector = try MorphableModelLandmarks(model: MorphableModel.loadDefault())
        let speech = try Self.speech()
        // "joyful" is not one of the training prompts; "neutral" is the reference face for emotion and intensity.
        let (joyful, sad, neutral) = (try encoder.embed("joyful"), try encoder.embed("sad"), try encoder.embed("neutral"))
        let conditions: [(embedding: Tensor?, intensity: Double)] = [(joyful, 1), (joyful, 2), (joyful, 3), (sad, 1), (sad, 2), (sad, 3), (neutral, 2)]
        let mouths = try emo.predict(mfccClips: speech.mfcc, identity: Tensor.zeros([80]), conditions: conditions).map { try Self.mouth($0, projector) }
        let names = ["joyful 1", "joyful 2", "joyful 3", "sad 1", "sad 2", "sad 3", "neutral 2"]

        // Lip sync, under every prompt and intensity. Frames are classed by the espeak-ng phoneme at their centre.
        func frames(_ accept: (String?) -> Bool) -> [Int] {
            (0..<speech.frames).filter { f in
                let t = (Double(f) + 0.5) / 25
                return accept(speech.phonemes.first { $0.start <= t && t < $0.end }?.phoneme)
            }
        }
        let bilabial = frames { ["p", "b", "m"].contains($0 ?? "") }
        let open = frames { ["a", "aI", "aU", "A:", "A@", "0", "O:"].contains($0 ?? "") }
        let silent = frames { $0 == nil || $0!.hasPrefix("_") }
        XCTAssertGreaterThanOrEqual(min(bilabial.count, open.count, silent.count), 10, "too few frames to compare: \(speech.phonemes)")
        for (name, m) in zip(names, mouths) {
            // The inner lips part with the waveform's energy: measured r = 0.67–0.75 (0 for an audio-blind face).
            let r = Self.pearson(m.gap, speech.energyDB)
            XCTAssertGreaterThan(r, 0.45, "\(name): inner-lip gap vs energy")
            // Open vowels open the mouth wider than bilabials (lips together) and than silence: measured
            // 3.1–5.4 mm over bilabials and 4.3–7.0 mm over silence; the gate is about half the smallest.
            let g = { (f: [Int]) in Self.mean(f.map { m.gap[$0] }) }
            print(String(format: "shipped EmoA2E %@: gap/energy r %.3f, inner-lip gap open %.2f, bilabial %.2f, silent %.2f mm",
                         name, r, g(open), g(bilabial), g(silent)))
            XCTAssertGreaterThan(g(open) - g(bilabial), 1.5, "\(name): open vowels vs bilabials")
            XCTAssertGreaterThan(g(open) - g(silent), 1.5, "\(name): open vowels vs silence")
        }

        // Emotion: the corners rise and the mouth widens for "joyful", the corners drop for "sad", against
        // "neutral". Measured at intensity 3: corner lift +6.6 / −2.6 mm, width +9.4 mm; gates about half.
        let lift = mouths.map { Self.mean($0.cornerLift) }, width = mouths.map { Self.mean($0.width) }
        print("shipped EmoA2E corner lift \(zip(names, lift).map { "\($0) \(String(format: "%.2f", $1))" }), width \(width.map { String(format: "%.1f", $0) })")
        XCTAssertGreaterThan(lift[2] - lift[6], 3, "joyful raises the mouth corners")
        XCTAssertLessThan(lift[5] - lift[6], -1, "sad lowers the mouth corners")
        XCTAssertGreaterThan(width[2] - width[6], 4, "joyful widens the mouth")
        // Intensity grades the emotion: the face's mean landmark distance from the neutral face grows with η for
        // both prompts (measured joyful 0.60 < 1.41 < 2.02 mm, sad 0.38 < 0.78 < 1.17 mm; each step at least 0.39),
        // and the joyful corners rise step by step (measured −6.9 < −4.4 < −2.3 mm, steps of 2.0 and more).
        func distance(_ a: [Float], _ b: [Float]) -> Double {
            var total = 0.0
            for k in stride(from: 0, to: a.count, by: 3) {
                let dx = Double(a[k] - b[k]), dy = Double(a[k + 1] - b[k + 1]), dz = Double(a[k + 2] - b[k + 2])
                total += (dx * dx + dy * dy + dz * dz).squareRoot()
            }
            return total / Double(a.count / 3)
        }
        let displacement = mouths.map { distance($0.landmarks, mouths[6].landmarks) }
        print("shipped EmoA2E distance from neutral \(displacement.map { String(format: "%.2f", $0) })")
        for e in [0, 3] {
            XCTAssertGreaterThan(displacement[e + 1] - displacement[e], 0.15, "\(names[e + 1]) vs \(names[e])")
            XCTAssertGreaterThan(displacement[e + 2] - displacement[e + 1], 0.15, "\(names[e + 2]) vs \(names[e + 1])")
        }
        XCTAssertGreaterThan(lift[1] - lift[0], 0.8, "joyful 2 vs 1")
        XCTAssertGreaterThan(lift[2] - lift[1], 0.8, "joyful 3 vs 2")
    }
}
