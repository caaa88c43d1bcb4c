import FaceModel
import Foundation
import Media

/// 3DMM coefficients ρ of real photos and videos from Face Mesh: detect and analyse the face, frame a
/// square crop like the renderer's default camera frames the mean face (`MeshCorrespondence.cropEnlarge`,
/// `cropShiftY`), map the landmarks and irises into the crop and fit them (`LandmarkFitter`).
public final class CoefficientEstimator {
    public let analyzer: FaceAnalyzer
    public let fitter: LandmarkFitter

    public struct Estimate {
        /// ρ for the crop (the renderer's camera at `fitter.options.size`).
        public var coefficients: Coefficients
        public var crop: RGBImage
        /// Crop ↔ source pixels.
        public var transform: CropTransform
        public var face: AnalyzedFace
        /// Mean distance (crop pixels) of the fitted model's landmarks to Face Mesh's.
        public var reprojectionError: Double
        /// The fitted model's 468 landmarks in source-image pixels.
        public var projected: [SIMD2<Double>]
    }

    public init(analyzer: FaceAnalyzer, fitter: LandmarkFitter) {
        self.analyzer = analyzer
        self.fitter = fitter
    }

    /// The analyser, the default morphable model and `Models/face/facemesh_correspondence.json`.
    public static func makeDefault(renderer: FaceRenderer? = nil, options: LandmarkFitter.Options = .init()) throws -> CoefficientEstimator {
        let r = try renderer ?? FaceRenderer.makeDefault()
        let corr = try MeshCorrespondence.loadDefault(for: r.model)
        return CoefficientEstimator(analyzer: try FaceAnalyzer(), fitter: try LandmarkFitter(renderer: r, correspondence: corr, options: options))
    }

    public var cropSize: Int { fitter.options.size }

    /// The square crop around a face's landmarks with the renderer's framing.
    public func cropTransform(for face: AnalyzedFace) throws -> CropTransform {
        let c = fitter.correspondence
        let b = ROITransform.boundingBox(face.landmarks.map { ($0.x, $0.y) })
        let side = c.cropEnlarge * b.width
        let box = FaceBox(x: b.centerX - side / 2, y: b.centerY - c.cropShiftY * side - side / 2, width: side, height: side)
        return try FaceCropper.transform(for: box, imageWidth: face.imageWidth, imageHeight: face.imageHeight, size: cropSize,
                                         enlarge: 1, keepInside: false)
    }

    func observation(_ face: AnalyzedFace, _ t: CropTransform, crop: RGBImage?) throws -> LandmarkFitter.Observation {
        // MediaPipe coordinates put pixel centres at integers; crops and the renderer at +0.5.
        func toCrop(_ x: Double, _ y: Double) -> SIMD2<Double> { let p = t.toCrop(x: x + 0.5, y: y + 0.5); return SIMD2(p.u, p.v) }
        let lm = face.landmarks.map { toCrop($0.x, $0.y) }
        let iris = face.irises.map { $0.map { toCrop($0.center.x, $0.center.y) } }
        return LandmarkFitter.Observation(landmarks: lm, depths: face.landmarks.map { $0.z / t.scale }, irisCenters: iris,
                                          image: try crop?.toTensor())
    }

    func estimate(face: AnalyzedFace, image: RGBImage, transform t: CropTransform, photometric: Bool,
                  initial: Coefficients? = nil, previous: Coefficients? = nil) throws -> Estimate {
        let crop = try FaceCropper.crop(image, transform: t)
        let fit = try fitter.fit(observation(face, t, crop: photometric ? crop : nil), initial: initial, previous: previous)
        let inImage = fit.projected.map { p -> SIMD2<Double> in let s = t.toSource(u: p.x, v: p.y); return SIMD2(s.x - 0.5, s.y - 0.5) }
        return Estimate(coefficients: fit.coefficients, crop: crop, transform: t, face: face,
                        reprojectionError: fit.reprojectionError, projected: inImage)
    }

    /// ρ of face `faceIndex` (0 = largest) of a photo. `photometric` refines texture and illumination.
    public func estimate(image: RGBImage, faceIndex: Int = 0, source: String? = nil, photometric: Bool = true) throws -> Estimate {
        let face = try analyzer.analyze(image: image, faceIndex: faceIndex, source: source)
        let saved = fitter.options.photometricIterations
        if photometric && saved == 0 { fitter.options.photometricIterations = 40 }
        defer { fitter.options.photometricIterations = saved }
        return try estimate(face: face, image: image, transform: cropTransform(for: face), photometric: photometric)
    }

    /// ρ per frame of a video, tracked (see `SequenceEstimator`). Frames without a face repeat the last
    /// estimate (nil before the first face).
    public func estimateSequence(frames: [RGBImage], faceIndex: Int = 0, iterationsPerFrame: Int = 60,
                                 temporalWeight: Double = 1.0) throws -> [Estimate?] {
        let sequence = SequenceEstimator(estimator: self, faceIndex: faceIndex, iterationsPerFrame: iterationsPerFrame,
                                         temporalWeight: temporalWeight)
        return try frames.map { try sequence.next($0) }
    }
}

/// ρ of the frames of a video, one frame at a time (memory: one frame): one crop for the whole clip (from the
/// first frame with a face, as FOMM-style preprocessing does), Face Mesh tracked from the previous frame's
/// landmarks, identity from the first frame, later frames warm-started and pulled towards the previous one.
public final class SequenceEstimator {
    public let estimator: CoefficientEstimator
    public let iterationsPerFrame: Int
    public let temporalWeight: Double
    let tracker: FaceTracker
    public private(set) var transform: CropTransform?
    public private(set) var last: CoefficientEstimator.Estimate?

    public init(estimator: CoefficientEstimator, faceIndex: Int = 0, iterationsPerFrame: Int = 60, temporalWeight: Double = 1.0) {
        self.estimator = estimator
        self.iterationsPerFrame = iterationsPerFrame
        self.temporalWeight = temporalWeight
        tracker = FaceTracker(analyzer: estimator.analyzer, faceIndex: faceIndex)
    }

    /// The estimate of the next frame; a frame without a face repeats the last estimate (nil before the first).
    public func next(_ frame: RGBImage) throws -> CoefficientEstimator.Estimate? {
        guard let face = try tracker.track(frame) else { return last }
        let fitter = estimator.fitter
        let t = try transform ?? estimator.cropTransform(for: face)
        transform = t
        let saved = fitter.options
        defer { fitter.options = saved }
        let previous = last?.coefficients
        if previous != nil {
            fitter.options.fitIdentity = false
            fitter.options.iterations = iterationsPerFrame
            fitter.options.temporalWeight = temporalWeight
            fitter.options.photometricIterations = 0
            fitter.options.gazeIterations = min(saved.gazeIterations, 30)
        }
        last = try estimator.estimate(face: face, image: frame, transform: t, photometric: false, initial: previous, previous: previous)
        return last
    }
}
