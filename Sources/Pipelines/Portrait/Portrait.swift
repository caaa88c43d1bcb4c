import FaceAnalysis
import FaceModel
import Foundation
import Media
import Torch

/// A face picture with its 3DMM coefficients ρ: the whole picture, the square around the face (FOMM-style
/// framing, Sec. 5.1) in which ρ is expressed, and how ρ was obtained.
public struct Portrait {
    /// The whole picture, as loaded.
    public let frame: RGBImage
    /// The face square in `frame`. The Deep3DFaceRecon camera scales with the crop, so ρ holds at any crop size.
    public let crop: CropTransform
    public let coefficients: Coefficients
    /// "sidecar <file>", "given" or "fitted (...)".
    public let coefficientSource: String
    /// The file name, for messages.
    public let name: String

    public init(frame: RGBImage, crop: CropTransform, coefficients: Coefficients, coefficientSource: String, name: String) {
        self.frame = frame
        self.crop = crop
        self.coefficients = coefficients
        self.coefficientSource = coefficientSource
        self.name = name
    }

    /// The face crop at `size`: 1×3×size×size in [-1, 1].
    public func image(size: Int) throws -> Tensor {
        try cropImage(size: size).toTensor()
    }

    public func cropImage(size: Int) throws -> RGBImage {
        try FaceCropper.crop(frame, transform: crop.resized(to: size))
    }
}

/// Turns pictures into portraits: coefficients from the caller, from a sidecar file next to the picture
/// (`NAME.coeffs.json` or `.safetensors`, then the picture's centre square is the crop), or estimated from the
/// face found in it: MediaPipe detection and Face Mesh, a square crop framed like the renderer's camera, ρ fitted
/// to the 468 landmarks (`LandmarkFitter`) and texture and light refined photometrically (`CoefficientEstimator`,
/// the stand-in for Deep3DFaceRecon).
public final class PortraitLoader {
    public let renderer: FaceRenderer
    private var loadedEstimator: CoefficientEstimator?

    public init(renderer: FaceRenderer) {
        self.renderer = renderer
    }

    /// The landmark estimator (the analysis networks and the Face Mesh correspondence are loaded on first use).
    public func estimator() throws -> CoefficientEstimator {
        if let e = loadedEstimator { return e }
        let e: CoefficientEstimator
        do { e = try CoefficientEstimator.makeDefault(renderer: renderer) } catch {
            throw PipelineError.model("face analysis is not available: \(error)")
        }
        loadedEstimator = e
        return e
    }

    /// Loads `url` as a portrait (see the type's documentation). `analysisSize` is the crop size of a sidecar's centre square.
    public func load(_ url: URL, coefficients: Coefficients? = nil, analysisSize: Int, faceIndex: Int = 0) throws -> Portrait {
        let frame: RGBImage
        do { frame = try RGBImage(contentsOf: url) } catch {
            throw PipelineError.invalidInput("cannot read \(url.path): \(error)")
        }
        let name = url.lastPathComponent
        if let c = coefficients {
            return Portrait(frame: frame, crop: .centreSquare(width: frame.width, height: frame.height, size: analysisSize),
                            coefficients: try c.frame(0), coefficientSource: "given", name: name)
        }
        for ext in ["coeffs.json", "coeffs.safetensors"] {
            let side = url.deletingPathExtension().appendingPathExtension(ext)
            if FileManager.default.fileExists(atPath: side.path) {
                let c = try Coefficients.load(from: side)
                return Portrait(frame: frame, crop: .centreSquare(width: frame.width, height: frame.height, size: analysisSize),
                                coefficients: try c.frame(0), coefficientSource: "sidecar \(side.lastPathComponent)", name: name)
            }
        }
        return try estimate(frame: frame, name: name, faceIndex: faceIndex)
    }

    /// Finds face number `faceIndex` (largest first) in `frame` and estimates its ρ.
    public func estimate(frame: RGBImage, name: String, faceIndex: Int = 0) throws -> Portrait {
        let e: CoefficientEstimator.Estimate
        do { e = try estimator().estimate(image: frame, faceIndex: faceIndex, source: name) } catch let error as FaceAnalysisError {
            throw PipelineError.noFace("\(error)")
        }
        return Portrait(frame: frame, crop: e.transform, coefficients: e.coefficients,
                        coefficientSource: String(format: "estimated from Face Mesh (landmark error %.2f px at %d²)", e.reprojectionError,
                                                  e.transform.cropSize),
                        name: name)
    }
}
