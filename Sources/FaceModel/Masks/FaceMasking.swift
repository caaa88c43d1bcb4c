import Foundation
import Torch

/// The face mask of the swapping paradigm, taken from the I_3d render (its background is exactly −1).
public enum FaceMasking {
    /// Replaces the face region (the render's foreground, dilated by `dilate` pixels) with 0 (mid grey).
    public static func maskFace(image: Tensor, render: Tensor, dilate: Int = 1) throws -> Tensor {
        let batched = render.rank == 3
        let r = batched ? try render.unsqueeze(0) : render
        var face = try r.gt(-0.999).to(.float32).max([1], keepDim: true)        // N×1×H×W
        if dilate > 0 { face = try F.maxPool2d(face, kernel: 2 * dilate + 1, stride: 1, padding: dilate) }
        let img = batched ? try image.unsqueeze(0) : image
        let out = try img * (1.0 - face)
        return batched ? try out.squeeze(0) : out
    }
}
