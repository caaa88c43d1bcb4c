import FaceModel
import Foundation
import Media
import Torch

/// Where the warped texture of the output comes from: a portrait, its coefficients, and its picture sampled over the
/// square in which the output is composed.
struct WarpOrigin {
    let portrait: Portrait
    /// The square of the portrait's picture that `image` shows (ρ itself is expressed in `portrait.crop`).
    let square: CropTransform
    /// The portrait's picture over `square`, 1×3×n×n.
    let image: Tensor
    /// The crop at the generator's size, 1×3×s×s.
    let modelImage: Tensor
    /// `image`'s fine texture, which closing lids take from the skin below the eye (`FaceWarpField.warp(_:detail:)`).
    let detail: Tensor
    var coefficients: Coefficients { portrait.coefficients }

    init(_ portrait: Portrait, square: CropTransform, modelSize: Int) throws {
        self.portrait = portrait
        self.square = square
        let image = try FaceCropper.crop(portrait.frame, transform: square).toTensor()
        self.image = image
        modelImage = try portrait.image(size: modelSize)
        // Grain at the scale the lid's texture is judged at: 2 px of a 256² face crop.
        let radius = max(1, Int((Double(image.size(-1)) / 128).rounded()))
        detail = try Torch.noGrad { try Compositing.detailLayer(image, radius: radius) }
    }
}

extension CropTransform {
    /// Where the pixels of `other` (a square of the same picture) lie in this square's pixels.
    func mapping(from other: CropTransform) -> SquareMapping {
        SquareMapping(scale: other.scale / scale, offsetX: (other.originX - originX) / scale, offsetY: (other.originY - originY) / scale)
    }
}

/// Turns generated faces into output pictures (issue #10): in the composite square, the warped source where the
/// 3DMM correspondence is valid and the generator's output where it is not (its colours matched to the warp),
/// then — with `.fullFrame` — pasted back into the picture the crop came from with a feathered edge. By default the
/// square is the picture's own pixels around the face (issue #21), so what the warp takes from the photo keeps its
/// detail and pasting it back copies pixels.
/// For face swapping the composite is confined to the face: hair and background stay the target's, and the
/// identity's warped face takes the target's colours.
struct FrameComposer {
    let canvas: RGBImage
    /// The crop in which ρ̂ is expressed (the source's for reenactment, the target's for swapping).
    let crop: CropTransform
    /// The square of `canvas` in which the output is composed, `size` pixels a side.
    let square: CropTransform
    var size: Int { square.cropSize }
    let framing: OutputFraming
    let composition: OutputComposition
    /// The target over `square` for swapping (nil for reenactment).
    let swapTarget: Tensor?
    /// The generator is a swap model: its face, not the identity's warp, goes into the target.
    var swapModel = false

    /// `image` (N×C×s×s, showing `crop` at s pixels, e.g. the generator's faces or I_3d) over the composite square.
    func toSquare(_ image: Tensor) throws -> Tensor {
        let from = crop.resized(to: image.size(-1))
        let mapping = from.mapping(from: square)
        return try Torch.noGrad {
            if mapping == .scaling(Double(image.size(-1)) / Double(size)) {
                return image.size(-1) == size ? image : try F.interpolate(image, size: (size, size), mode: .bilinear(alignCorners: false))
            }
            return try F.gridSample(image, grid: mapping.samplingGrid(size: size, from: image.size(-1), batch: image.size(0)), padding: .border)
        }
    }

    /// Composites a chunk: `faces` b×3×s×s from the generator; `warped`/`field` over the square (nil for
    /// `.generator`). Returns the output crops b×3×n×n.
    func compositeCrops(faces: Tensor, warped: Tensor?, field: FaceWarpField?, mouth: MouthLayer? = nil, mouthOverride: [Float]? = nil) throws -> Tensor {
        let generated = try toSquare(faces)
        guard composition == .warp, let warped, let field else { return generated }
        if let target = swapTarget {
            if swapModel { return try WarpCompositor.swapModel(generated: generated, field: field, target: target) }
            return try WarpCompositor.swap(generated: generated, warpedIdentity: warped, field: field, target: target)
        }
        return try WarpCompositor.reenactment(generated: generated, warped: warped, field: field, mouth: mouth, mouthOverride: mouthOverride)
    }

    /// The output picture of one composited crop (3×n×n).
    func picture(crop image: Tensor) throws -> RGBImage {
        let cropImage = try RGBImage(tensor: image)
        guard framing == .fullFrame else { return cropImage }
        // Feather over 6% of the square's side (in frame pixels) so the square leaves no seam; with the warp the
        // crop's border is the untouched source anyway (the motion fades out before it).
        return try FaceCropper.pasteBack(cropImage, into: canvas, transform: square, feather: square.side * 0.06)
    }
}
