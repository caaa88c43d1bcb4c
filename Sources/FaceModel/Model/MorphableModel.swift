import Torch
import Foundation

/// A linear 3D morphable face model (paper Eq. 7):
///   S = S̄ + B_id α + B_exp β,   T = T̄ + B_t δ.
///
/// Loaded from a safetensors file whose keys, shapes and units are documented in docs/FACEMODEL.md:
/// `mean_shape` V×3, `id_basis` 3V×80, `exp_basis` 3V×64, `mean_texture` V×3 (linear RGB in [0, 1]),
/// `tex_basis` 3V×80, `triangles` T×3 (0-based, counter-clockwise seen from outside), `landmarks` 68
/// (0-based, iBUG-68 order) and optionally `eye_left_vertices`, `eye_right_vertices`, `skin_mask`.
/// Basis rows are vertex-major: row 3·v + c is coordinate c of vertex v (as in Deep3DFaceRecon).
extension ModelFile {
    /// The default morphable model (CC0 MakeHuman mesh and blendshapes; docs/FACEMODEL.md).
    public static let faceModel = ModelFile(path: "face/tgdm_face_model.safetensors", environment: "TGDM_FACE_MODEL",
                                            installedBy: "the repository (scripts/facemodel/build_default_model.py rebuilds it)")
}

public final class MorphableModel: @unchecked Sendable {
    public static let fileFormat = "tgdm-morphable-model"

    /// S̄, V×3 (float32).
    public let meanShape: Tensor
    /// B_id, 3V×80.
    public let identityBasis: Tensor
    /// B_exp, 3V×64.
    public let expressionBasis: Tensor
    /// T̄, V×3, linear RGB albedo in [0, 1].
    public let meanTexture: Tensor
    /// B_t, 3V×80.
    public let textureBasis: Tensor
    /// T×3 int64 vertex indices.
    public let triangles: Tensor
    /// The same triangles as a flat array, for the rasterizer.
    public let triangleIndices: [Int32]
    /// 68 int64 vertex indices in iBUG-68 order (jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, mouth 48–67).
    public let landmarkIndices: Tensor
    /// Eyeball vertices (subject's left eye is +x), used to render gaze; nil when the model has none.
    public let leftEyeVertices: Tensor?
    public let rightEyeVertices: Tensor?
    /// V float mask (1 = facial skin) for photometric losses; nil when the model has none.
    public let skinMask: Tensor?
    public let metadata: [String: String]

    public var vertexCount: Int { meanShape.size(0) }
    public var triangleCount: Int { triangles.size(0) }
    /// Names of the expression components when the file provides them (`expression_names` metadata).
    public var expressionNames: [String] {
        metadata["expression_names"].map { $0.split(separator: ",").map(String.init) } ?? []
    }

    // MARK: loading

    public convenience init(contentsOf url: URL) throws {
        let file: Safetensors.File
        do { file = try Safetensors.load(url) } catch let e as TorchError {
            throw FaceModelError.invalidModel(e.message)
        }
        do { try self.init(tensors: file.tensors, metadata: file.metadata) } catch let e as FaceModelError {
            throw FaceModelError.invalidModel("\(url.lastPathComponent): \(e.description)")
        }
    }

    /// Builds a model from tensors named as in the file format, validating every shape and index.
    public init(tensors: [String: Tensor], metadata: [String: String] = [:]) throws {
        func require(_ key: String) throws -> Tensor {
            guard let t = tensors[key] else {
                throw FaceModelError.invalidModel("missing tensor '\(key)' (found \(tensors.keys.sorted().joined(separator: ", ")))")
            }
            return t
        }
        func float(_ key: String) throws -> Tensor {
            let t = try require(key)
            guard t.dtype.isFloatingPoint else { throw FaceModelError.invalidModel("'\(key)' must be floating point, got \(t.dtype)") }
            let f = try t.to(.float32).contiguous()
            try FaceModelError.requireFinite(f, "'\(key)'", as: FaceModelError.invalidModel)
            return f
        }
        func indices(_ key: String, _ t: Tensor, max: Int) throws -> Tensor {
            guard !t.dtype.isFloatingPoint, t.dtype != .bool else {
                throw FaceModelError.invalidModel("'\(key)' must hold integers, got \(t.dtype)")
            }
            let i = try t.to(.int64).contiguous()
            if i.count > 0 {
                let lo = Int(try i.min().item()), hi = Int(try i.max().item())
                guard lo >= 0, hi < max else {
                    throw FaceModelError.invalidModel("'\(key)' has index range \(lo)...\(hi), outside 0..<\(max)")
                }
            }
            return i
        }
        let mean = try float("mean_shape")
        guard mean.rank == 2, mean.size(1) == 3, mean.size(0) >= 3 else {
            throw FaceModelError.invalidModel("'mean_shape' must be V×3, got \(mean.shape)")
        }
        let v = mean.size(0)
        func basis(_ key: String, _ k: Int) throws -> Tensor {
            let b = try float(key)
            guard b.shape == [3 * v, k] else {
                throw FaceModelError.invalidModel("'\(key)' must be \(3 * v)×\(k) (3V×\(k)), got \(b.shape)")
            }
            return b
        }
        meanShape = mean
        identityBasis = try basis("id_basis", Coefficients.identityCount)
        expressionBasis = try basis("exp_basis", Coefficients.expressionCount)
        textureBasis = try basis("tex_basis", Coefficients.textureCount)
        let tex = try float("mean_texture")
        guard tex.shape == [v, 3] else { throw FaceModelError.invalidModel("'mean_texture' must be \(v)×3, got \(tex.shape)") }
        meanTexture = tex
        let tri = try require("triangles")
        guard tri.rank == 2, tri.size(1) == 3, tri.size(0) > 0 else {
            throw FaceModelError.invalidModel("'triangles' must be T×3, got \(tri.shape)")
        }
        triangles = try indices("triangles", tri, max: v)
        triangleIndices = try triangles.toArray(Int64.self).map { Int32($0) }
        let lm = try require("landmarks")
        guard lm.rank == 1, lm.size(0) == 68 else { throw FaceModelError.invalidModel("'landmarks' must hold 68 indices, got \(lm.shape)") }
        landmarkIndices = try indices("landmarks", lm, max: v)
        func optionalIndices(_ key: String) throws -> Tensor? {
            guard let t = tensors[key] else { return nil }
            guard t.rank == 1, t.count > 0 else { throw FaceModelError.invalidModel("'\(key)' must be a non-empty index list, got \(t.shape)") }
            return try indices(key, t, max: v)
        }
        leftEyeVertices = try optionalIndices("eye_left_vertices")
        rightEyeVertices = try optionalIndices("eye_right_vertices")
        if (leftEyeVertices == nil) != (rightEyeVertices == nil) {
            throw FaceModelError.invalidModel("give both 'eye_left_vertices' and 'eye_right_vertices' or neither")
        }
        if let m = tensors["skin_mask"] {
            guard m.shape == [v] else { throw FaceModelError.invalidModel("'skin_mask' must have \(v) entries, got \(m.shape)") }
            skinMask = try m.to(.float32)
        } else {
            skinMask = nil
        }
        if let f = metadata["format"], f != MorphableModel.fileFormat {
            throw FaceModelError.invalidModel("format is '\(f)', expected '\(MorphableModel.fileFormat)'")
        }
        self.metadata = metadata
    }

