import FaceModel
import Foundation
import Torch

/// The output composite (issue #10): the warped source where the 3DMM correspondence is valid, the generator's
/// output where it is not, blended without seams. All images N×3×S×S in [-1, 1] at one size, masks N×1×S×S.
public enum WarpCompositor {
    /// Reenactment: the warped source where usable; missing face (mouth interior, the far cheek) from the
    /// generator in the warp's colours; missing background (revealed behind the head, outside the crop)
    /// interpolated from the background around it. Invalid slivers thinner than a few pixels keep the warp.
    /// With `mouth` (the drawn mouth interior and, per frame, `mouthOverride` in [0, 1]), the missing inside of the
    /// lips is the drawn interior rather than the generator's; where the override is 1 (the lips open wider than the
    /// source's), the drawn interior replaces even the warp there: the source's few interior pixels, stretched over a
    /// wider opening, are the smeared teeth of issue #20.
    public static func reenactment(generated: Tensor, warped: Tensor, field: FaceWarpField, mouth: MouthLayer? = nil,
                                   mouthOverride: [Float]? = nil) throws -> Tensor {
        try Torch.noGrad {
            let radius = max(1, field.size / 96)
            let usable = try 1.0 - Compositing.opened(1.0 - field.valid, radius: radius)
            let m = try Compositing.softMask(usable, radius: radius)
            // The generator's detail on the light of the photo around the hole (issue #21): its low frequencies are
            // replaced by the warped face's own around it, so a side-lit face stays lit where it was, with no patch of
            // the generator's average colour.
            let scale = max(2, field.size / 32)
            let light = try Compositing.lowPass(PushPull.fill(warped, known: field.face * usable), factor: scale)
            let fromGenerator = try (light + generated - Compositing.lowPass(generated, factor: scale)).clamp(min: -1, max: 1)
            let fromSurroundings = try PushPull.fill(warped, known: usable)
            let faceArea = try Compositing.softMask(Compositing.dilated(field.face, radius: radius), radius: radius)
            var fill = try fromGenerator * faceArea + fromSurroundings * (1.0 - faceArea)
            guard let mouth else { return try warped * m + fill * (1.0 - m) }
            // The layer's edge, half a pixel inside the lips, blends into the lips over about a pixel. Missing pixels
            // just outside the drawn contour (the model's lips and the contour differ by a pixel or two) are lip: the
            // warped lips spread inwards, not the generator's colours.
            let inside = try F.avgPool2d(F.pad(mouth.coverage, [1, 1, 1, 1], mode: .replicate), kernel: 3, stride: 1) * mouth.coverage
            let rim = try Compositing.dilated(mouth.coverage, radius: 2 * radius) * (1.0 - mouth.coverage)
            fill = try fromSurroundings * rim + fill * (1.0 - rim)
            fill = try mouth.colour * inside + fill * (1.0 - inside)
            let composite = try warped * m + fill * (1.0 - m)
            let override = try Tensor(mouthOverride ?? [Float](repeating: 0, count: field.batch), shape: [field.batch, 1, 1, 1])
            // Over valid warp pixels only well inside the model's lips: their contour misses the photo's by a pixel
            // or two, and painting the interior over real lip widens the mouth.
            let core = try 1.0 - Compositing.dilated(1.0 - mouth.coverage, radius: radius)
            let replace = try Compositing.softMask(core, radius: 1) * override
            return try mouth.colour * replace + composite * (1.0 - replace)
        }
    }

    /// Face swapping: the identity's warped inner face (below the brows) in the target's colours; where the
    /// identity's warp is missing (its mouth was closed where the target's is open, a cheek it turned away) the
    /// target's own pixels, which show that part in the right pose and expression; elsewhere the target
    /// (1×3×S×S or N×3×S×S) untouched. (`generated` is kept for a swap generator trained to fill those parts.)
    public static func swap(generated: Tensor, warpedIdentity warped: Tensor, field: FaceWarpField, target: Tensor) throws -> Tensor {
        try Torch.noGrad {
            let radius = max(1, field.size / 96)
            let usable = try 1.0 - Compositing.opened(1.0 - field.valid, radius: radius)
            let m = try Compositing.softMask(usable, radius: radius)
            let targetImage = try target.expand(warped.shape)
            let region = try field.face * field.inner
            let identity = try Compositing.matchColours(warped, mask: region * usable, to: targetImage, referenceMask: region)
            let inner = try identity * m + targetImage * (1.0 - m)
            let faceBlend = try Compositing.softMask(region, radius: 2 * radius)
            return try inner * faceBlend + targetImage * (1.0 - faceBlend)
        }
    }
}

