import Torch
import Foundation

/// Recombining coefficients of different faces (paper Sec. 4.2 and 4.4).
extension Coefficients {
    /// Image/video-driven reenactment: ρ̂ = {α_s, β_d, δ_s, γ_s, p_d, ω_d}. Identity, texture and
    /// illumination come from `source`, expression, pose and gaze from `driver`. A one-row source is
    /// broadcast over every driver frame; otherwise the batches must match.
    public static func reenact(source: Coefficients, driver: Coefficients) throws -> Coefficients {
        try mix(appearanceFrom: source, motionFrom: driver, appearanceParts: [.identity, .texture, .illumination])
    }

    /// Face swapping (Sec. 4.4, inference): the identity α of `source` with everything else
    /// (expression, texture, illumination, pose, gaze) of `target`. The rendered face then has the
    /// source's face shape in the target's expression, pose, lighting and skin; the source's
    /// appearance reaches the generator through the identity embedding, not through δ.
    public static func swap(source: Coefficients, target: Coefficients) throws -> Coefficients {
        try mix(appearanceFrom: source, motionFrom: target, appearanceParts: [.identity])
    }

    private static func mix(appearanceFrom a: Coefficients, motionFrom m: Coefficients,
                            appearanceParts: Set<CoefficientPart>) throws -> Coefficients {
        let n = m.batch
        guard a.batch == n || a.batch == 1 else {
            throw FaceModelError.invalidCoefficients("source has \(a.batch) rows; expected 1 or \(n) to match the driving frames")
        }
        var pieces: [Tensor] = []
        for p in CoefficientPart.allCases {
            if appearanceParts.contains(p) {
                let t = try a.part(p)
                pieces.append(a.batch == n ? t : try t.expand([n, p.count]))
            } else {
                pieces.append(try m.part(p))
            }
        }
        return try Coefficients(Tensor.cat(pieces, dim: 1))
    }

    /// Temporal windows for video driving (Sec. 4.2): for each frame i, the coefficients of frames
    /// i−k … i+k (indices clamped to the sequence), shape N × (2k+1) × 261. k = 1 in the paper.
    ///
    /// What TGDM consumes: the rendered geometry condition I_3d is rendered from the centre frame only
    /// (`window[:, k]`, i.e. the frame itself), while the window as a whole is the descriptor ρ̂ that is
    /// injected through AdaIN (C = Linear(ρ̂) + Linear(t), Eq. 16); use `flattenedWindows` for that
    /// input, N × ((2k+1)·261) = N × 783 for k = 1, frames in temporal order.
    public func windows(radius k: Int = 1) throws -> Tensor {
        guard k >= 0, k <= 64 else { throw FaceModelError.invalidArgument("window radius must be in 0...64, got \(k)") }
        let n = batch
        var idx: [Int64] = []
        idx.reserveCapacity(n * (2 * k + 1))
        for i in 0..<n {
            for o in -k...k { idx.append(Int64(Swift.min(Swift.max(i + o, 0), n - 1))) }
        }
        let index = try Tensor(idx)
        return try tensor.indexSelect(0, index).reshape([n, 2 * k + 1, Coefficients.count])
    }

    /// `windows(radius:)` flattened per frame: N × ((2k+1)·261).
    public func flattenedWindows(radius k: Int = 1) throws -> Tensor {
        try windows(radius: k).reshape([batch, (2 * k + 1) * Coefficients.count])
    }
}
