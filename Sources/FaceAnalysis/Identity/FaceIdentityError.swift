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

/// Where the converted dlib models live (git-ignored, made by `scripts/analysis/install_dlib.sh`).
public enum DlibModels {
    public static let installScript = "scripts/analysis/install_dlib.sh"
    /// dlib_face_recognition_resnet_model_v1 as `DlibResNet` parameters.
    public static let recognitionNetwork = "analysis/dlib_face_recognition_resnet.safetensors"
    /// shape_predictor_5_face_landmarks as `DlibShapePredictor` arrays.
    public static let shapePredictor = "analysis/dlib_shape_predictor_5.safetensors"

    /// The tensors of `Models/<relative>`, or an error that says which script installs the file.
    static func load(_ relative: String, callerFile: String = #filePath) throws -> [String: Tensor] {
        let url: URL
        do { url = try ModelLocator.locate(relative, callerFile: callerFile) } catch {
            throw FaceIdentityError.modelMissing("Models/\(relative) not found; run \(installScript) (or scripts/setup.sh)")
        }
        return try load(url)
    }

    static func load(_ url: URL) throws -> [String: Tensor] {
        do { return try Safetensors.load(url).tensors } catch {
            throw FaceIdentityError.modelInvalid("\(url.path): \(error); rerun \(installScript)")
        }
    }
}