extension WarpCompositor {
    /// Face swapping by a swap model (Sec. 4.4): the generator drew the face from the masked target, I_3d, ρ̂ and
    /// z_id; its face region (the swapped geometry's render, feathered), colour-matched to the target, replaces
    /// the target's; hair and background stay the target's own pixels rather than the generator's redrawing.
    public static func swapModel(generated: Tensor, field: FaceWarpField, target: Tensor) throws -> Tensor {
        try Torch.noGrad {
            let radius = max(1, field.size / 96)
            let targetImage = try target.expand(generated.shape)
            let face = try Compositing.matchColours(generated, mask: field.face, to: targetImage, referenceMask: field.face)
            let blend = try Compositing.softMask(field.face, radius: 2 * radius)
            return try face * blend + targetImage * (1.0 - blend)
        }
    }
}

/// Building blocks of the composite.
enum Compositing {
    /// Binary dilation by `radius` pixels.
    static func dilated(_ mask: Tensor, radius: Int) throws -> Tensor {
        try separable(mask, radius: radius) { try F.maxPool1d($0, kernel: 2 * radius + 1, stride: 1) }
    }

    /// The mean over the (2·radius + 1)² square around each pixel, edges replicated.
    static func boxFiltered(_ image: Tensor, radius: Int) throws -> Tensor {
        try separable(image, radius: radius) { try F.avgPool1d($0, kernel: 2 * radius + 1, stride: 1) }
    }

    /// A square window filter (max or mean) as two passes of `pass1d`, along rows then columns, on a N×C×H×W tensor with
    /// its edges replicated: a pass costs the window's side per pixel rather than its area, which at a 1024² face is the
    /// difference between milliseconds and seconds (issue #21).
    static func separable(_ x: Tensor, radius: Int, _ pass1d: (Tensor) throws -> Tensor) throws -> Tensor {
        guard radius > 0 else { return x }
        let n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3)
        let rows = try pass1d(F.pad(x, [radius, radius, 0, 0], mode: .replicate).reshape([n * c * h, 1, w + 2 * radius])).reshape([n, c, h, w])
        let t = try F.pad(rows.transpose(2, 3).contiguous(), [radius, radius, 0, 0], mode: .replicate).reshape([n * c * w, 1, h + 2 * radius])
        return try pass1d(t).reshape([n, c, w, h]).transpose(2, 3).contiguous()
    }

    /// The fine texture of `image` (N×C×H×W): the image less its mean over a (2·radius + 1)² window, edges replicated,
    /// clamped to ±`limit` so a strong edge (a glasses rim, a lash) lends no more than skin grain does. Closing lids
    /// take it from the skin below the eye (`FaceWarpField.warp(_:detail:)`).
    static func detailLayer(_ image: Tensor, radius: Int, limit: Double = 0.06) throws -> Tensor {
        guard radius > 0 else { return try image.zerosLike() }
        return try (image - boxFiltered(image, radius: radius)).clamp(min: -limit, max: limit)
    }

    /// A blend weight from a binary mask N×1×H×W: eroded by `radius` pixels, then smoothed over the same
    /// radius, so the weight is 1 only well inside the mask and falls smoothly to 0 at its edge.
    static func softMask(_ mask: Tensor, radius: Int) throws -> Tensor {
        guard radius > 0 else { return mask }
        // Edges are replicated, not zero-padded: the crop border is not the edge of the mask.
        let eroded = try 1.0 - dilated(1.0 - mask, radius: radius)
        return try boxFiltered(boxFiltered(eroded, radius: radius), radius: radius)
    }

    /// Morphological opening of a binary mask (erode, then dilate, by `radius`): removes parts thinner than
    /// about 2·radius + 1 pixels, such as the one-pixel slivers a rasterized silhouette leaves.
    static func opened(_ mask: Tensor, radius: Int) throws -> Tensor {
        guard radius > 0 else { return mask }
        return try dilated(1.0 - dilated(1.0 - mask, radius: radius), radius: radius)
    }

    /// The low frequencies of `image` (N×C×H×W): averaged over `factor`² blocks and brought back up bilinearly, then
    /// smoothed over as many pixels again (the blocks leave no grid).
    static func lowPass(_ image: Tensor, factor: Int) throws -> Tensor {
        let h = image.size(2), w = image.size(3)
        let small = try F.adaptiveAvgPool2d(image, (max(1, h / factor), max(1, w / factor)))
        let up = try F.interpolate(small, size: (h, w), mode: .bilinear(alignCorners: false))
        return try boxFiltered(up, radius: max(1, factor / 2))
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
