import FaceModel
import Foundation
import Media
import TextEncoder
import Torch

/// Settings of the reproducible EmoA2E training run on synthetic speech (docs/EMOA2E.md).
public struct EmoA2ERecipeConfig: Codable, Sendable {
    public var model = EmoA2EConfig(hiddenDim: 128, layers: 3, heads: 4, dropout: 0.1)
    public var training = EmoA2ETrainingConfig(steps: 2000, batchSize: 16, learningRate: 1e-3, logEvery: 200)
    /// Every backbone gets the same steps and batch size (the ablation of Sec. 5.3).
    public var backbones: [EmoA2EBackbone] = [.transformer, .gru, .mlp]
    public var voicesPerTrainingSentence = 3
    /// Use only the first N training / held-out sentences (quick runs); nil: all of them.
    public var trainingSentenceLimit: Int? = nil
    public var heldOutSentenceLimit: Int? = nil
    public var seed: UInt64 = 2024
    /// Where per-backbone weights and report.json go.
    public var outputDirectory = "runs/emoa2e"
    /// Where the transformer's weights are written for shipping (nil: nowhere).
    public var shippedWeightsPath: String? = "Models/emoa2e/emoa2e_minilm_transformer.safetensors"
    public init() {}
}

/// Measured numbers of one backbone.
public struct EmoA2EBackboneReport: Codable, Sendable {
    public var backbone: EmoA2EBackbone
    public var parameters: Int
    public var steps: Int
    public var trainingSeconds: Double
    public var finalLoss: Double
    /// Mouth landmark distance (mm, 3-D) on held-out sentences, true emotion prompts, η = 2.
    public var heldOutLMD: Double
    public var heldOutLMDUnseenVoice: Double
    public var heldOutExpressionRMSE: Double
    /// Nearest-emotion accuracy of predictions for the 8 training words and for the 16 held-out synonyms (η = 3).
    public var trainingWordAccuracy: Double
    public var heldOutWordAccuracy: Double
    /// Mean cosine between predicted and true emotion offsets (prediction minus the "neutral" prediction).
    public var heldOutWordOffsetCosine: Double
    public var heldOutWordPredictions: [String: String]
    /// Size of the predicted happy offset at η = 1, 2, 3 (RMS over coefficients and frames).
    public var happyOffsetByIntensity: [Double]
}

public struct EmoA2ERecipeReport: Codable, Sendable {
    public var config: EmoA2ERecipeConfig
    public var trainingUtterances: Int
    public var trainingSequences: Int
    public var heldOutUtterances: Int
    public var dataSeconds: Double
    /// LMD of predicting the average speech track plus the exact emotion offset (knows the emotion, ignores audio).
    public var baselineLMDAverageSpeech: Double
    /// LMD of predicting the emotion offset only (closed, silent mouth).
    public var baselineLMDEmotionOnly: Double
    public var backbones: [EmoA2EBackboneReport]
}

/// Builds the synthetic corpus, trains each backbone with the same budget and evaluates them.
public enum EmoA2ERecipe {
    struct EvalUtterance { let utterance: SpokenUtterance; let speech: [[Double]]; let identity: Tensor; let scale: Double; let unseenVoice: Bool }

    static let trainingVoices = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"]
    static let trainingVariants = ["", "+m3", "+f2", "+f4", "+m7", "+klatt"]
    static let unseenVoice = "en-gb-x-gbcwmd+f5"

    /// Identity α of a synthetic speaker (fixed per voice name) and its articulation style.
    static func speaker(_ voice: String, identityDim: Int) throws -> (Tensor, Double) {
        var h: UInt64 = 0xcbf29ce484222325
        for b in voice.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        let alpha = try Tensor.randn([identityDim], generator: Generator(seed: h))
        return (alpha, 1 + 0.2 * Foundation.tanh(try alpha.select(0, 0).item()))
    }

