import Torch
import FaceModel
import Foundation
import Media

/// How a synthetic benchmark is made. The same configuration gives the same file, bit for bit.
public struct SyntheticDatasetConfig: Codable, Equatable, Sendable {
    public var size = 64
    public var identities = 400
    public var framesPerIdentity = 8
    /// The last `testIdentities` identities form the held-out split (never seen in training).
    public var testIdentities = 40
    public var seed: UInt64 = 0

    public init(size: Int = 64, identities: Int = 400, framesPerIdentity: Int = 8, testIdentities: Int = 40, seed: UInt64 = 0) {
        self.size = size; self.identities = identities; self.framesPerIdentity = framesPerIdentity
        self.testIdentities = testIdentities; self.seed = seed
    }

    public func validate() throws {
        guard (16...512).contains(size) else { throw SyntheticDataError.invalid("size must be 16...512, got \(size)") }
        guard identities > 0, identities <= 100_000 else { throw SyntheticDataError.invalid("identities must be 1...100000") }
        guard (2...64).contains(framesPerIdentity) else { throw SyntheticDataError.invalid("frames per identity must be 2...64") }
        guard testIdentities >= 0, testIdentities < identities else { throw SyntheticDataError.invalid("test identities must be < identities") }
        let bytes = Double(identities * framesPerIdentity) * 2 * 3 * Double(size * size)
        guard bytes < 8e9 else { throw SyntheticDataError.invalid(String(format: "the dataset would need %.1f GB; make it smaller", bytes / 1e9)) }
    }
}

/// Generates and stores the synthetic benchmark as one safetensors file:
/// `images` U8 N×3×H×W (photo-like composites), `renders` U8 N×3×H×W (I_3d), `coefficients` F32 N×261,
/// `identity` I64 N; metadata holds the configuration as JSON.
public enum SyntheticDataset {
    public static let format = "tgdm-synthetic-faces-v1"

    public static func generate(_ config: SyntheticDatasetConfig, model: MorphableModel, to url: URL,
                                progress: ((Int, Int) -> Void)? = nil) throws {
        try config.validate()
        let renderer = try SyntheticFaceRenderer(model: model, size: config.size)
        let n = config.identities * config.framesPerIdentity
        let plane = 3 * config.size * config.size
        var images = [UInt8](repeating: 0, count: n * plane)
        var renders = [UInt8](repeating: 0, count: n * plane)
        var coefficients = [Float](repeating: 0, count: n * Coefficients.count)
        var identityIds = [Int64](repeating: 0, count: n)
        for i in 0..<config.identities {
            let person = try SyntheticIdentity.make(index: i, seed: config.seed, model: model, anchors: renderer.anchors)
            var rng = SplitMix64(dataSeed: config.seed ^ (UInt64(i) &* 0xD1B5_4A32_D192_ED03))
            let motions = (0..<config.framesPerIdentity).map { _ in MotionSample.random(&rng, jawIndex: renderer.jawIndex) }
            let frames = try renderer.frames(identity: person, motions: motions)
            for (f, frame) in frames.enumerated() {
                let k = i * config.framesPerIdentity + f
                try toBytes(frame.image, into: &images, at: k * plane)
                try toBytes(frame.render, into: &renders, at: k * plane)
                let c = try frame.coefficients.floats()
                coefficients.replaceSubrange((k * Coefficients.count)..<((k + 1) * Coefficients.count), with: c)
                identityIds[k] = Int64(i)
            }
            progress?(i + 1, config.identities)
        }
        let s = config.size
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]   // byte-identical files for identical configurations
        let meta = String(data: try encoder.encode(config), encoding: .utf8) ?? "{}"
        try Safetensors.save([
            "images": try Tensor(images, shape: [n, 3, s, s]),
            "renders": try Tensor(renders, shape: [n, 3, s, s]),
            "coefficients": try Tensor(coefficients, shape: [n, Coefficients.count]),
            "identity": try Tensor(identityIds, shape: [n]),
        ], metadata: ["format": format, "config": meta], to: url)
    }

    static func toBytes(_ image: Tensor, into buffer: inout [UInt8], at offset: Int) throws {
        let v = try image.floats()
        for (j, x) in v.enumerated() {
            let u = (x.isFinite ? x : 0) * 127.5 + 127.5
            buffer[offset + j] = UInt8(Swift.max(0, Swift.min(255, u.rounded())))
        }
    }
}

/// One training example of the benchmark (Sec. 5.1): images [3, H, W] in [-1, 1]; `render` is I_3d rendered
/// from the target's coefficients, `coefficients` the target's ρ [261], `sourceCoefficients` the source's.
public struct SyntheticPair {
    public let source: Tensor
    public let target: Tensor
    public let render: Tensor
    public let coefficients: Tensor
    public let sourceCoefficients: Tensor
    /// The target's frame number in the dataset file (for per-frame side data such as identity embeddings).
    public let targetFrame: Int
}

/// Anything that serves numbered `SyntheticPair`s (reenactment pairs or swap reconstructions).
public protocol SyntheticPairSource {
    var count: Int { get }
    /// Frame size of the images.
    var size: Int { get }
    func sample(at index: Int) throws -> SyntheticPair
}

