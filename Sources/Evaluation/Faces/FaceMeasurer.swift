import FaceAnalysis
import FaceModel
import Foundation
import Media
import Metrics
import Torch

/// What the evaluation reads from one face image.
public struct FaceMeasurement: Codable, Equatable, Sendable {
    /// Face Mesh's 468 points (x, y) in pixels of the image scaled to `FaceMeasurer.landmarkFrame` (256) pixels
    /// wide, aspect kept: the LMD frame.
    public var landmarks: [SIMD2<Double>]
    /// The same points in pixels of the image itself (MediaPipe's convention: pixel centres at integers).
    public var imageLandmarks: [SIMD2<Double>]
    /// dlib's 128-d identity embedding (chip aligned on Face Mesh's eye corners and subnasale).
    public var embedding: [Float]?
    /// ρ from Face Mesh + `LandmarkFitter` (identity, expression, pose, gaze; texture/light not fitted).
    public var coefficients: [Float]?
    /// fer's 7 emotion probabilities (angry, disgust, fear, happy, sad, surprise, neutral).
    public var emotion: [Float]?
    /// Inner-lip gap (Face Mesh 13–14) over mouth width (61–291): 0 closed, ≈ 0.3–0.6 wide open.
    public var mouthOpening: Double
    public var imageWidth: Int
    public var imageHeight: Int
}

/// Reads landmarks, identity embedding, ρ and emotion from face images with the installed networks
/// (MediaPipe Face Mesh + iris, dlib ResNet, `LandmarkFitter`, fer's mini-Xception). Images whose short
/// side is below `Options.analysisSide` are upsampled (antialiased bilinear) before analysis: Face Mesh
/// runs on a 192² crop and BlazeFace on 128², so a 64² face is analysed as a 256² one.
public final class FaceMeasurer {
    /// Width, in pixels, of the frame LMD is measured in (the paper's 256² crops).
    public static let landmarkFrame = 256.0

    public struct Options: Sendable {
        public var identity = true
        public var coefficients = true
        public var emotion = true
        /// Short side (pixels) below which images are upsampled before analysis.
        public var analysisSide = 256
        /// Landmark-fitter settings of ρ (defaults: `LandmarkFitter.Options`, no photometric refinement).
        public var fitter = LandmarkFitter.Options()
        public init(identity: Bool = true, coefficients: Bool = true, emotion: Bool = true) {
            self.identity = identity
            self.coefficients = coefficients
            self.emotion = emotion
        }
    }

    public let options: Options
    let analyzer: FaceAnalyzer
    let estimator: CoefficientEstimator?
    let identity: FaceIdentityEncoder?
    let emotion: EmotionClassifier?

    /// Loads the networks the options need (missing ones: an error naming the install script).
    public init(options: Options = Options()) throws {
        self.options = options
        guard (64...2048).contains(options.analysisSide) else {
            throw EvaluationError.invalidConfig("analysis side must be in 64...2048, got \(options.analysisSide)")
        }
        // The iris model always: it gives the eye contours (`refinedLandmarks`) as well as the gaze the fit needs.
        analyzer = try FaceAnalyzer(withIris: true)
        if options.coefficients {
            let renderer = try FaceRenderer.makeDefault()
            let correspondence = try MeshCorrespondence.loadDefault(for: renderer.model)
            estimator = CoefficientEstimator(analyzer: analyzer,
                                             fitter: try LandmarkFitter(renderer: renderer, correspondence: correspondence, options: options.fitter))
        } else {
            estimator = nil
        }
        identity = options.identity ? try FaceIdentityEncoder.pretrained() : nil
        emotion = options.emotion ? try EmotionClassifier() : nil
    }

