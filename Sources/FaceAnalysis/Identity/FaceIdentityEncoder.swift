import Foundation
import Media
import Torch

/// How a face box given to the identity encoder was made. dlib's 5-point model was trained on boxes
/// of dlib's HOG frontal-face detector; other detectors (BlazeFace, the Haar cascade) frame faces
/// differently, and the predictor's points drift with the box.
public enum FaceBoxSource: Sendable {
    /// A dlib frontal-face-detector box: used as is, the result matches dlib's pipeline.
    case dlibDetector
    /// Any other box: it only seeds the predictor; the box implied by those points
    /// (`DlibShapePredictor.dlibBox(fitting:)`) is then used for a second, final pass.
    case otherDetector
}

/// Face identity embeddings with dlib's models: box → 5 points (shape predictor) → 150×150 chip
/// aligned like dlib's get_face_chip_details(shape, 150, 0.25) → 128-d ResNet embedding. Same person
/// when `distance` < `sameIdentityThreshold` (0.6).
public final class FaceIdentityEncoder: @unchecked Sendable {
    public static let sameIdentityThreshold = 0.6
    public static let chipSize = 150
    public static let chipPadding = 0.25

    public let network: DlibResNet
    public let shapePredictor: DlibShapePredictor

    public init(network: DlibResNet, shapePredictor: DlibShapePredictor) {
        self.network = network
        self.shapePredictor = shapePredictor
    }

    /// The converted dlib models from `Models/analysis/` (scripts/analysis/install_dlib.sh makes them).
    public static func pretrained(networkURL: URL? = nil, shapePredictorURL: URL? = nil) throws -> FaceIdentityEncoder {
        FaceIdentityEncoder(network: try DlibResNet.pretrained(url: networkURL),
                            shapePredictor: try DlibShapePredictor.pretrained(url: shapePredictorURL))
    }

    // MARK: - Steps

    /// dlib's five points for the face in `box`.
    public func landmarks(in image: RGBImage, box: FaceBox, source: FaceBoxSource = .otherDetector) throws -> FaceLandmarks5 {
        let first = try shapePredictor.landmarks(in: image, box: box)
        guard source == .otherDetector else { return first }
        return try shapePredictor.landmarks(in: image, box: shapePredictor.dlibBox(fitting: first))
    }

    /// The aligned 150×150 chip dlib's network expects.
    public func chip(of image: RGBImage, landmarks: FaceLandmarks5) throws -> RGBImage {
        try FaceChipAlignment(landmarks: landmarks, size: Self.chipSize, padding: Self.chipPadding).extract(from: image)
    }

    // MARK: - Embeddings

    /// The embedding of the face in `box`.
    public func embedding(of image: RGBImage, box: FaceBox, source: FaceBoxSource = .otherDetector) throws -> [Float] {
        try embedding(of: image, landmarks: landmarks(in: image, box: box, source: source))
    }

    /// The embedding of the face at these five points (from the predictor or from Face Mesh via
    /// `FaceLandmarks5(faceMesh:)`).
    public func embedding(of image: RGBImage, landmarks: FaceLandmarks5) throws -> [Float] {
        try embedding(chip: chip(of: image, landmarks: landmarks))
    }

    /// The embedding of an aligned 150×150 chip.
    public func embedding(chip: RGBImage) throws -> [Float] {
        try embeddings(chips: [chip])[0]
    }

    /// Embeddings of several aligned 150×150 chips, in one batch.
    public func embeddings(chips: [RGBImage]) throws -> [[Float]] {
        guard !chips.isEmpty else { return [] }
        let out = try Torch.noGrad { try network(network.inputTensor(chips: chips).to(network.device)) }
        let flat = try out.cpu().floats()
        let d = DlibResNet.embeddingSize
        return (0..<chips.count).map { Array(flat[($0 * d)..<(($0 + 1) * d)]) }
    }

    /// Embeddings of aligned chips given as an N×3×150×150 tensor in the project's [-1, 1] image
    /// convention (e.g. generated frames already aligned); differentiable, on the tensor's device.
    public func embeddings(chipTensor x: Tensor) throws -> Tensor {
        let s = x.shape
        guard s.count == 4, s[1] == 3, s[2] == Self.chipSize, s[3] == Self.chipSize else {
            throw FaceIdentityError.invalidInput("chip tensor must be N×3×150×150, got \(s)")
        }
        // max propagates NaN, so one reduction catches NaN and infinities.
        guard try x.detach().abs().max().item().isFinite else {
            throw FaceIdentityError.invalidInput("chip tensor contains NaN or infinite values")
        }
        return try network(network.normalize(bytes: (x + 1) * 127.5))
    }

    // MARK: - Comparing

    /// Euclidean distance (dlib's measure: same person below 0.6).
    public static func distance(_ a: [Float], _ b: [Float]) throws -> Double {
        try check(a, b)
        return zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
    }

    /// Cosine similarity of two embeddings.
    public static func cosineSimilarity(_ a: [Float], _ b: [Float]) throws -> Double {
        try check(a, b)
        var (ab, aa, bb) = (0.0, 0.0, 0.0)
        for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
        guard aa > 0, bb > 0 else { throw FaceIdentityError.invalidInput("cosine similarity of a zero embedding") }
        return ab / (aa * bb).squareRoot()
    }

    public static func isSamePerson(_ a: [Float], _ b: [Float]) throws -> Bool {
        try distance(a, b) < sameIdentityThreshold
    }

    private static func check(_ a: [Float], _ b: [Float]) throws {
        guard a.count == b.count, !a.isEmpty else {
            throw FaceIdentityError.invalidInput("embeddings of sizes \(a.count) and \(b.count) cannot be compared")
        }
        guard a.allSatisfy({ $0.isFinite }), b.allSatisfy({ $0.isFinite }) else {
            throw FaceIdentityError.invalidInput("embedding contains NaN or infinite values")
        }
    }
}
