import Foundation
import Torch

/// Scattered-data interpolation on a pixel grid by push-pull (Gortler et al., "The Lumigraph", 1996): known-weighted
/// averages on a halving pyramid, then coarse values pulled back up wherever the finer level knows nothing. Smooth,
/// local (a hole is filled from what is nearest at the scale of the hole), and exact on known pixels. The warp extends
/// the face's motion outward with it; the composite fills holes in the warped picture with it.
public enum PushPull {
    /// How much a coarse pixel trusts what it has: how much of what lies under it is known (`.mean`, Gortler's
    /// averaging: a gap blends the nearest values with coarser, farther ones, which is smoother), or full as soon as
    /// anything under it is known (`.any`, the Lumigraph's clamped sum: a gap takes the nearest values).
    public enum Confidence: Sendable { case mean, any }

    /// `values` (N×C×H×W) where `known` (N×1×H×W, weights in [0, 1]) is 0 filled from the known ones.
    public static func fill(_ values: Tensor, known: Tensor, confidence: Confidence = .mean) throws -> Tensor {
        try Torch.noGrad {
            // Each level: the weighted mean of the known values under each pixel, and its confidence.
            var levels: [(value: Tensor, weight: Tensor)] = [(values, known)]
            while min(levels.last!.value.size(2), levels.last!.value.size(3)) > 2 {
                let (v, w) = levels.last!
                let weight = try F.avgPool2d(w, kernel: 2)
                let trust = confidence == .mean ? weight : try (weight * 4.0).clamp(min: 0, max: 1)
                levels.append((try F.avgPool2d(v * w, kernel: 2) / weight.clamp(min: 1e-8), trust))
            }
            var filled = levels.last!.value
            for (v, w) in levels.dropLast().reversed() {
                let up = try F.interpolate(filled, size: (v.size(2), v.size(3)), mode: .bilinear(alignCorners: false))
                filled = try v * w + up * (1.0 - w)
            }
            return try values * known + filled * (1.0 - known)
        }
    }
}
