import Foundation

/// Failures of face analysis: bad input or a missing model gives one of these, never a crash.
public enum FaceAnalysisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A model file is missing; the message names the script that installs it.
    case modelMissing(String)
    /// A model file exists but does not match what the code expects.
    case modelInvalid(String)
    /// Wrong sizes, NaN, an empty image, a face index out of range, ...
    case invalidInput(String)
    /// No face (or not the requested one) in the image; the message names the file when known.
    case noFace(String)

    public var description: String {
        switch self {
        case .modelMissing(let s): return "model missing: \(s)"
        case .modelInvalid(let s): return "invalid model: \(s)"
        case .invalidInput(let s): return "invalid input: \(s)"
        case .noFace(let s): return s
        }
    }
}

/// Where the converted MediaPipe networks live and which script makes them.
public enum MediaPipeModels {
    public static let installScript = "scripts/analysis/install_mediapipe.sh"
    public static let detector = "analysis/mediapipe_face_detection_short_range.safetensors"
    public static let faceMesh = "analysis/mediapipe_face_landmark.safetensors"
    public static let iris = "analysis/mediapipe_iris_landmark.safetensors"

    /// Loads `Models/<relative>` as a graph network, or says which script installs it.
    public static func load(_ relative: String, callerFile: String = #filePath) throws -> MediaPipeGraph {
        let url: URL
        do { url = try ModelLocator.locate(relative, callerFile: callerFile) } catch {
            throw FaceAnalysisError.modelMissing("Models/\(relative) not found; run \(installScript) (or scripts/setup.sh)")
        }
        return try MediaPipeGraph(contentsOf: url)
    }
}
