import Foundation
import Torch

/// The face mask of the swapping paradigm, taken from the I_3d render (its background is exactly −1).
public enum FaceMasking {
    /// Replaces the face region (the render's foreground, dilated by `dilate` pixels) with 0 (mid grey).
    /// `keep` (N×1×H×W or 1×H×W) marks pixels to leave visible inside the face: the paper's "Small" mask treats
    /// the mouth interior as background (Sec. 5.4.2), which gives more realistic mouths.
    public static func maskFace(image: Tensor, render: Tensor, dilate: Int = 1, keep: Tensor? = nil) throws -> Tensor {
        let batched = render.rank == 3
        let r = batched ? try render.unsqueeze(0) : render
        var face = try r.gt(-0.999).to(.float32).max([1], keepDim: true)        // N×1×H×W
        if dilate > 0 { face = try F.maxPool2d(face, kernel: 2 * dilate + 1, stride: 1, padding: dilate) }
        if let keep { face = try face * (1.0 - (keep.rank == 3 ? keep.unsqueeze(0) : keep)) }
        let img = batched ? try image.unsqueeze(0) : image
        let out = try img * (1.0 - face)
        return batched ? try out.squeeze(0) : out
    }
}