    /// The tensors of the file format (bases stored as float32).
    public func tensors() -> [String: Tensor] {
        var t: [String: Tensor] = [
            "mean_shape": meanShape, "id_basis": identityBasis, "exp_basis": expressionBasis,
            "mean_texture": meanTexture, "tex_basis": textureBasis, "triangles": triangles, "landmarks": landmarkIndices,
        ]
        if let l = leftEyeVertices, let r = rightEyeVertices { t["eye_left_vertices"] = l; t["eye_right_vertices"] = r }
        if let m = skinMask { t["skin_mask"] = m }
        return t
    }

    public func save(to url: URL) throws {
        var meta = metadata
        meta["format"] = MorphableModel.fileFormat
        meta["version"] = meta["version"] ?? "1"
        try Safetensors.save(tensors(), metadata: meta, to: url)
    }

    // MARK: Eq. 7

    /// S = S̄ + B_id α + B_exp β for α (N×80) and β (N×64): N×V×3.
    public func shape(identity alpha: Tensor, expression beta: Tensor) throws -> Tensor {
        let n = try batchSize(alpha, Coefficients.identityCount, "identity", beta, Coefficients.expressionCount, "expression")
        let offsets = try alpha.matmul(identityBasis.transpose(0, 1)) + beta.matmul(expressionBasis.transpose(0, 1))
        return try offsets.reshape([n, vertexCount, 3]) + meanShape
    }

    /// T = T̄ + B_t δ for δ (N×80): N×V×3 linear RGB albedo.
    public func texture(_ delta: Tensor) throws -> Tensor {
        guard delta.rank == 2, delta.size(1) == Coefficients.textureCount else {
            throw FaceModelError.invalidArgument("texture coefficients must be N×80, got \(delta.shape)")
        }
        return try delta.matmul(textureBasis.transpose(0, 1)).reshape([delta.size(0), vertexCount, 3]) + meanTexture
    }

    private func batchSize(_ a: Tensor, _ ka: Int, _ na: String, _ b: Tensor, _ kb: Int, _ nb: String) throws -> Int {
        guard a.rank == 2, a.size(1) == ka else { throw FaceModelError.invalidArgument("\(na) coefficients must be N×\(ka), got \(a.shape)") }
        guard b.rank == 2, b.size(1) == kb else { throw FaceModelError.invalidArgument("\(nb) coefficients must be N×\(kb), got \(b.shape)") }
        guard a.size(0) == b.size(0) else {
            throw FaceModelError.invalidArgument("\(na) has \(a.size(0)) rows, \(nb) has \(b.size(0))")
        }
        return a.size(0)
    }

    // MARK: the default model

    /// Where the default model lives (`ModelFile.faceModel`, see `ModelResources`).
    public static func defaultModelURL(resources: ModelResources = .default) throws -> URL {
        do {
            return try resources.url(for: .faceModel)
        } catch let e as ModelResources.Error {
            throw FaceModelError.invalidModel(e.description)
        }
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cached: MorphableModel?

    /// The default model (loaded once and shared).
    public static func loadDefault() throws -> MorphableModel {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let m = cached { return m }
        let m = try MorphableModel(contentsOf: defaultModelURL())
        cached = m
        return m
    }
}
