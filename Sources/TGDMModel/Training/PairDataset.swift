import Torch
import Foundation

/// One training pair (Sec. 5.1: source and target frames of the same video): images are [C, H, W] in
/// [-1, 1]; `render` is I_3d rendered from the target's coefficients; `coefficients` is ρ̂ [D]; `warp` is the
/// source warped to the target with its validity mask [C + 1, H, W], for `sourceWarp` models; `identity` is the
/// identity embedding z_id [identityDim] of the face, for swap models.
public struct PairExample {
    public let source: Tensor
    public let target: Tensor
    public let render: Tensor
    public let coefficients: Tensor
    public let warp: Tensor?
    public let identity: Tensor?

    public init(source: Tensor, target: Tensor, render: Tensor, coefficients: Tensor, warp: Tensor? = nil, identity: Tensor? = nil) {
        self.source = source
        self.target = target
        self.render = render
        self.coefficients = coefficients
        self.warp = warp
        self.identity = identity
    }
}

/// A batch: images [B, C, H, W], coefficients [B, D], warps [B, C + 1, H, W], identities [B, identityDim].
public struct PairBatch {
    public let source: Tensor
    public let target: Tensor
    public let render: Tensor
    public let coefficients: Tensor
    public let warp: Tensor?
    public let identity: Tensor?

    public init(source: Tensor, target: Tensor, render: Tensor, coefficients: Tensor, warp: Tensor? = nil, identity: Tensor? = nil) {
        self.source = source
        self.target = target
        self.render = render
        self.coefficients = coefficients
        self.warp = warp
        self.identity = identity
    }

    public var size: Int { target.size(0) }

    public func to(_ device: Device) throws -> PairBatch {
        guard device != .cpu else { return self }
        return PairBatch(source: try source.to(device), target: try target.to(device), render: try render.to(device),
                         coefficients: try coefficients.to(device), warp: try warp?.to(device), identity: try identity?.to(device))
    }
}

/// What the TGDM trainer reads. Implement `count` and `example(at:)`; override `batch(indices:)` when a
/// source can load batches faster than one example at a time.
public protocol PairDataset {
    var count: Int { get }
    func example(at index: Int) throws -> PairExample
    func batch(indices: [Int]) throws -> PairBatch
}

extension PairDataset {
    public func batch(indices: [Int]) throws -> PairBatch {
        guard !indices.isEmpty else { throw TGDMError.invalidInput("empty batch") }
        let examples = try indices.map { i -> PairExample in
            guard i >= 0, i < count else { throw TGDMError.invalidInput("example index \(i) outside 0..<\(count)") }
            return try example(at: i)
        }
        let first = examples[0]
        for (i, e) in zip(indices, examples) {
            guard e.source.rank == 3, e.target.shape == first.target.shape, e.source.shape == first.target.shape,
                  e.render.shape == first.target.shape, e.coefficients.shape == first.coefficients.shape, e.coefficients.rank == 1,
                  (e.warp == nil) == (first.warp == nil), e.warp?.shape == first.warp?.shape,
                  (e.identity == nil) == (first.identity == nil), e.identity?.shape == first.identity?.shape else {
                throw TGDMError.invalidInput("example \(i) has shapes source \(e.source.shape), target \(e.target.shape), render \(e.render.shape), coefficients \(e.coefficients.shape); expected [C,H,W] images of one size and [D] coefficients")
            }
        }
        return PairBatch(source: try Tensor.stack(examples.map(\.source)), target: try Tensor.stack(examples.map(\.target)),
                         render: try Tensor.stack(examples.map(\.render)), coefficients: try Tensor.stack(examples.map(\.coefficients)),
                         warp: first.warp == nil ? nil : try Tensor.stack(examples.compactMap(\.warp)),
                         identity: first.identity == nil ? nil : try Tensor.stack(examples.compactMap(\.identity)))
    }
}
