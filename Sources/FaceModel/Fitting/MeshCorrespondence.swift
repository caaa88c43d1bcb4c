import Foundation
import Torch

/// Where each of MediaPipe's 468 Face Mesh landmarks lies on the morphable model's surface: a triangle
/// (three vertex indices) and barycentric weights, with a confidence weight. Derived by
/// `scripts/analysis/derive_mesh_correspondence.sh` (renders of the model analysed by Face Mesh; see
/// docs/FACEMODEL.md), stored as JSON in `Models/face/facemesh_correspondence.json`.
extension ModelFile {
    /// Where the 468 Face Mesh points lie on the default morphable model (derived from renders, committed).
    public static let faceMeshCorrespondence = ModelFile(path: "face/facemesh_correspondence.json",
                                                         installedBy: "the repository (scripts/analysis/derive_mesh_correspondence.sh rebuilds it)")
}

public struct MeshCorrespondence: Sendable, Codable, Equatable {
    public static let format = "tgdm-facemesh-correspondence"

    public var format: String
    public var version: Int
    /// 468 × 3 vertex indices of the morphable model.
    public var vertices: [[Int]]
    /// 468 × 3 barycentric weights (sum 1).
    public var barycentrics: [[Double]]
    /// 468 weights in [0, 1]: 0 = excluded (the point slides over the surface, e.g. on the silhouette).
    public var weights: [Double]
    /// 468 spreads (millimetres on the mean face) of the per-render surface points around the consensus.
    public var spreadMillimetres: [Double]
    /// Framing that matches the renderer's default camera on the mean face at zero translation: the
    /// square crop's side is `cropEnlarge` × the width of the 468 landmarks' bounding box, and the box
    /// centre sits `cropShiftY` × side below the crop centre.
    public var cropEnlarge: Double
    public var cropShiftY: Double
    /// How it was made (renders, seed, thresholds).
    public var method: String

    public var count: Int { vertices.count }

    public init(vertices: [[Int]], barycentrics: [[Double]], weights: [Double], spreadMillimetres: [Double],
                cropEnlarge: Double, cropShiftY: Double, method: String) {
        format = MeshCorrespondence.format
        version = 1
        self.vertices = vertices; self.barycentrics = barycentrics; self.weights = weights
        self.spreadMillimetres = spreadMillimetres; self.cropEnlarge = cropEnlarge; self.cropShiftY = cropShiftY
        self.method = method
    }

    public func validate(vertexCount: Int) throws {
        guard format == MeshCorrespondence.format, version == 1 else {
            throw FaceModelError.invalidFile("not a \(MeshCorrespondence.format) v1 file (format \(format), version \(version))")
        }
        guard vertices.count == 468, barycentrics.count == 468, weights.count == 468, spreadMillimetres.count == 468 else {
            throw FaceModelError.invalidFile("correspondence needs 468 entries per list")
        }
        for k in 0..<468 {
            guard vertices[k].count == 3, vertices[k].allSatisfy({ $0 >= 0 && $0 < vertexCount }) else {
                throw FaceModelError.invalidFile("landmark \(k): vertex indices \(vertices[k]) outside 0..<\(vertexCount)")
            }
            guard barycentrics[k].count == 3, barycentrics[k].allSatisfy({ $0.isFinite }), abs(barycentrics[k].reduce(0, +) - 1) < 1e-3 else {
                throw FaceModelError.invalidFile("landmark \(k): barycentrics \(barycentrics[k]) must be 3 finite weights summing to 1")
            }
            guard weights[k].isFinite, (0...1).contains(weights[k]) else { throw FaceModelError.invalidFile("landmark \(k): weight \(weights[k])") }
        }
        guard cropEnlarge.isFinite, cropEnlarge > 0.5, cropEnlarge < 10, cropShiftY.isFinite, abs(cropShiftY) < 0.5 else {
            throw FaceModelError.invalidFile("crop framing \(cropEnlarge), \(cropShiftY)")
        }
    }

    public static func load(from url: URL) throws -> MeshCorrespondence {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw FaceModelError.invalidFile("cannot read \(url.path): \(error.localizedDescription)") }
        do { return try JSONDecoder().decode(MeshCorrespondence.self, from: data) } catch {
            throw FaceModelError.invalidFile("\(url.lastPathComponent): \(error)")
        }
    }

    /// `Models/face/facemesh_correspondence.json`, checked against `model`.
    public static func loadDefault(for model: MorphableModel, resources: ModelResources = .default) throws -> MeshCorrespondence {
        let url: URL
        do { url = try resources.url(for: .faceMeshCorrespondence) } catch { throw FaceModelError.invalidFile("\(error)") }
        let c = try load(from: url)
        try c.validate(vertexCount: model.vertexCount)
        return c
    }

    public func save(to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try writeAtomically(try enc.encode(self), to: url)
    }

    /// The landmark points of shapes N×V×3 (barycentric blend of their triangles): N×468×3.
    public func points(of shape: Tensor) throws -> Tensor {
        let idx = try Tensor(vertices.flatMap { $0.map(Int64.init) })
        let w = try Tensor(barycentrics.flatMap { $0.map(Float.init) }, shape: [1, 468, 3, 1])
        let corners = try shape.indexSelect(1, idx).reshape([shape.size(0), 468, 3, 3])
        return try (corners * w).sum(dim: 2)
    }
}
