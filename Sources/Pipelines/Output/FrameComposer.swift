import FaceModel
import Foundation
import Media
import Torch

/// Where the warped texture of the output comes from: a portrait's face crop and its coefficients.
struct WarpOrigin {
    /// The crop at the output size, 1×3×S×S.
    let image: Tensor
    /// The crop at the generator's size, 1×3×s×s.
    let modelImage: Tensor
    let coefficients: Coefficients
}

/// Turns generated faces into output pictures (issue #10): at the output size, the warped source where the
/// 3DMM correspondence is valid and the generator's output where it is not (its colours matched to the warp),
/// then — with `.fullFrame` — pasted back into the picture the crop came from with a feathered edge.
/// For face swapping the composite is confined to the face: hair and background stay the target's, and the
/// identity's warped face takes the target's colours.
struct FrameComposer {
    let canvas: RGBImage
    let crop: CropTransform
    let size: Int
    let framing: OutputFraming
    let composition: OutputComposition
    /// The target crop at the output size for swapping (nil for reenactment).
    let swapTarget: Tensor?

    /// Composites a chunk: `faces` b×3×s×s from the generator; `warped`/`field` at the output size (nil for
    /// `.generator`). Returns the output crops b×3×S×S.
    func compositeCrops(faces: Tensor, warped: Tensor?, field: FaceWarpField?) throws -> Tensor {
        try Torch.noGrad {
            let generated = faces.size(-1) == size ? faces : try F.interpolate(faces, size: (size, size), mode: .bilinear(alignCorners: false))
            guard composition == .warp, let warped, let field else { return generated }
            let radius = max(1, size / 96)
            // The mouth interior counts as usable only where the source shows it (the field's z-test decides).
            let usable = field.valid
            if let target = swapTarget {
                // Swap: the identity's face in the target's colours; outside the face, the target untouched.
                let faceValid = try field.face * usable
                let targetFace = try field.face
                let identity = try Compositing.matchColours(warped, mask: faceValid, to: target.expand(warped.shape), referenceMask: targetFace)
                let filler = try Compositing.matchColours(generated, mask: targetFace, to: target.expand(warped.shape), referenceMask: targetFace)
                let m = try Compositing.softMask(usable, radius: radius)
                let inner = try identity * m + filler * (1.0 - m)
                let faceBlend = try Compositing.softMask(field.face, radius: radius)
                return try inner * faceBlend + target.expand(warped.shape) * (1.0 - faceBlend)
            }
            let matched = try Compositing.matchColours(generated, mask: field.face, to: warped, referenceMask: try field.face * usable)
            let m = try Compositing.softMask(usable, radius: radius)
            return try warped * m + matched * (1.0 - m)
        }
    }

    /// The output picture of one composited crop (3×S×S).
    func picture(crop image: Tensor) throws -> RGBImage {
        let cropImage = try RGBImage(tensor: image)
        guard framing == .fullFrame else { return cropImage }
        // Feather over 6% of the square's side (in frame pixels) so the square leaves no seam; with the warp the
        // crop's border is the untouched source anyway (the motion fades out before it).
        return try FaceCropper.pasteBack(cropImage, into: canvas, transform: crop, feather: crop.side * 0.06)
    }
}
