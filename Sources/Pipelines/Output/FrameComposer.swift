import Foundation
import Media
import Torch

/// Turns the generator's face crop into the output picture: the crop brought to the output size, and with
/// `.fullFrame` pasted back into the picture it came from with a feathered edge.
struct FrameComposer {
    let canvas: RGBImage
    let crop: CropTransform
    let size: Int
    let framing: OutputFraming

    func compose(face: Tensor) throws -> RGBImage {
        let t = face.rank == 3 ? try face.unsqueeze(0) : face
        let big = t.size(-1) == size ? t : try Torch.noGrad { try F.interpolate(t, size: (size, size), mode: .bilinear(alignCorners: false)) }
        let cropImage = try RGBImage(tensor: big.squeeze(0))
        guard framing == .fullFrame else { return cropImage }
        // Feather over 8% of the square's side (in frame pixels) so the square leaves no seam.
        return try FaceCropper.pasteBack(cropImage, into: canvas, transform: crop, feather: crop.side * 0.08)
    }
}
