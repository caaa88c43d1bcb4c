import Foundation
import Torch

/// Failures of the identity encoder: bad input or a missing model gives one of these, never a crash.
public enum FaceIdentityError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A model file is missing; the message names the script that installs it.
    case modelMissing(String)
    /// A model file exists but does not hold what the code expects.
    case modelInvalid(String)
    /// Wrong sizes, NaN, an empty box, ...
    case invalidInput(String)

    public var description: String {
        switch self {
        case .modelMissing(let s): return "model missing: \(s)"
        case .modelInvalid(let s): return "invalid model: \(s)"
        case .invalidInput(let s): return "invalid input: \(s)"
        }
    }
}

extension ModelFile {
    /// dlib_face_recognition_resnet_model_v1 as `DlibResNet` parameters (public domain, converted at setup).
    public static let dlibRecognitionNetwork = ModelFile(path: "analysis/dlib_face_recognition_resnet.safetensors",
                                                         installedBy: "scripts/analysis/install_dlib.sh (run by scripts/setup.sh)")
    /// shape_predictor_5_face_landmarks as `DlibShapePredictor` arrays.
    public static let dlibShapePredictor = ModelFile(path: "analysis/dlib_shape_predictor_5.safetensors",
                                                     installedBy: "scripts/analysis/install_dlib.sh (run by scripts/setup.sh)")
}

/// Loading the converted dlib models.
public enum DlibModels {
    public static let installScript = "scripts/analysis/install_dlib.sh"

    /// The tensors of an installed model file, or an error that says which script installs it.
    static func load(_ file: ModelFile, resources: ModelResources = .default) throws -> [String: Tensor] {
        let url: URL
        do { url = try resources.url(for: file) } catch { throw FaceIdentityError.modelMissing("\(error)") }
        return try load(url)
    }

    static func load(_ url: URL) throws -> [String: Tensor] {
        do { return try Safetensors.load(url).tensors } catch {
            throw FaceIdentityError.modelInvalid("\(url.path): \(error); rerun \(installScript)")
        }
    }
}
