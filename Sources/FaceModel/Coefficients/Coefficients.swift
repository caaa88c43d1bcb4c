import Torch
import Foundation

/// One named group of the 3DMM coefficient vector ρ ∈ R^261 (paper Eq. 6), in the paper's order:
/// identity α (80), expression β (64), texture δ (80), illumination γ (27 = 9 SH bands × RGB),
/// pose p (6 = 3 rotation angles + 3 translation) and gaze ω (4).
public enum CoefficientPart: String, CaseIterable, Sendable {
    case identity, expression, texture, illumination, pose, gaze

    /// Columns of this part inside the 261-vector.
    public var range: Range<Int> {
        switch self {
        case .identity: return 0..<80
        case .expression: return 80..<144
        case .texture: return 144..<224
        case .illumination: return 224..<251
        case .pose: return 251..<257
        case .gaze: return 257..<261
        }
    }
    public var count: Int { range.count }

    /// Appearance parts come from the source face when reenacting (Sec. 4.2); motion parts from the driver.
    public var isAppearance: Bool { self == .identity || self == .texture || self == .illumination }
}

/// A batch of 3DMM coefficient vectors: a float32 tensor of shape N × 261 with named slices.
///
/// Layout (columns): α 0..<80, β 80..<144, δ 144..<224, γ 224..<251, pose 251..<257
/// (rotation angles 251..<254 in radians about x, y, z; translation 254..<257 in model units),
/// ω 257..<261. See docs/FACEMODEL.md for the meaning and units of every part.
public struct Coefficients: @unchecked Sendable {
    public static let count = 261
    public static let identityCount = 80, expressionCount = 64, textureCount = 80
    public static let illuminationCount = 27, poseCount = 6, gazeCount = 4

    /// N × 261, float32.
    public let tensor: Tensor

    /// Wraps `tensor` (N × 261, or a single 261-vector) after checking its shape and that every value
    /// is finite. Other float dtypes are converted to float32.
    public init(_ tensor: Tensor) throws {
        var t = tensor
        if t.rank == 1 { t = try t.unsqueeze(0) }
        guard t.rank == 2, t.size(1) == Coefficients.count else {
            throw FaceModelError.invalidCoefficients("expected N×\(Coefficients.count) coefficients, got shape \(tensor.shape)")
        }
        guard t.dtype.isFloatingPoint else {
            throw FaceModelError.invalidCoefficients("coefficients must be floating point, got \(t.dtype)")
        }
        if t.dtype != .float32 { t = try t.to(.float32) }
        try FaceModelError.requireFinite(t, "coefficients")
        self.tensor = t
    }

    /// Zero coefficients: the mean face, mean albedo, ambient light only, frontal pose, gaze ahead.
    public static func zeros(batch: Int = 1) throws -> Coefficients {
        guard batch > 0 else { throw FaceModelError.invalidCoefficients("batch must be positive, got \(batch)") }
        return try Coefficients(Tensor.zeros([batch, count]))
    }

    /// Builds coefficients from parts (each N × k, or a k-vector broadcast to the batch); missing
    /// parts are zero.
    public init(identity: Tensor? = nil, expression: Tensor? = nil, texture: Tensor? = nil,
                illumination: Tensor? = nil, pose: Tensor? = nil, gaze: Tensor? = nil, batch: Int? = nil) throws {
        let given: [(CoefficientPart, Tensor?)] = [(.identity, identity), (.expression, expression), (.texture, texture),
                                                   (.illumination, illumination), (.pose, pose), (.gaze, gaze)]
        var n = batch
        for (part, t) in given {
            guard let t else { continue }
            let rows = t.rank == 1 ? 1 : t.size(0)
            guard (t.rank == 1 || t.rank == 2), t.size(-1) == part.count else {
                throw FaceModelError.invalidCoefficients("\(part.rawValue) must have \(part.count) values per row, got shape \(t.shape)")
            }
            if t.rank == 2, rows != 1 {
                if let m = n, m != rows, m != 1 {
                    throw FaceModelError.invalidCoefficients("\(part.rawValue) has \(rows) rows but other parts have \(m)")
                }
                n = rows
            }
        }
        let rows = n ?? 1
        var pieces: [Tensor] = []
        for (part, t) in given {
            if let t {
                let t2 = try (t.rank == 1 ? t.unsqueeze(0) : t).to(.float32)
                pieces.append(t2.size(0) == rows ? t2 : try t2.expand([rows, part.count]))
            } else {
                pieces.append(try Tensor.zeros([rows, part.count]))
            }
        }
        try self.init(Tensor.cat(pieces, dim: 1))
    }

    public var batch: Int { tensor.size(0) }

    /// The columns of one part: N × k.
    public func part(_ p: CoefficientPart) throws -> Tensor { try tensor.narrow(1, p.range.lowerBound, p.count) }

