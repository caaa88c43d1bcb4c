import FaceModel
import Foundation
import TGDMModel
import Torch

/// TGDM training pairs from a prepared corpus (Sec. 5.1: source and target frames of the same video).
/// Example k is the k-th frame of the corpus as the target; its source is another frame of the same
/// segment chosen by a seeded hash of k, so the dataset is a fixed function of (corpus, seed) and resumed or
/// data-parallel runs see the same pairs. Images are the stored crops resized (area) to `imageSize`; I_3d is
/// rendered from the target's ρ like the pipeline does at inference; with a temporal radius k the
/// coefficients are the window ρ_{t-k..t+k} of the segment (clamped at its ends). With `swap` (Sec. 4.4) the
/// source is the target itself with its face masked out (every frame is an example, as in the synthetic swap data).
public final class CorpusPairDataset: PairDataset {
    public let corpus: PreparedCorpus
    public let imageSize: Int
    public let temporalRadius: Int
    public let seed: UInt64
    public let swap: Bool
    let renderer: FaceRenderer
    /// Segments with at least two frames and the first example of each.
    let segments: [Int]
    let firstExample: [Int]
    public let count: Int

    public init(corpus: PreparedCorpus, imageSize: Int, temporalRadius: Int, seed: UInt64, renderer: FaceRenderer, swap: Bool = false) throws {
        guard (8...corpus.cropSize).contains(imageSize) else {
            throw DatasetError("model images of \(imageSize)² cannot be made from the corpus's \(corpus.cropSize)² crops")
        }
        guard (0...8).contains(temporalRadius) else { throw DatasetError("temporal radius \(temporalRadius) is outside 0...8") }
        guard corpus.manifest.coefficients == Coefficients.count else {
            throw DatasetError("the corpus stores \(corpus.manifest.coefficients) coefficients per frame, the face model has \(Coefficients.count)")
        }
        self.corpus = corpus
        self.imageSize = imageSize
        self.temporalRadius = temporalRadius
        self.seed = seed
        self.swap = swap
        self.renderer = renderer
        segments = corpus.entries.indices.filter { corpus.entries[$0].frames >= 2 }
        var first: [Int] = [], n = 0
        for s in segments { first.append(n); n += corpus.entries[s].frames }
        firstExample = first
        count = n
        guard count > 0 else { throw DatasetError("the corpus has no segment with two or more frames") }
    }

    /// (segment, source frame, target frame) of example `index`.
    public func pair(at index: Int) throws -> (segment: Int, source: Int, target: Int) {
        guard index >= 0, index < count else { throw DatasetError("example \(index) outside 0..<\(count)") }
        var lo = 0, hi = firstExample.count - 1
        while lo < hi { let mid = (lo + hi + 1) / 2; if firstExample[mid] <= index { lo = mid } else { hi = mid - 1 } }
        let segment = segments[lo]
        let frames = corpus.entries[segment].frames
        let target = index - firstExample[lo]
        var rng = SplitMix64(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        var source = Int(rng.next() % UInt64(frames - 1))
        if source >= target { source += 1 }
        return (segment, source, target)
    }

    public func example(at index: Int) throws -> PairExample {
        let b = try batch(indices: [index])
        return PairExample(source: try b.source.select(0, 0), target: try b.target.select(0, 0), render: try b.render.select(0, 0),
                           coefficients: try b.coefficients.select(0, 0))
    }

    public func batch(indices: [Int]) throws -> PairBatch {
        guard !indices.isEmpty else { throw TGDMError.invalidInput("empty batch") }
        var sources: [Tensor] = [], targets: [Tensor] = [], windows: [Tensor] = [], centres: [Tensor] = []
        for index in indices {
            let (segment, s, t) = try pair(at: index)
            let images = try corpus.frames(segment, [s, t])
            sources.append(try images.select(0, 0))
            targets.append(try images.select(0, 1))
            let rho = try corpus.coefficients(segment)
            let n = rho.size(0)
            let rows = (-temporalRadius...temporalRadius).map { min(n - 1, max(0, t + $0)) }
            windows.append(try Tensor.cat(rows.map { try rho.select(0, $0) }, dim: 0))
            centres.append(try rho.select(0, t))
        }
        let size = imageSize
        func unit(_ u8: [Tensor]) throws -> Tensor {
            var x = try Tensor.stack(u8).to(.float32) / 127.5 - 1.0
            if x.size(-1) != size { x = try F.adaptiveAvgPool2d(x, (size, size)) }
            return x
        }
        let render = try Torch.noGrad { try renderer.render(Coefficients(Tensor.stack(centres)), width: size, height: size).image }
        let target = try unit(targets)
        let source = swap ? try FaceMasking.maskFace(image: target, render: render) : try unit(sources)
        return PairBatch(source: source, target: target, render: render, coefficients: try Tensor.stack(windows))
    }
}
