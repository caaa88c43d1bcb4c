import Audio2Expression
import FaceModel
import Foundation
import Torch

/// EmoA2E training windows from a prepared corpus: each segment with at least K frames is a sequence of
/// MFCC clips (stored per frame) and expression targets β (the expression part of the stored ρ), with the
/// segment's identity α (the mean over its frames) and, for emotion-conditioned models, the embedding of
/// its emotion label and the label's intensity level as η. Unlabelled corpora (VoxCeleb, HDTF) count as
/// neutral at η = 1. Windows are read from the shards on demand.
public final class CorpusSequences: EmoA2EWindowSource {
    public let corpus: PreparedCorpus
    public let config: EmoA2EConfig
    let sequences: [Int]
    let embeddings: [String: Tensor]
    private var identities: [Int: Tensor] = [:]

    /// - Parameter emotionEmbedding: the text encoder's embedding of an emotion word (needed when the model
    ///   is emotion-conditioned).
    public init(corpus: PreparedCorpus, config: EmoA2EConfig, emotionEmbedding: ((String) throws -> Tensor)?) throws {
        let c = corpus.manifest.config
        guard c.mfccRowsPerFrame == config.mfccRowsPerFrame, c.mfccCoefficients == config.mfccCoefficients else {
            throw DatasetError("the corpus has \(c.mfccRowsPerFrame)×\(c.mfccCoefficients) MFCC clips, the model expects \(config.mfccRowsPerFrame)×\(config.mfccCoefficients)")
        }
        guard config.identityDim == Coefficients.identityCount, config.expressionDim == Coefficients.expressionCount else {
            throw DatasetError("the model's identity/expression sizes \(config.identityDim)/\(config.expressionDim) differ from the face model's")
        }
        self.corpus = corpus
        self.config = config
        sequences = corpus.entries.indices.filter { corpus.entries[$0].frames >= config.windowFrames && corpus.entries[$0].audioSamples > 0 }
        guard !sequences.isEmpty else {
            throw DatasetError("no segment with audio has the \(config.windowFrames) frames of a window")
        }
        var emb: [String: Tensor] = [:]
        if config.emotionConditioned {
            guard let embed = emotionEmbedding else { throw DatasetError("an emotion-conditioned model needs an emotion text encoder") }
            for label in Set(sequences.map { corpus.entries[$0].emotion ?? "neutral" }) {
                let z = try embed(label).reshape([-1])
                guard z.count == config.emotionDim else { throw DatasetError("the emotion embedding has \(z.count) values, the model expects \(config.emotionDim)") }
                emb[label] = z
            }
        }
        embeddings = emb
    }

    public var sequenceCount: Int { sequences.count }
    public func frameCount(ofSequence index: Int) -> Int { corpus.entries[sequences[index]].frames }

    public func window(sequence index: Int, start: Int) throws -> EmoA2EWindow {
        let segment = sequences[index], k = config.windowFrames
        let entry = corpus.entries[segment]
        let rho = try corpus.coefficients(segment)
        let expression = try rho.narrow(0, start, k).narrow(1, CoefficientPart.expression.range.lowerBound, Coefficients.expressionCount)
        let identity: Tensor
        if let cached = identities[segment] {
            identity = cached
        } else {
            identity = try rho.narrow(1, CoefficientPart.identity.range.lowerBound, Coefficients.identityCount).mean(dim: 0)
            identities[segment] = identity
        }
        let label = entry.emotion ?? "neutral"
        return EmoA2EWindow(mfcc: try corpus.mfcc(segment, start: start, count: k), expression: try expression.contiguous(), identity: identity,
                            emotion: config.emotionConditioned ? embeddings[label] : nil, intensity: Double(entry.intensity ?? 1))
    }

    /// MFCC clips of up to `maxFrames` frames spread over the corpus (for the model's standardisation statistics).
    public func mfccSample(maxFrames: Int = 20000) throws -> Tensor {
        var parts: [Tensor] = [], total = 0
        let stride = max(1, sequences.count * 64 / max(1, maxFrames))
        for i in Swift.stride(from: 0, to: sequences.count, by: stride) where total < maxFrames {
            let s = sequences[i]
            let n = min(corpus.entries[s].frames, maxFrames - total)
            parts.append(try corpus.mfcc(s, start: 0, count: n))
            total += n
        }
        return try Tensor.cat(parts, dim: 0)
    }
}