/// Source/target pairs from a stored synthetic dataset: every ordered pair of distinct frames of the
/// same identity (Sec. 5.1: "we randomly sample the source and target faces from the same video"),
/// restricted to the training or the held-out identities. Examples are deterministic, so a resumed
/// training run sees exactly the batches it would have seen.
public final class SyntheticPairDataset: SyntheticPairSource, @unchecked Sendable {
    public enum Split: String, Sendable { case train, test, all }

    public let config: SyntheticDatasetConfig
    public let split: Split
    let images: Tensor, renders: Tensor, coefficients: Tensor
    /// Frame indices of each identity in this split.
    public let frameGroups: [[Int]]
    let pairsPerIdentity: Int

    public init(url: URL, split: Split) throws {
        let file = try Safetensors.load(url)
        guard file.metadata["format"] == SyntheticDataset.format, let cfg = file.metadata["config"]?.data(using: .utf8) else {
            throw SyntheticDataError.invalid("\(url.lastPathComponent) is not a synthetic face dataset (make one with `tgdm dataset synth`)")
        }
        let config = try JSONDecoder().decode(SyntheticDatasetConfig.self, from: cfg)
        self.config = config
        guard let im = file.tensors["images"], let re = file.tensors["renders"], let co = file.tensors["coefficients"] else {
            throw SyntheticDataError.invalid("\(url.lastPathComponent) lacks images, renders or coefficients")
        }
        let n = config.identities * config.framesPerIdentity
        guard im.shape == [n, 3, config.size, config.size], re.shape == im.shape, co.shape == [n, Coefficients.count] else {
            throw SyntheticDataError.invalid("\(url.lastPathComponent): tensor shapes do not match its configuration")
        }
        images = im; renders = re; coefficients = co
        self.split = split
        let trainCount = config.identities - config.testIdentities
        let ids: Range<Int>
        switch split {
        case .train: ids = 0..<trainCount
        case .test: ids = trainCount..<config.identities
        case .all: ids = 0..<config.identities
        }
        frameGroups = ids.map { i in Array((i * config.framesPerIdentity)..<((i + 1) * config.framesPerIdentity)) }
        pairsPerIdentity = config.framesPerIdentity * (config.framesPerIdentity - 1)
    }

    public var count: Int { frameGroups.count * pairsPerIdentity }
    public var size: Int { config.size }

    /// (source frame, target frame) of pair `index`.
    public func pair(at index: Int) -> (source: Int, target: Int) {
        let group = frameGroups[index / pairsPerIdentity]
        let k = index % pairsPerIdentity
        let f = config.framesPerIdentity - 1
        let target = k / f
        var source = k % f
        if source >= target { source += 1 }
        return (group[source], group[target])
    }

    public func frame(_ i: Int) throws -> (image: Tensor, render: Tensor, coefficients: Tensor) {
        (try Self.unit(images.select(0, i)), try Self.unit(renders.select(0, i)), try coefficients.select(0, i))
    }

    public func sample(at index: Int) throws -> SyntheticPair {
        guard index >= 0, index < count else { throw SyntheticDataError.invalid("pair \(index) outside 0..<\(count)") }
        let (s, t) = pair(at: index)
        let target = try frame(t), source = try frame(s)
        return SyntheticPair(source: source.image, target: target.image, render: target.render, coefficients: target.coefficients,
                             sourceCoefficients: source.coefficients, targetFrame: t)
    }

    static func unit(_ u8: Tensor) throws -> Tensor { try u8.to(.float32) / 127.5 - 1.0 }
}

/// Training data for the face-swapping paradigm (paper Sec. 4.4, Fig. 4): each frame is reconstructed
/// from its own I_3d and ρ with a source texture image whose face region is masked out — the mouth interior
/// left visible, the paper's "Small" mask — so the identity can only come from the geometry (I_3d, ρ) and
/// z_id, while hair, background and neck come from the masked image.
public final class SyntheticSwapDataset: SyntheticPairSource, @unchecked Sendable {
    public let frames: SyntheticPairDataset
    let indices: [Int]
    let warper: FaceWarper

    public init(url: URL, split: SyntheticPairDataset.Split) throws {
        frames = try SyntheticPairDataset(url: url, split: split)
        indices = frames.frameGroups.flatMap { $0 }
        warper = try FaceWarper(model: MorphableModel.loadDefault())
    }

    public var count: Int { indices.count }
    public var size: Int { frames.size }

    public func sample(at index: Int) throws -> SyntheticPair {
        guard index >= 0, index < count else { throw SyntheticDataError.invalid("frame \(index) outside 0..<\(count)") }
        let f = try frames.frame(indices[index])
        let rho = try Coefficients(f.coefficients)
        let mouth = try warper.field(source: rho, target: rho, size: frames.size).mouth.squeeze(0)
        return SyntheticPair(source: try FaceMasking.maskFace(image: f.image, render: f.render, keep: mouth), target: f.image,
                             render: f.render, coefficients: f.coefficients, sourceCoefficients: f.coefficients, targetFrame: indices[index])
    }
}