    /// The image the networks see: upsampled when its short side is below `analysisSide`.
    func analysisImage(_ image: RGBImage) throws -> (image: RGBImage, scale: Double) {
        let short = Swift.min(image.width, image.height)
        guard short < options.analysisSide else { return (image, 1) }
        let s = Double(options.analysisSide) / Double(short)
        let w = Int((Double(image.width) * s).rounded()), h = Int((Double(image.height) * s).rounded())
        return (try image.resized(width: w, height: h), s)
    }

    /// Measures the largest face of `image`; `name` goes into the error when there is none.
    public func measure(_ image: RGBImage, name: String) throws -> FaceMeasurement {
        let (big, scale) = try analysisImage(image)
        let face: AnalyzedFace
        var rho: [Float]? = nil
        do {
            if let estimator {
                let e = try estimator.estimate(image: big, source: name, photometric: false)
                face = e.face
                rho = try e.coefficients.tensor.squeeze(0).floats()
            } else {
                face = try analyzer.analyze(image: big, source: name)
            }
        } catch let error as FaceAnalysisError {
            throw EvaluationError.noFace("\(error)")
        }
        return try assemble(face: face, analysed: big, scale: scale, original: image, coefficients: rho)
    }

    /// A tracker for the frames of one video (`SequenceEstimator` with ρ, else `FaceTracker`): one crop for
    /// the clip, landmarks tracked from the previous frame. Frames without a face repeat the last measurement
    /// when ρ is estimated (nil before the first face) and are nil otherwise.
    public func sequence() -> FaceSequenceMeasurer { FaceSequenceMeasurer(measurer: self) }

    func assemble(face: AnalyzedFace, analysed big: RGBImage, scale: Double, original: RGBImage,
                  coefficients: [Float]?) throws -> FaceMeasurement {
        // The eye contours from the iris model (MediaPipe's refined landmarks): the mesh's own barely close with the lids.
        let lmBig = face.refinedLandmarks.map { SIMD2($0.x, $0.y) }
        var embedding: [Float]? = nil
        if let identity {
            embedding = try identity.embedding(of: big, landmarks: FaceLandmarks5(faceMesh: lmBig))
        }
        var probabilities: [Float]? = nil
        if let emotion {
            probabilities = try Torch.noGrad { try emotion.probabilities(big, face: face.box) }
        }
        let inImage = lmBig.map { $0 / scale }
        let toFrame = Self.landmarkFrame / Double(original.width)
        let width = Landmarks.distance(lmBig[61], lmBig[291])
        let opening = width > 0 ? Landmarks.distance(lmBig[13], lmBig[14]) / width : 0
        return FaceMeasurement(landmarks: inImage.map { $0 * toFrame }, imageLandmarks: inImage, embedding: embedding,
                               coefficients: coefficients, emotion: probabilities, mouthOpening: opening,
                               imageWidth: original.width, imageHeight: original.height)
    }
}

/// Frame-by-frame measurement of one video (see `FaceMeasurer.sequence()`).
public final class FaceSequenceMeasurer {
    let measurer: FaceMeasurer
    let sequence: SequenceEstimator?
    let tracker: FaceTracker?

    init(measurer: FaceMeasurer) {
        self.measurer = measurer
        if let estimator = measurer.estimator {
            sequence = SequenceEstimator(estimator: estimator)
            tracker = nil
        } else {
            sequence = nil
            tracker = FaceTracker(analyzer: measurer.analyzer)
        }
    }

    public func next(_ frame: RGBImage) throws -> FaceMeasurement? {
        let (big, scale) = try measurer.analysisImage(frame)
        do {
            if let sequence {
                guard let e = try sequence.next(big) else { return nil }
                return try measurer.assemble(face: e.face, analysed: big, scale: scale, original: frame,
                                             coefficients: e.coefficients.tensor.squeeze(0).floats())
            }
            guard let face = try tracker?.track(big) else { return nil }
            return try measurer.assemble(face: face, analysed: big, scale: scale, original: frame, coefficients: nil)
        } catch let error as FaceAnalysisError {
            throw EvaluationError.noFace("\(error)")
        }
    }
}
