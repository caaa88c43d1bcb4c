import Torch
import Foundation

/// Projects face-model coefficients to the 68 facial landmarks (the FaceModel target provides one).
/// Must be differentiable in `expression` for the landmark loss to train the network.
public protocol LandmarkProjector {
    /// - Parameters:
    ///   - identity: N×80 identity coefficients α.
    ///   - expression: N×64 expression coefficients β.
    /// - Returns: N×68×2 (image plane) or N×68×3 landmarks.
    func landmarks(identity: Tensor, expression: Tensor) throws -> Tensor
}

/// The EmoA2E objective (Eq. 12-14): L = λ_rec·L_rec(β̂, β) + λ_lm·L_lm(l̂, l), λ_rec = 100, λ_lm = 0.1.
/// Both distances are mean squared errors (the ‖·‖₂ of the paper, averaged over elements so the weights
/// do not depend on batch or window size).
public struct EmoA2ELoss: Sendable {
    public var reconstructionWeight: Double
    public var landmarkWeight: Double

    public init(reconstructionWeight: Double = 100, landmarkWeight: Double = 0.1) {
        self.reconstructionWeight = reconstructionWeight
        self.landmarkWeight = landmarkWeight
    }

    public struct Value {
        public let total: Tensor
        public let reconstruction: Double
        public let landmark: Double?
    }

    /// - Parameters: predicted/target N×K×E, identity N×A; landmarks are skipped when `projector` is nil.
    public func callAsFunction(predicted: Tensor, target: Tensor, identity: Tensor, projector: LandmarkProjector?) throws -> Value {
        guard predicted.shape == target.shape, predicted.rank == 3 else {
            throw EmoA2EError("prediction \(predicted.shape) and target \(target.shape) must both be N×K×E")
        }
        let rec = try F.mseLoss(predicted, target)
        var total = try rec * reconstructionWeight
        var lmValue: Double? = nil
        if let projector, landmarkWeight != 0 {
            let (n, k, e) = (predicted.size(0), predicted.size(1), predicted.size(2))
            let alpha = try identity.unsqueeze(1).expand([n, k, identity.size(1)]).reshape([n * k, identity.size(1)])
            let predictedLandmarks = try projector.landmarks(identity: alpha, expression: predicted.reshape([n * k, e]))
            let targetLandmarks = try Torch.noGrad { try projector.landmarks(identity: alpha, expression: target.reshape([n * k, e])) }
            guard predictedLandmarks.shape == targetLandmarks.shape, predictedLandmarks.size(0) == n * k else {
                throw EmoA2EError("landmark projector returned \(predictedLandmarks.shape) for \(n * k) frames")
            }
            let lm = try F.mseLoss(predictedLandmarks, targetLandmarks)
            total = try total + lm * landmarkWeight
            lmValue = try lm.item()
        }
        return Value(total: total, reconstruction: try rec.item(), landmark: lmValue)
    }
}

/// Mouth landmark distance (LMD): the mean Euclidean distance between predicted and reference mouth
/// landmarks (points 48-67 of the 68-point layout), in the projector's units.
public func mouthLandmarkDistance(predicted: Tensor, reference: Tensor) throws -> Double {
    guard predicted.shape == reference.shape, predicted.rank == 3, predicted.size(1) == 68 else {
        throw EmoA2EError("LMD needs two N×68×D landmark tensors, got \(predicted.shape) and \(reference.shape)")
    }
    let mouth = try (predicted - reference).narrow(1, 48, 20)
    return try mouth.square().sum(dim: -1).sqrt().mean().item()
}
