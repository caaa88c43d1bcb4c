import Foundation
import Torch

/// The paper's Fig. 7 view of TexAtt: where in the source the centre query of a feature map attends.
public enum AttentionOverlay {
    /// The attention map of the deepest TexAtt ("middle.fusion" when present, else the last path), as one
    /// overlay per batch element: the source dimmed, plus the normalised attention of the query at the
    /// centre of the feature map, upsampled to the image size. Nil when the model has no TexAtt.
    public static func centreQuery(maps: [String: Tensor], sources: Tensor) throws -> [Tensor]? {
        guard let key = maps.keys.sorted().first(where: { $0.contains("middle") }) ?? maps.keys.sorted().last, let m = maps[key] else {
            return nil
        }
        let n = sources.size(0), size = (sources.size(2), sources.size(3))
        let hw = m.size(-1), side = Int(Double(hw).squareRoot())
        return try (0..<n).map { i in
            let row = try m.select(0, i).reshape([m.size(1), hw]).select(0, (side / 2) * side + side / 2).reshape([1, 1, side, side])
            let norm = try row / (row.max().item() + 1e-12)
            let big = try F.interpolate(norm, size: size).squeeze(0).expand([3, size.0, size.1])
            return try sources.select(0, i) * 0.5 + big - 0.5
        }
    }
}
