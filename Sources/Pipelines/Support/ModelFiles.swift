import Audio2Expression
import Foundation

/// The bundled model files under `Models/` (see `ModelLocator` for how they are found).
public enum ModelFiles {
    public static let tgdm = "tgdm/tgdm_synth64.safetensors"
    public static let emoA2E = "emoa2e/\(EmoA2E.defaultWeightsFileName)"

    public static func locate(_ relative: String) throws -> URL { try ModelLocator.locate(relative) }
}
