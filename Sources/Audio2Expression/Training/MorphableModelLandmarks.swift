import Torch
import Foundation
import FaceModel

/// The face model's 68 landmarks as a `LandmarkProjector`: the landmark vertices of
/// S = S̄ + B_id α + B_exp β (Eq. 7), computed from the 68 landmark rows of the bases only (cheap), in
/// millimetres by default (the model is in decimetres), so λ_lm = 0.1 weighs a sensible amount.
public struct MorphableModelLandmarks: LandmarkProjector {
    let mean: Tensor            // 1×204
    let identityBasis: Tensor   // 80×204 (transposed rows of the landmark vertices)
    let expressionBasis: Tensor // 64×204
    public let scale: Double

    public init(model: MorphableModel, scale: Double = 100) throws {
        let idx = try model.landmarkIndices.toArray(Int64.self)
        let rows = try Tensor(idx.flatMap { [3 * $0, 3 * $0 + 1, 3 * $0 + 2] })
        mean = try model.meanShape.indexSelect(0, Tensor(idx)).reshape([1, 204])
        identityBasis = try model.identityBasis.indexSelect(0, rows).transpose(0, 1).contiguous()
        expressionBasis = try model.expressionBasis.indexSelect(0, rows).transpose(0, 1).contiguous()
        self.scale = scale
    }

    public func landmarks(identity: Tensor, expression: Tensor) throws -> Tensor {
        guard identity.rank == 2, identity.size(1) == identityBasis.size(0), expression.rank == 2,
              expression.size(1) == expressionBasis.size(0), identity.size(0) == expression.size(0) else {
            throw EmoA2EError("landmarks need N×\(identityBasis.size(0)) identity and N×\(expressionBasis.size(0)) expression, got \(identity.shape), \(expression.shape)")
        }
        let s = try mean + identity.matmul(identityBasis) + expression.matmul(expressionBasis)
        return try (s * scale).reshape([-1, 68, 3])
    }
}
