import FaceModel
import Foundation
import Torch

/// Building blocks of the output composite (issue #10): the high-resolution warped source where the 3DMM
/// correspondence is valid, the generator's output where it is not, blended without seams.
enum Compositing {
    /// A blend weight from a binary mask N×1×H×W: eroded by `radius` pixels, then smoothed over the same
    /// radius, so the weight is 1 only well inside the mask and falls smoothly to 0 at its edge.
    static func softMask(_ mask: Tensor, radius: Int) throws -> Tensor {
        guard radius > 0 else { return mask }
        let k = 2 * radius + 1, pads = [radius, radius, radius, radius]
        // Edges are replicated, not zero-padded: the crop border is not the edge of the mask.
        let eroded = try 1.0 - F.maxPool2d(F.pad(1.0 - mask, pads, mode: .replicate), kernel: k, stride: 1)
        let once = try F.avgPool2d(F.pad(eroded, pads, mode: .replicate), kernel: k, stride: 1)
        return try F.avgPool2d(F.pad(once, pads, mode: .replicate), kernel: k, stride: 1)
    }

    /// `image` with each channel's mean and spread over `mask` moved to those of `reference` over
    /// `referenceMask` (Reinhard-style colour transfer in RGB; per batch element).
    static func matchColours(_ image: Tensor, mask: Tensor, to reference: Tensor, referenceMask: Tensor) throws -> Tensor {
        func stats(_ x: Tensor, _ m: Tensor) throws -> (mean: Tensor, std: Tensor) {
            let w = try m.sum([2, 3], keepDim: true).clamp(min: 1)
            let mean = try (x * m).sum([2, 3], keepDim: true) / w
            let variance = try ((x - mean).square() * m).sum([2, 3], keepDim: true) / w
            return (mean, try (variance + 1e-6).sqrt())
        }
        let a = try stats(image, mask), b = try stats(reference, referenceMask)
        // Too few pixels to measure: leave the image as it is.
        let enough = try mask.sum([1, 2, 3], keepDim: true).gt(16).to(.float32) * referenceMask.sum([1, 2, 3], keepDim: true).gt(16).to(.float32)
        let moved = try (image - a.mean) / a.std * b.std + b.mean
        return try (moved * enough + image * (1.0 - enough)).clamp(min: -1, max: 1)
    }
}