    /// α, N × 80.
    public var identity: Tensor { get throws { try part(.identity) } }
    /// β, N × 64.
    public var expression: Tensor { get throws { try part(.expression) } }
    /// δ, N × 80.
    public var texture: Tensor { get throws { try part(.texture) } }
    /// γ, N × 27, stored RGB-major as in Deep3DFaceRecon: γ[c·9 + k] is SH band k of channel c.
    public var illumination: Tensor { get throws { try part(.illumination) } }
    /// p, N × 6: rotation angles then translation.
    public var pose: Tensor { get throws { try part(.pose) } }
    /// Rotation angles (radians about x, y, z), N × 3.
    public var angles: Tensor { get throws { try tensor.narrow(1, CoefficientPart.pose.range.lowerBound, 3) } }
    /// Translation (model units, decimetres for the default model), N × 3.
    public var translation: Tensor { get throws { try tensor.narrow(1, CoefficientPart.pose.range.lowerBound + 3, 3) } }
    /// ω, N × 4: (left eye x, left eye y, right eye x, right eye y) of the unit gaze direction.
    public var gaze: Tensor { get throws { try part(.gaze) } }

    /// A copy with one part replaced (`values`: N × k, or 1 × k / a k-vector broadcast to the batch).
    public func replacing(_ p: CoefficientPart, with values: Tensor) throws -> Coefficients {
        var v = values.rank == 1 ? try values.unsqueeze(0) : values
        guard v.rank == 2, v.size(1) == p.count, v.size(0) == batch || v.size(0) == 1 else {
            throw FaceModelError.invalidCoefficients("cannot put shape \(values.shape) into \(p.rawValue) (\(batch)×\(p.count))")
        }
        v = try v.to(.float32)
        if v.size(0) != batch { v = try v.expand([batch, p.count]) }
        var pieces: [Tensor] = []
        for q in CoefficientPart.allCases { pieces.append(q == p ? v : try part(q)) }
        return try Coefficients(Tensor.cat(pieces, dim: 1))
    }

    /// Rows `start ..< start + count` (frames of a sequence).
    public func frames(_ start: Int, _ count: Int) throws -> Coefficients {
        guard start >= 0, count > 0, start + count <= batch else {
            throw FaceModelError.invalidCoefficients("frames \(start)..<\(start + count) outside 0..<\(batch)")
        }
        return try Coefficients(tensor.narrow(0, start, count))
    }

    public func frame(_ i: Int) throws -> Coefficients { try frames(i, 1) }

    /// Stacks sequences/frames along the batch.
    public static func concatenate(_ list: [Coefficients]) throws -> Coefficients {
        guard !list.isEmpty else { throw FaceModelError.invalidCoefficients("nothing to concatenate") }
        return try Coefficients(Tensor.cat(list.map(\.tensor), dim: 0))
    }

    // MARK: Deep3DFaceRecon interop

    /// Converts Deep3DFaceRecon's 257-vector (id 80, exp 64, tex 80, angle 3, gamma 27, trans 3) into
    /// the paper's order, with gaze `gaze` (N × 4) or zero.
    public static func fromDeep3DFaceRecon(_ d: Tensor, gaze: Tensor? = nil) throws -> Coefficients {
        let t = d.rank == 1 ? try d.unsqueeze(0) : d
        guard t.rank == 2, t.size(1) == 257 else {
            throw FaceModelError.invalidCoefficients("Deep3DFaceRecon coefficients are N×257, got \(d.shape)")
        }
        return try Coefficients(identity: t.narrow(1, 0, 80), expression: t.narrow(1, 80, 64), texture: t.narrow(1, 144, 80),
                                illumination: t.narrow(1, 227, 27),
                                pose: Tensor.cat([t.narrow(1, 224, 3), t.narrow(1, 254, 3)], dim: 1), gaze: gaze)
    }

    /// The Deep3DFaceRecon 257-vector (gaze dropped).
    public func toDeep3DFaceRecon() throws -> Tensor {
        try Tensor.cat([identity, expression, texture, angles, illumination, translation], dim: 1)
    }
}

/// Errors of the face-model module; every message names what was wrong.
public enum FaceModelError: Error, CustomStringConvertible, Equatable {
    case invalidCoefficients(String)
    case invalidModel(String)
    case invalidFile(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidCoefficients(let m): return "invalid 3DMM coefficients: \(m)"
        case .invalidModel(let m): return "invalid morphable model: \(m)"
        case .invalidFile(let m): return "invalid file: \(m)"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        }
    }

    /// Throws when `t` holds a NaN or an infinity (x·0 is 0 only for finite x).
    static func requireFinite(_ t: Tensor, _ what: String,
                              as make: (String) -> FaceModelError = FaceModelError.invalidCoefficients) throws {
        guard t.count > 0 else { return }
        let finite = try (t.detach() * 0.0).eq(0.0)
        let bad = t.count - Int(try finite.to(.int64).sum().item())
        if bad > 0 {
            throw make("\(what) contain \(bad) NaN or infinite value(s)")
        }
    }
}