    public static func run(config: EmoA2ERecipeConfig, textEncoder: EmotionTextEncoder, faceModel: MorphableModel,
                           log: (String) -> Void = { print($0) }) throws -> EmoA2ERecipeReport {
        var modelConfig = config.model
        modelConfig.emotionDim = textEncoder.embeddingWidth
        modelConfig.textEncoder = textEncoder.identifier
        modelConfig.emotionConditioned = true
        let out = URL(fileURLWithPath: config.outputDirectory)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let vocabulary = try ExpressionVocabulary(names: faceModel.expressionNames)
        let builder = ExpressionTrackBuilder(vocabulary: vocabulary, fps: 25)
        let projector = try MorphableModelLandmarks(model: faceModel)
        var rng = SplitMix64(seed: config.seed)

        // Prompts: every training word in every template, embedded once.
        var prompts: [MEADEmotion: [Tensor]] = [:]
        for e in MEADEmotion.allCases {
            prompts[e] = try e.trainingWords.flatMap { w in
                try MEADEmotion.promptTemplates.map { try textEncoder.embed($0.replacingOccurrences(of: "{}", with: w)).reshape([-1]) }
            }
        }

        // Speech: a deterministic plan of (sentence, voice), synthesised or read from the cache.
        let dataStart = Date()
        var corpus = SpeechCorpusBuilder(fps: 25, rowsPerFrame: modelConfig.mfccRowsPerFrame)
        corpus.mfccConfig.cepstrumCount = modelConfig.mfccCoefficients
        func randomStyle(_ voice: String) -> VoiceStyle {
            VoiceStyle(voice: voice, rate: 140 + Int(rng.next() % 71), pitch: 30 + Int(rng.next() % 41))
        }
        var plan: [(sentence: Int, style: VoiceStyle, heldOut: Bool)] = []
        for s in SpeechCorpusText.trainingIndices.prefix(config.trainingSentenceLimit ?? Int.max) {
            for _ in 0..<config.voicesPerTrainingSentence {
                let voice = trainingVoices[Int(rng.next() % UInt64(trainingVoices.count))]
                    + trainingVariants[Int(rng.next() % UInt64(trainingVariants.count))]
                plan.append((s, randomStyle(voice), false))
            }
        }
        for s in SpeechCorpusText.heldOutIndices.prefix(config.heldOutSentenceLimit ?? Int.max) {
            for voice in [trainingVoices[s % trainingVoices.count] + trainingVariants[(s / 2) % trainingVariants.count],
                          trainingVoices[(s + 3) % trainingVoices.count], unseenVoice] {
                plan.append((s, randomStyle(voice), true))
            }
        }
        let cacheKey = "v1|\(config.seed)|\(plan.map { "\($0.sentence):\($0.style.name)" }.joined(separator: ","))|R\(modelConfig.mfccRowsPerFrame)|C\(modelConfig.mfccCoefficients)|\(corpus.snrRange.map { "\($0)" } ?? "clean")"
        let cacheURL = out.appendingPathComponent("speech-cache.safetensors")
        var utterances: [SpokenUtterance]
        if let cached = SpokenUtteranceCache.load(key: cacheKey, from: cacheURL), cached.count == plan.count {
            utterances = cached
            log("data: \(cached.count) utterances from \(cacheURL.path)")
        } else {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-emoa2e-\(ProcessInfo.processInfo.processIdentifier)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            utterances = []
            for (i, item) in plan.enumerated() {
                var noise = SplitMix64(seed: config.seed &+ UInt64(i) &* 0x9E37_79B9)
                utterances.append(try corpus.speak(SpeechCorpusText.sentences[item.sentence], index: item.sentence, style: item.style,
                                                   workDirectory: work, rng: &noise))
                if (i + 1) % 50 == 0 { log("data: synthesised \(i + 1)/\(plan.count) utterances") }
            }
            try SpokenUtteranceCache.save(utterances, key: cacheKey, to: cacheURL)
        }
        var sequences: [EmoA2ESequence] = []
        var evaluation: [EvalUtterance] = []
        var trainingUtterances = 0
        for (utt, item) in zip(utterances, plan) {
            let voice = item.style.voice
            let (alpha, scale) = try speaker(voice, identityDim: modelConfig.identityDim)
            let speech = try builder.speechTrack(phonemes: utt.timedPhonemes, frames: utt.frames)
            if item.heldOut {
                evaluation.append(EvalUtterance(utterance: utt, speech: speech, identity: alpha, scale: scale, unseenVoice: voice == unseenVoice))
                continue
            }
            guard utt.frames >= modelConfig.windowFrames else { continue }
            trainingUtterances += 1
            for e in MEADEmotion.allCases {
                for eta in [1.0, 2.0, 3.0] {
                    let choices = prompts[e]!
                    let z = choices[Int(rng.next() % UInt64(choices.count))]
                    sequences.append(EmoA2ESequence(mfcc: utt.mfcc, expression: try builder.expression(speech: speech, emotion: e, intensity: eta, speakerScale: scale),
                                                    identity: alpha, emotion: z, intensity: eta, tag: "\(item.sentence)/\(voice)/\(e.rawValue)/\(Int(eta))"))
                }
            }
        }
        let dataset = try EmoA2EDataset(sequences: sequences, config: modelConfig)
        let dataSeconds = Date().timeIntervalSince(dataStart)
        log("data: \(trainingUtterances) training utterances → \(sequences.count) sequences, \(evaluation.count) held-out utterances, \(String(format: "%.1f", dataSeconds)) s")

        // Baselines that know the emotion but not the audio.
        var meanSpeech = [Double](repeating: 0, count: vocabulary.count)
        var frameCount = 0.0
        for s in sequences where s.tag.hasSuffix("/neutral/1") {
            let rows = try s.expression.toArray(Float.self)
            for (i, v) in rows.enumerated() { meanSpeech[i % vocabulary.count] += Double(v) }
            frameCount += Double(s.frames)
        }
        meanSpeech = meanSpeech.map { $0 / max(frameCount, 1) }
        var baselineAverage = 0.0, baselineEmotionOnly = 0.0, baselineCount = 0.0
        for ev in evaluation {
            for e in MEADEmotion.allCases {
                let target = try builder.expression(speech: ev.speech, emotion: e, intensity: 2, speakerScale: ev.scale)
                let flat = try builder.expression(speech: [[Double]](repeating: meanSpeech, count: ev.utterance.frames), emotion: e, intensity: 2)
                let silent = try builder.expression(speech: [[Double]](repeating: [Double](repeating: 0, count: vocabulary.count), count: ev.utterance.frames),
                                                    emotion: e, intensity: 2)
                baselineAverage += try lmd(flat, target, ev.identity, projector)
                baselineEmotionOnly += try lmd(silent, target, ev.identity, projector)
                baselineCount += 1
            }
        }

        var reports: [EmoA2EBackboneReport] = []
        for backbone in config.backbones {
            var mc = modelConfig
            mc.backbone = backbone
            let model = try EmoA2EModel(config: mc, generator: Generator(seed: config.seed))
            try model.setMFCCStatistics(from: dataset.allMFCC())
            var tc = config.training
            tc.seed = config.seed
            tc.checkpointPath = out.appendingPathComponent("\(backbone.rawValue)-checkpoint.safetensors").path
            let trainer = try EmoA2ETrainer(model: model, dataset: try EmoA2EDataset(sequences: sequences, config: mc), config: tc, landmarks: projector)
            let start = Date()
            let logs = try trainer.run { entry in
                log("\(backbone.rawValue) step \(entry.step): loss \(String(format: "%.4f", entry.loss)) (rec \(String(format: "%.5f", entry.reconstruction)), lm \(String(format: "%.3f", entry.landmark ?? 0))) \(String(format: "%.0f", entry.seconds)) s")
            }
            let seconds = Date().timeIntervalSince(start)
            let weights = out.appendingPathComponent("emoa2e_\(backbone.rawValue).safetensors")
            try trainer.exportWeights(to: weights, metadata: ["recipe": "EmoA2ERecipe", "steps": String(trainer.step)])
            if backbone == .transformer, let shipped = config.shippedWeightsPath {
                try FileManager.default.createDirectory(at: URL(fileURLWithPath: shipped).deletingLastPathComponent(), withIntermediateDirectories: true)
                try trainer.exportWeights(to: URL(fileURLWithPath: shipped), metadata: ["recipe": "EmoA2ERecipe", "steps": String(trainer.step)])
            }
            let emo = try EmoA2E(model: model, textEncoder: textEncoder)
            var report = try evaluate(emo, evaluation, builder: builder, projector: projector, encoder: textEncoder)
            report.backbone = backbone
            report.parameters = model.parameterCount
            report.steps = trainer.step
            report.trainingSeconds = seconds
            report.finalLoss = logs.last?.loss ?? .nan
            log("\(backbone.rawValue): LMD \(String(format: "%.3f", report.heldOutLMD)) mm (unseen voice \(String(format: "%.3f", report.heldOutLMDUnseenVoice))), "
                + "held-out words \(String(format: "%.2f", report.heldOutWordAccuracy)), training words \(String(format: "%.2f", report.trainingWordAccuracy)), \(String(format: "%.0f", seconds)) s")
            reports.append(report)
        }
        let result = EmoA2ERecipeReport(config: config, trainingUtterances: trainingUtterances, trainingSequences: sequences.count,
                                        heldOutUtterances: evaluation.count, dataSeconds: dataSeconds,
                                        baselineLMDAverageSpeech: baselineAverage / max(baselineCount, 1),
                                        baselineLMDEmotionOnly: baselineEmotionOnly / max(baselineCount, 1), backbones: reports)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(result), to: out.appendingPathComponent("report.json"))
        return result
    }

    static func lmd(_ predicted: Tensor, _ target: Tensor, _ identity: Tensor, _ projector: LandmarkProjector) throws -> Double {
        let alpha = try identity.reshape([1, -1]).expand([predicted.size(0), identity.count])
        return try mouthLandmarkDistance(predicted: projector.landmarks(identity: alpha, expression: predicted),
                                         reference: projector.landmarks(identity: alpha, expression: target))
    }

    static func evaluate(_ emo: EmoA2E, _ evaluation: [EvalUtterance], builder: ExpressionTrackBuilder, projector: LandmarkProjector,
                         encoder: EmotionTextEncoder) throws -> EmoA2EBackboneReport {
        let emotions = MEADEmotion.allCases
        var embedding: [String: Tensor] = [:]
        func embed(_ w: String) throws -> Tensor {
            if let z = embedding[w] { return z }
            let z = try encoder.embed(w)
            embedding[w] = z
            return z
        }
        // Lip sync: every emotion's plain word at η = 2, batched per utterance.
        var lmdSeen = 0.0, lmdUnseen = 0.0, nSeen = 0.0, nUnseen = 0.0, sqErr = 0.0, nErr = 0.0
        for ev in evaluation {
            let preds = try emo.predict(mfccClips: ev.utterance.mfcc, identity: ev.identity,
                                        conditions: emotions.map { (try embed($0.rawValue), 2.0) })
            for (e, pred) in zip(emotions, preds) {
                let target = try builder.expression(speech: ev.speech, emotion: e, intensity: 2, speakerScale: ev.scale)
                let d = try lmd(pred, target, ev.identity, projector)
                if ev.unseenVoice { lmdUnseen += d; nUnseen += 1 } else { lmdSeen += d; nSeen += 1 }
                sqErr += try (pred - target).square().sum().item()
                nErr += Double(target.count)
            }
        }
        // Emotion words at η = 3 on the held-out sentences spoken by training voices: the nearest emotion
        // target (mean squared error over frames and coefficients) is the predicted class.
        let probe = evaluation.filter { !$0.unseenVoice }
        let words = emotions.map { $0.rawValue } + emotions.flatMap { $0.heldOutWords }
        func expected(_ w: String) -> MEADEmotion { emotions.first { $0.rawValue == w || $0.heldOutWords.contains(w) }! }
        var errors = [String: [Double]](), cosines = [String: Double]()
        for w in words { errors[w] = [Double](repeating: 0, count: emotions.count); cosines[w] = 0 }
        for ev in probe {
            let preds = try emo.predict(mfccClips: ev.utterance.mfcc, identity: ev.identity,
                                        conditions: try (words + ["neutral"]).map { (try embed($0), 3.0) })
            let neutralPred = preds.last!
            let targets = try emotions.map { try builder.expression(speech: ev.speech, emotion: $0, intensity: 3, speakerScale: ev.scale) }
            let neutralTarget = targets[emotions.firstIndex(of: .neutral)!]
            for (w, pred) in zip(words, preds) {
                for (j, t) in targets.enumerated() { errors[w]![j] += try (pred - t).square().mean().item() }
                let trueOffset = try targets[emotions.firstIndex(of: expected(w))!] - neutralTarget
                let predOffset = try pred - neutralPred
                let denominator = try predOffset.norm().item() * trueOffset.norm().item()
                cosines[w]! += denominator > 1e-9 ? try (predOffset * trueOffset).sum().item() / denominator : 0
            }
        }
        var trainingCorrect = 0.0, heldCorrect = 0.0, heldCosine = 0.0, heldCosineCount = 0.0
        var predictions: [String: String] = [:]
        for w in words {
            let got = emotions[errors[w]!.indices.min { errors[w]![$0] < errors[w]![$1] }!]
            let truth = expected(w)
            if w == truth.rawValue {
                if got == truth { trainingCorrect += 1 }
            } else {
                predictions[w] = got.rawValue
                if got == truth { heldCorrect += 1 }
                if truth != .neutral { heldCosine += cosines[w]! / Double(max(probe.count, 1)); heldCosineCount += 1 }
            }
        }
        // Intensity response: RMS of (happy prediction − neutral-prompt prediction) at η = 1, 2, 3.
        var happyOffsets: [Double] = []
        if let ev = probe.first {
            let etas = [1.0, 2.0, 3.0]
            let preds = try emo.predict(mfccClips: ev.utterance.mfcc, identity: ev.identity,
                                        conditions: try etas.map { (try embed("happy"), $0) } + etas.map { (try embed("neutral"), $0) })
            for i in 0..<3 { happyOffsets.append(try (preds[i] - preds[i + 3]).square().mean().sqrt().item()) }
        }
        return EmoA2EBackboneReport(
            backbone: emo.config.backbone, parameters: 0, steps: 0, trainingSeconds: 0, finalLoss: 0,
            heldOutLMD: lmdSeen / max(nSeen, 1), heldOutLMDUnseenVoice: lmdUnseen / max(nUnseen, 1),
            heldOutExpressionRMSE: (sqErr / max(nErr, 1)).squareRoot(),
            trainingWordAccuracy: trainingCorrect / Double(emotions.count),
            heldOutWordAccuracy: heldCorrect / Double(emotions.count * 2),
            heldOutWordOffsetCosine: heldCosine / max(heldCosineCount, 1), heldOutWordPredictions: predictions,
            happyOffsetByIntensity: happyOffsets)
    }
}
