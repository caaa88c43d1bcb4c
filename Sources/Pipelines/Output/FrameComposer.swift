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

extension WarpOrigin {
    init(_ portrait: Portrait, outputSize: Int, modelSize: Int) throws {
        self.init(image: try portrait.image(size: outputSize), modelImage: try portrait.image(size: modelSize), coefficients: portrait.coefficients)
    }
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
    /// The generator is a swap model: its face, not the identity's warp, goes into the target.
    var swapModel = false

    /// Composites a chunk: `faces` b×3×s×s from the generator; `warped`/`field` at the output size (nil for
    /// `.generator`). Returns the output crops b×3×S×S.
    func compositeCrops(faces: Tensor, warped: Tensor?, field: FaceWarpField?, mouth: MouthLayer? = nil, mouthOverride: [Float]? = nil) throws -> Tensor {
        let generated = faces.size(-1) == size ? faces : try Torch.noGrad { try F.interpolate(faces, size: (size, size), mode: .bilinear(alignCorners: false)) }
        guard composition == .warp, let warped, let field else { return generated }
        if let target = swapTarget {
            if swapModel { return try WarpCompositor.swapModel(generated: generated, field: field, target: target) }
            return try WarpCompositor.swap(generated: generated, warpedIdentity: warped, field: field, target: target)
        }
        return try WarpCompositor.reenactment(generated: generated, warped: warped, field: field, mouth: mouth, mouthOverride: mouthOverride)
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
