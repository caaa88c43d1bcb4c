import Foundation
import Media
import Torch
import XCTest
@testable import Metrics

/// The committed reference numbers (scripts/fixtures/metrics_*_ref.py).
enum Fixture {
    static func load(_ name: String) throws -> Safetensors.File {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw MetricsError.invalidInput("fixture \(name).safetensors is missing from the test bundle")
        }
        return try Safetensors.load(url)
    }

    static func tensor(_ file: Safetensors.File, _ key: String) throws -> Tensor {
        guard let t = file.tensors[key] else { throw MetricsError.invalidInput("fixture has no '\(key)'") }
        return t
    }

    /// An H×W×3 uint8 fixture image as a 1×3×H×W tensor in [-1, 1] (byte / 127.5 − 1).
    static func image(_ file: Safetensors.File, _ key: String) throws -> Tensor {
        try (tensor(file, key).to(.float32).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1).contiguous()
    }

    /// The astronaut photo shared with the Media tests (Tests/MediaTests/Fixtures, read from the checkout).
    static func astronaut() throws -> RGBImage {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../MediaTests/Fixtures/astronaut_256.png").standardizedFileURL
        return try RGBImage(contentsOf: url)
    }
}

/// Cosine similarity of two tensors flattened.
func cosine(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.to(.float64).reshape([-1]), y = try b.to(.float64).reshape([-1])
    return try (x * y).sum().item() / ((x * x).sum().sqrt() * (y * y).sum().sqrt()).item()
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) throws -> Double {
    try (a.to(.float64).reshape([-1]) - b.to(.float64).reshape([-1])).abs().max().item()
}

/// Metric networks are loaded once per test process (the VGG16 and Inception weights are 60-90 MB).
/// The tests run libtorch on one thread: the machine is shared, and this keeps timings steady.
enum Networks {
    static func lpips(_ backbone: LPIPS.Backbone) throws -> LPIPS {
        Torch.configureThreads(1)
        return try cache.value(backbone.rawValue) { try LPIPS(backbone: backbone) }
    }
    static func inception() throws -> FIDInception {
        Torch.configureThreads(1)
        return try cache.value("inception") { try FIDInception() }
    }
    static func emotion() throws -> EmotionClassifier {
        Torch.configureThreads(1)
        return try cache.value("emotion") { try EmotionClassifier() }
    }

    private static let cache = Cache()

    private final class Cache: @unchecked Sendable {
        private var items: [String: Any] = [:]
        private let lock = NSLock()
        func value<T>(_ key: String, make: () throws -> T) throws -> T {
            lock.lock(); defer { lock.unlock() }
            if let v = items[key] as? T { return v }
            let v = try make()
            items[key] = v
            return v
        }
    }
}
