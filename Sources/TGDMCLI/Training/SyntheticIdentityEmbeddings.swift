import FaceAnalysis
import FaceModel
import Foundation
import Media
import SyntheticFaces
import Torch

/// The identity embedding z_id of every frame of a synthetic dataset (the dlib 128-d face-recognition embedding,
/// standing in for the paper's CurricularFace), computed once and cached beside the dataset as
/// `NAME.zid.safetensors`. The five alignment points come from the frame's known ρ (its projected iBUG-68
/// landmarks), so no detector is involved; frames are brought to 256² first (dlib's chip is 150²).
enum SyntheticIdentityEmbeddings {
    static func load(dataset url: URL, frames: SyntheticPairDataset, log: (String) -> Void) throws -> Tensor {
        let cache = url.deletingPathExtension().appendingPathExtension("zid.safetensors")
        let n = frames.config.identities * frames.config.framesPerIdentity
        if let file = try? Safetensors.load(cache), let t = file.tensors["zid"], t.shape == [n, 128] { return t }
        log("computing the dlib identity embedding of \(n) frames (cached in \(cache.lastPathComponent))")
        let encoder = try FaceIdentityEncoder.pretrained()
        let renderer = try FaceRenderer.makeDefault()
        let size = 256
        var rows: [Float] = []
        rows.reserveCapacity(n * 128)
        let bar = ProgressBar("z_id", total: n)
        for start in stride(from: 0, to: n, by: 32) {
            let count = min(32, n - start)
            var chips: [RGBImage] = []
            for k in start..<(start + count) {
                let f = try frames.frame(k)
                let image = try RGBImage(tensor: f.image).resized(width: size, height: size)
                let points = try renderer.landmarks(coefficients: Coefficients(f.coefficients), size: size).floats()
                let landmarks = (0..<68).map { SIMD2(Double(points[2 * $0]), Double(points[2 * $0 + 1])) }
                chips.append(try encoder.chip(of: image, landmarks: FaceLandmarks5(iBUG68: landmarks)))
            }
            for e in try encoder.embeddings(chips: chips) { rows += e }
            bar.update(start + count)
        }
        let zid = try Tensor(rows, shape: [n, 128])
        try Safetensors.save(["zid": zid], metadata: ["format": "tgdm-synthetic-zid-v1", "embedding": "dlib_face_recognition_resnet_model_v1"],
                             to: cache)
        return zid
    }
}
