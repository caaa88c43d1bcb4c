import Foundation
import Media
import Torch

/// One training utterance: per-frame MFCC clips and expression targets, the speaker's identity, and for
/// emotional data the emotion embedding and intensity.
public struct EmoA2ESequence {
    /// T×R×C MFCC clips.
    public var mfcc: Tensor
    /// T×E expression coefficients β.
    public var expression: Tensor
    /// Identity coefficients α (A values).
    public var identity: Tensor
    /// The emotion prompt's embedding z_emo (D values); nil for emotion-free data.
    public var emotion: Tensor?
    /// η.
    public var intensity: Double
    /// A free-form tag for reports ("happy/2", a sentence id ...).
    public var tag: String

    public init(mfcc: Tensor, expression: Tensor, identity: Tensor, emotion: Tensor? = nil, intensity: Double = 1, tag: String = "") {
        self.mfcc = mfcc; self.expression = expression; self.identity = identity
        self.emotion = emotion; self.intensity = intensity; self.tag = tag
    }

    public var frames: Int { mfcc.size(0) }
}

/// K consecutive frames of one sequence.
public struct EmoA2EWindow {
    public var mfcc: Tensor          // K×R×C
    public var expression: Tensor    // K×E
    public var identity: Tensor      // A
    public var emotion: Tensor?      // D
    public var intensity: Double

    public init(mfcc: Tensor, expression: Tensor, identity: Tensor, emotion: Tensor?, intensity: Double) {
        self.mfcc = mfcc; self.expression = expression; self.identity = identity; self.emotion = emotion; self.intensity = intensity
    }
}

/// Where EmoA2E training windows come from: sequences in memory (`EmoA2EDataset`) or a prepared corpus
/// read from its shards on demand (the Datasets target).
public protocol EmoA2EWindowSource: AnyObject {
    var config: EmoA2EConfig { get }
    var sequenceCount: Int { get }
    func frameCount(ofSequence index: Int) -> Int
    /// `config.windowFrames` frames of sequence `index` from frame `start`.
    func window(sequence index: Int, start: Int) throws -> EmoA2EWindow
}

extension EmoA2EWindowSource {
    /// `count` windows drawn with `rng`: a sequence uniformly at random, then a uniform start frame.
    public func drawWindows(count: Int, rng: inout SplitMix64) -> [(sequence: Int, start: Int)] {
        let k = config.windowFrames
        return (0..<count).map { _ in
            let s = Int(rng.next() % UInt64(sequenceCount))
            let start = Int(rng.next() % UInt64(frameCount(ofSequence: s) - k + 1))
            return (s, start)
        }
    }

    /// The batch of the given windows.
    public func batch(windows: [(sequence: Int, start: Int)]) throws -> EmoA2EBatch {
        guard !windows.isEmpty else { throw EmoA2EError("batch size must be positive") }
        var mfcc: [Tensor] = [], expr: [Tensor] = [], ident: [Tensor] = [], emo: [Tensor] = [], eta: [Float] = []
        for (s, start) in windows {
            let w = try window(sequence: s, start: start)
            mfcc.append(w.mfcc)
            expr.append(w.expression)
            ident.append(try w.identity.reshape([config.identityDim]))
            if config.emotionConditioned {
                guard let e = w.emotion else { throw EmoA2EError("sequence \(s) has no emotion embedding") }
                emo.append(try e.reshape([config.emotionDim]))
                eta.append(Float(w.intensity))
            }
        }
        return EmoA2EBatch(
            mfcc: try Tensor.stack(mfcc), expression: try Tensor.stack(expr), identity: try Tensor.stack(ident),
            emotion: config.emotionConditioned ? try Tensor.stack(emo) : nil,
            intensity: config.emotionConditioned ? try Tensor(eta) : nil)
    }

    /// `size` windows drawn with `rng` (see `drawWindows`).
    public func batch(size: Int, rng: inout SplitMix64) throws -> EmoA2EBatch {
        guard size > 0 else { throw EmoA2EError("batch size must be positive") }
        return try batch(windows: drawWindows(count: size, rng: &rng))
    }
}

/// A batch of random windows of K consecutive frames.
public struct EmoA2EBatch {
    public let mfcc: Tensor        // N×K×R×C
    public let expression: Tensor  // N×K×E
    public let identity: Tensor    // N×A
    public let emotion: Tensor?    // N×D
    public let intensity: Tensor?  // N
}

/// Sequences validated against a config, sampled as random K-frame windows.
public final class EmoA2EDataset: EmoA2EWindowSource {
    public let sequences: [EmoA2ESequence]
    public let config: EmoA2EConfig

    public init(sequences: [EmoA2ESequence], config: EmoA2EConfig) throws {
        guard !sequences.isEmpty else { throw EmoA2EError("the dataset is empty") }
        let c = config
        for (i, s) in sequences.enumerated() {
            let name = s.tag.isEmpty ? "sequence \(i)" : "sequence \(i) (\(s.tag))"
            guard s.mfcc.rank == 3, s.mfcc.size(1) == c.mfccRowsPerFrame, s.mfcc.size(2) == c.mfccCoefficients else {
                throw EmoA2EError("\(name): MFCC must be T×\(c.mfccRowsPerFrame)×\(c.mfccCoefficients), got \(s.mfcc.shape)")
            }
            guard s.expression.shape == [s.frames, c.expressionDim] else {
                throw EmoA2EError("\(name): expression must be \(s.frames)×\(c.expressionDim), got \(s.expression.shape)")
            }
            guard s.frames >= c.windowFrames else {
                throw EmoA2EError("\(name): \(s.frames) frames, shorter than the \(c.windowFrames)-frame window")
            }
            guard s.identity.count == c.identityDim else { throw EmoA2EError("\(name): identity has \(s.identity.count) values, expected \(c.identityDim)") }
            if c.emotionConditioned {
                guard let e = s.emotion, e.count == c.emotionDim else {
                    throw EmoA2EError("\(name): an emotion embedding of \(c.emotionDim) values is required")
                }
                guard s.intensity.isFinite, (0...3).contains(s.intensity) else { throw EmoA2EError("\(name): intensity \(s.intensity) outside [0, 3]") }
            }
            for (label, t) in [("MFCC", s.mfcc), ("expression", s.expression), ("identity", s.identity)] + (s.emotion.map { [("emotion", $0)] } ?? []) {
                guard try t.floats().allSatisfy({ $0.isFinite }) else { throw EmoA2EError("\(name): \(label) holds NaN or infinite values") }
            }
        }
        self.sequences = sequences
        self.config = config
    }

    /// All MFCC rows stacked (for the model's standardisation statistics).
    public func allMFCC() throws -> Tensor { try Tensor.cat(sequences.map { $0.mfcc }, dim: 0) }

    public var sequenceCount: Int { sequences.count }
    public func frameCount(ofSequence index: Int) -> Int { sequences[index].frames }

    public func window(sequence index: Int, start: Int) throws -> EmoA2EWindow {
        let s = sequences[index], k = config.windowFrames
        return EmoA2EWindow(mfcc: try s.mfcc.narrow(0, start, k), expression: try s.expression.narrow(0, start, k),
                            identity: s.identity, emotion: config.emotionConditioned ? s.emotion : nil, intensity: s.intensity)
    }
}

