import Torch
import Foundation

/// Blendshape name → column of the expression vector β (the face model's `expressionNames`).
public struct ExpressionVocabulary: Sendable {
    public let names: [String]
    private let index: [String: Int]

    public init(names: [String]) throws {
        guard !names.isEmpty else { throw EmoA2EError("the face model names no expression components") }
        var idx: [String: Int] = [:]
        for (i, n) in names.enumerated() where idx[n] == nil { idx[n] = i }
        self.names = names
        index = idx
        let needed = Set(Viseme.allCases.flatMap { $0.blendshapes.keys } + MEADEmotion.allCases.flatMap { $0.blendshapes.keys })
        let missing = needed.filter { idx[$0] == nil }.sorted()
        guard missing.isEmpty else {
            throw EmoA2EError("the face model's expression basis lacks the blendshapes \(missing) that the viseme/emotion tables use")
        }
    }

    public var count: Int { names.count }

    /// A dense vector from named weights.
    public func vector(_ weights: [String: Double]) -> [Double] {
        var v = [Double](repeating: 0, count: names.count)
        for (name, w) in weights { if let i = index[name] { v[i] += w } }
        return v
    }
}

/// Synthesises per-frame expression targets β from timed phonemes, with Cohen-Massaro coarticulation:
/// every phoneme's viseme pulls the mouth with a dominance that is full inside its segment and decays
/// exponentially outside it; the frame's shape is the dominance-weighted mean, then lightly smoothed.
/// An emotion adds its expression offset (scaled by η / 3) and scales the articulation.
public struct ExpressionTrackBuilder: Sendable {
    public let vocabulary: ExpressionVocabulary
    public var fps: Double

    public init(vocabulary: ExpressionVocabulary, fps: Double = 25) {
        self.vocabulary = vocabulary
        self.fps = fps
    }

    /// A timed viseme (diphthongs are split into halves).
    struct Target { var viseme: Viseme; var start: Double; var end: Double }

    static func targets(_ phonemes: [(phoneme: String, start: Double, end: Double)]) -> [Target] {
        var out: [Target] = []
        for p in phonemes where p.end > p.start {
            let vs = PhonemeVisemes.visemes(for: p.phoneme)
            let step = (p.end - p.start) / Double(vs.count)
            for (i, v) in vs.enumerated() { out.append(Target(viseme: v, start: p.start + Double(i) * step, end: p.start + Double(i + 1) * step)) }
        }
        return out
    }

    /// Speech only: frames × E viseme weights (before emotion and speaker style).
    public func speechTrack(phonemes: [(phoneme: String, start: Double, end: Double)], frames: Int) throws -> [[Double]] {
        guard frames > 0 else { throw EmoA2EError("an expression track needs at least one frame") }
        let targets = Self.targets(phonemes)
        let shapes = Dictionary(uniqueKeysWithValues: Viseme.allCases.map { ($0, vocabulary.vector($0.blendshapes)) })
        let e = vocabulary.count
        var track = [[Double]](repeating: [Double](repeating: 0, count: e), count: frames)
        for f in 0..<frames {
            let t = (Double(f) + 0.5) / fps
            var total = 0.0
            var acc = [Double](repeating: 0, count: e)
            for target in targets {
                let distance = max(0, max(target.start - t, t - target.end))
                guard distance < 6 * target.viseme.reach else { continue }
                let d = target.viseme.dominance * Foundation.exp(-distance / target.viseme.reach)
                total += d
                let shape = shapes[target.viseme]!
                for j in 0..<e where shape[j] != 0 { acc[j] += d * shape[j] }
            }
            if total > 0 { track[f] = acc.map { $0 / total } }
        }
        // Jaw and lip inertia: a [1 2 1]/4 temporal filter (edges repeated).
        var smoothed = track
        for f in 0..<frames {
            let a = track[max(f - 1, 0)], b = track[f], c = track[min(f + 1, frames - 1)]
            for j in 0..<e { smoothed[f][j] = 0.25 * a[j] + 0.5 * b[j] + 0.25 * c[j] }
        }
        return smoothed
    }

    /// The emotional target: articulation · speech + (η / 3) · emotion offset. `speakerScale` is a
    /// per-speaker articulation style (1 = average).
    public func expression(speech: [[Double]], emotion: MEADEmotion, intensity: Double, speakerScale: Double = 1) throws -> Tensor {
        guard intensity.isFinite, (0...3).contains(intensity) else { throw EmoA2EError("intensity \(intensity) outside [0, 3]") }
        let level = intensity / 3
        let articulation = speakerScale * (1 + (emotion.articulation - 1) * level)
        let offset = vocabulary.vector(emotion.blendshapes).map { $0 * level }
        let e = vocabulary.count
        var flat = [Float]()
        flat.reserveCapacity(speech.count * e)
        for row in speech {
            for j in 0..<e { flat.append(Float(articulation * row[j] + offset[j])) }
        }
        return try Tensor(flat, shape: [speech.count, e])
    }
}
