import Torch
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

extension ModelFile {
    /// MediaPipe's networks (Apache-2.0) converted from the mediapipe 0.10.14 wheel at setup.
    public static let mediaPipeDetector = ModelFile(path: "analysis/mediapipe_face_detection_short_range.safetensors",
                                                    installedBy: "scripts/analysis/install_mediapipe.sh (run by scripts/setup.sh)")
    public static let mediaPipeFaceMesh = ModelFile(path: "analysis/mediapipe_face_landmark.safetensors",
                                                    installedBy: "scripts/analysis/install_mediapipe.sh (run by scripts/setup.sh)")
    public static let mediaPipeIris = ModelFile(path: "analysis/mediapipe_iris_landmark.safetensors",
                                                installedBy: "scripts/analysis/install_mediapipe.sh (run by scripts/setup.sh)")
}

/// Loading the converted MediaPipe networks.
public enum MediaPipeModels {
    /// Loads an installed network as a graph, or says which script installs it.
    public static func load(_ file: ModelFile, resources: ModelResources = .default) throws -> MediaPipeGraph {
        let url: URL
        do { url = try resources.url(for: file) } catch { throw FaceAnalysisError.modelMissing("\(error)") }
        return try MediaPipeGraph(contentsOf: url)
    }
}
