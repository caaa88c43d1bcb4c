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
/// (`NAME.coeffs.json` or `.safetensors`, then the picture's centre square is the crop), or estimated: the
/// face is found (Viola-Jones on OpenCV's Haar cascade), cropped FOMM-style and ρ fitted by
/// analysis-by-synthesis (`CoefficientFitter`, the stand-in for Deep3DFaceRecon).
public final class PortraitLoader {
    public let renderer: FaceRenderer
    private var detector: FaceDetector?

    public init(renderer: FaceRenderer) {
        self.renderer = renderer
    }

    /// Loads `url` as a portrait (see the type's documentation). `analysisSize` is the crop size the fit runs at.
    public func load(_ url: URL, coefficients: Coefficients? = nil, analysisSize: Int, fitIterations: Int,
                     faceIndex: Int = 0) throws -> Portrait {
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
        return try fit(frame: frame, name: name, analysisSize: analysisSize, fitIterations: fitIterations, faceIndex: faceIndex)
    }

    /// Finds the face in `frame`, crops it and fits ρ to the crop.
    public func fit(frame: RGBImage, name: String, analysisSize: Int, fitIterations: Int, faceIndex: Int = 0) throws -> Portrait {
        let crop = try faceSquare(in: frame, name: name, size: analysisSize, faceIndex: faceIndex)
        let image = try FaceCropper.crop(frame, transform: crop).toTensor()
        let rho = try fitCoefficients(image, initial: nil, iterations: fitIterations)
        return Portrait(frame: frame, crop: crop, coefficients: rho,
                        coefficientSource: "fitted (\(fitIterations) iterations, face crop at \(Int(crop.originX)),\(Int(crop.originY)) side \(Int(crop.side)))",
                        name: name)
    }

    /// The FOMM-style square around face number `faceIndex` (largest first), sampled at `size`.
    public func faceSquare(in frame: RGBImage, name: String, size: Int, faceIndex: Int = 0) throws -> CropTransform {
        if detector == nil { detector = try FaceDetector() }
        let faces = try detector!.detect(frame).sorted { $0.box.area > $1.box.area }
        guard !faces.isEmpty else { throw PipelineError.noFace("no face found in \(name)") }
        guard faceIndex >= 0, faceIndex < faces.count else {
            throw PipelineError.noFace("\(name) has \(faces.count) face(s); face index \(faceIndex) does not exist")
        }
        return try FaceCropper.transform(for: faces[faceIndex].box, imageWidth: frame.width, imageHeight: frame.height, size: size)
    }

    /// Estimates ρ of a face crop (1×3×S×S in [-1, 1]) by analysis-by-synthesis through the differentiable renderer.
    public func fitCoefficients(_ image: Tensor, initial: Coefficients?, iterations: Int) throws -> Coefficients {
        var o = CoefficientFitter.Options()
        o.iterations = iterations
        o.size = image.size(-1)
        return try CoefficientFitter(renderer: renderer, options: o).fit(image: image, initial: initial).coefficients
    }
}
