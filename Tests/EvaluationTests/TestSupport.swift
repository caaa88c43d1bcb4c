import Evaluation
import Foundation
import Media
import Metrics
import TGDMModel
import Torch
import XCTest

/// The committed reference numbers (scripts/fixtures/evaluation_*_ref.py).
enum Fixture {
    static func load(_ name: String) throws -> Safetensors.File {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw EvaluationError.invalidInput("fixture \(name).safetensors is missing from the test bundle")
        }
        return try Safetensors.load(url)
    }

    static func tensor(_ file: Safetensors.File, _ key: String) throws -> Tensor {
        guard let t = file.tensors[key] else { throw EvaluationError.invalidInput("fixture has no '\(key)'") }
        return t
    }

    /// N×H×W×3 uint8 fixture images as an N×3×H×W tensor in [-1, 1].
    static func images(_ file: Safetensors.File, _ key: String) throws -> Tensor {
        try (tensor(file, key).to(.float32).permute(0, 3, 1, 2) / 127.5 - 1).contiguous()
    }

    /// A file of the checkout (photos shared with other test targets).
    static func checkout(_ path: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../\(path)").standardizedFileURL
    }

    static func astronaut256() throws -> RGBImage { try RGBImage(contentsOf: checkout("Tests/MediaTests/Fixtures/astronaut_256.png")) }
    static func astronaut512() throws -> RGBImage { try RGBImage(contentsOf: checkout("Samples/astronaut.png")) }
    /// A synthetic face rendered by the project (a different identity from the astronaut).
    static func syntheticFace() throws -> RGBImage { try RGBImage(contentsOf: checkout("Samples/source.png")) }
}

/// `image` moved right by `dx` and down by `dy` pixels (edges replicated).
func shifted(_ image: RGBImage, dx: Int, dy: Int) throws -> RGBImage {
    var out = image
    for y in 0..<image.height {
        for x in 0..<image.width {
            let sx = Swift.min(image.width - 1, Swift.max(0, x - dx)), sy = Swift.min(image.height - 1, Swift.max(0, y - dy))
            out.setPixel(x: x, y: y, image.pixel(x: sx, y: sy))
        }
    }
    return out
}

/// The evaluation networks are loaded once per test process (VGG16 and Inception are 60-90 MB), on one thread:
/// the machine is shared, and this keeps timings steady.
enum Networks {
    static func measurer() throws -> FaceMeasurer {
        Torch.configureThreads(1)
        return try cache.value("measurer") { try FaceMeasurer() }
    }
    static func inception() throws -> FIDInception {
        Torch.configureThreads(1)
        return try cache.value("inception") { try FIDInception() }
    }
    static func lpips() throws -> LPIPS {
        Torch.configureThreads(1)
        return try cache.value("lpips") { try LPIPS(backbone: .vgg16) }
    }
    /// Face Mesh and dlib only (no ρ fit, no emotion): the fast measurer.
    static func identityMeasurer() throws -> FaceMeasurer {
        Torch.configureThreads(1)
        return try cache.value("identity") { try FaceMeasurer(options: .init(identity: true, coefficients: false, emotion: false)) }
    }
    /// A paired evaluator with every per-image metric (ρ readout optional), no FID; emotion target "happy".
    static func pairedEvaluator(motion: Bool) throws -> PairedEvaluator {
        Torch.configureThreads(1)
        return try cache.value("paired-\(motion)") {
            var o = PairedEvaluator.Options()
            o.motion = motion
            o.setMetrics = false
            o.emotionLabel = .happy
            return try PairedEvaluator(options: o)
        }
    }
    /// The astronaut's face: a 96² crop of the 256² photo around it (BlazeFace box 89,41 48x48), scaled to 128²
    /// (small inputs keep the tests fast).
    static func face128() throws -> RGBImage {
        try cache.value("face128") { try Fixture.astronaut256().cropped(x: 65, y: 17, width: 96, height: 96).resized(width: 128, height: 128) }
    }
    /// The astronaut (256²) measured once (its ρ fit takes seconds).
    static func astronautMeasurement() throws -> FaceMeasurement {
        try cache.value("astronaut") { try measurer().measure(Fixture.astronaut256(), name: "astronaut") }
    }

    private static let cache = Cache()

    private final class Cache: @unchecked Sendable {
        private var items: [String: Any] = [:]
        private let lock = NSRecursiveLock()
        func value<T>(_ key: String, make: () throws -> T) throws -> T {
            lock.lock(); defer { lock.unlock() }
            if let v = items[key] as? T { return v }
            let v = try make()
            items[key] = v
            return v
        }
    }
}

func useOneThread() { Torch.configureThreads(1) }

func temporaryDirectory(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-eval-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) throws -> Double { try (a.to(.float64) - b.to(.float64)).abs().max().item() }

/// Random pairs held in memory.
struct RandomPairs: PairDataset {
    let examples: [PairExample]
    var count: Int { examples.count }

    init(count: Int, size: Int, coefficientDim: Int, seed: UInt64, coefficientScale: Double = 1) throws {
        let g = Generator(seed: seed)
        examples = try (0..<count).map { _ in
            let target = try Tensor.rand([3, size, size], generator: g) * 2 - 1
            return PairExample(source: try target.flip([2]), target: target, render: try target * 0.5,
                               coefficients: try Tensor.randn([coefficientDim], generator: g) * coefficientScale)
        }
    }

    func example(at index: Int) throws -> PairExample { examples[index] }
}
