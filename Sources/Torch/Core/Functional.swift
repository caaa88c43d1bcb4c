import CTorch
import Foundation

/// Stateless network operations, in the spirit of `torch.nn.functional`.
public enum F {
    public static func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil) throws -> Tensor {
        try Tensor.check(tg_linear(x.handle, w.handle, b?.handle), "linear(x \(x.shape), w \(w.shape))")
    }

    public static func conv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                              dilation: Int = 1, groups: Int = 1) throws -> Tensor {
        try conv2d(x, w, b, stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    public static func conv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil, stride: (Int, Int), padding: (Int, Int),
                              dilation: (Int, Int) = (1, 1), groups: Int = 1) throws -> Tensor {
        try Tensor.check(
            tg_conv2d(x.handle, w.handle, b?.handle, Int64(stride.0), Int64(stride.1), Int64(padding.0), Int64(padding.1),
                      Int64(dilation.0), Int64(dilation.1), Int64(groups)),
            "conv2d(x \(x.shape), w \(w.shape))")
    }

    public static func conv1d(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                              dilation: Int = 1, groups: Int = 1) throws -> Tensor {
        try Tensor.check(tg_conv1d(x.handle, w.handle, b?.handle, Int64(stride), Int64(padding), Int64(dilation), Int64(groups)),
                         "conv1d(x \(x.shape), w \(w.shape))")
    }

    public static func convTranspose2d(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                                       outputPadding: Int = 0, groups: Int = 1) throws -> Tensor {
        try Tensor.check(tg_conv_transpose2d(x.handle, w.handle, b?.handle, Int64(stride), Int64(padding), Int64(outputPadding), Int64(groups)),
                         "conv_transpose2d(x \(x.shape), w \(w.shape))")
    }

    /// Transposed convolution with per-axis (height, width) settings; `w` is in×(out/groups)×kh×kw.
    public static func convTranspose2d(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil, stride: (Int, Int), padding: (Int, Int),
                                       outputPadding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1),
                                       groups: Int = 1) throws -> Tensor {
        try Tensor.check(
            tg_conv_transpose2d_ex(x.handle, w.handle, b?.handle, Int64(stride.0), Int64(stride.1), Int64(padding.0), Int64(padding.1),
                                   Int64(outputPadding.0), Int64(outputPadding.1), Int64(groups), Int64(dilation.0), Int64(dilation.1)),
            "conv_transpose2d(x \(x.shape), w \(w.shape))")
    }

    public static func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Tensor.check(tg_avg_pool2d(x.handle, Int64(kernel), Int64(stride ?? kernel), Int64(padding)), "avg_pool2d")
    }
    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Tensor.check(tg_max_pool2d(x.handle, Int64(kernel), Int64(stride ?? kernel), Int64(padding)), "max_pool2d")
    }
    public static func avgPool1d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Tensor.check(tg_avg_pool1d(x.handle, Int64(kernel), Int64(stride ?? kernel), Int64(padding)), "avg_pool1d(\(x.shape))")
    }
    public static func maxPool1d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Tensor.check(tg_max_pool1d(x.handle, Int64(kernel), Int64(stride ?? kernel), Int64(padding)), "max_pool1d(\(x.shape))")
    }
    public static func adaptiveAvgPool2d(_ x: Tensor, _ size: (Int, Int)) throws -> Tensor {
        try Tensor.check(tg_adaptive_avg_pool2d(x.handle, Int64(size.0), Int64(size.1)), "adaptive_avg_pool2d")
    }

    public enum Interpolation { case nearest, bilinear(alignCorners: Bool) }

    /// Resizes an NCHW tensor to `size` (height, width).
    public static func interpolate(_ x: Tensor, size: (Int, Int), mode: Interpolation = .nearest) throws -> Tensor {
        switch mode {
        case .nearest:
            return try Tensor.check(tg_upsample_nearest2d(x.handle, Int64(size.0), Int64(size.1)), "upsample_nearest2d")
        case .bilinear(let align):
            return try Tensor.check(tg_upsample_bilinear2d(x.handle, Int64(size.0), Int64(size.1), align ? 1 : 0), "upsample_bilinear2d")
        }
    }

    public enum GridPadding: Int32 { case zeros = 0, border = 1, reflection = 2 }

    /// `grid` is N×H×W×2 in [-1, 1] (x, y), as in `torch.nn.functional.grid_sample`.
    public static func gridSample(_ x: Tensor, grid: Tensor, nearest: Bool = false, padding: GridPadding = .zeros,
                                  alignCorners: Bool = false) throws -> Tensor {
        try Tensor.check(tg_grid_sample(x.handle, grid.handle, nearest ? 1 : 0, padding.rawValue, alignCorners ? 1 : 0), "grid_sample")
    }

    public enum PadMode: Int32 { case constant = 0, reflect = 1, replicate = 2 }

    /// `pads` as in torch: (left, right, top, bottom, ...) from the last dimension backwards.
    public static func pad(_ x: Tensor, _ pads: [Int], mode: PadMode = .constant, value: Double = 0) throws -> Tensor {
        let p = pads.map { Int64($0) }
        return try Tensor.check(tg_pad(x.handle, p, Int32(p.count), mode.rawValue, value), "pad")
    }

    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        try Tensor.check(tg_group_norm(x.handle, Int64(groups), weight?.handle, bias?.handle, eps), "group_norm(\(x.shape), \(groups) groups)")
    }

    public static func layerNorm(_ x: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        let d = normalizedShape.map { Int64($0) }
        return try Tensor.check(tg_layer_norm(x.handle, d, Int32(d.count), weight?.handle, bias?.handle, eps), "layer_norm")
    }

    /// Instance normalisation without affine parameters: (x - μ) / √(σ² + eps) over the spatial dimensions
    /// of N×C×(spatial...), with the biased variance as `torch.nn.functional.instance_norm`; the
    /// normalisation inside AdaIN (Eq. 17).
    public static func instanceNorm(_ x: Tensor, eps: Double = 1e-5) throws -> Tensor {
        let rank = x.rank
        guard rank >= 3 else { throw TorchError("instance_norm needs N×C×spatial input, got \(x.shape)") }
        let spatial = Array(2..<rank)
        let mu = try x.mean(spatial, keepDim: true)
        let v = try x.variance(spatial, unbiased: false, keepDim: true)
        return try (x - mu) * (v + eps).rsqrt()
    }

    /// Inverted dropout: zeroes elements with probability `p` and scales the rest by 1/(1-p) while
    /// training; the identity otherwise. With a `generator` the mask is reproducible.
    public static func dropout(_ x: Tensor, p: Double, training: Bool, generator: Generator? = nil) throws -> Tensor {
        guard p >= 0 && p <= 1 else { throw TorchError("dropout probability \(p) is outside [0, 1]") }
        guard training && p > 0 else { return x }
        guard let generator else { return try Tensor.check(tg_dropout(x.handle, p, 1), "dropout") }
        if p == 1 { return try x * 0.0 }
        let keep = try Tensor.rand(x.shape, generator: generator, dtype: x.dtype, device: x.device).ge(p)
        return try x * keep.to(x.dtype) * (1 / (1 - p))
    }

    public static func embedding(_ indices: Tensor, weight: Tensor) throws -> Tensor {
        try Tensor.check(tg_embedding(weight.handle, indices.handle), "embedding")
    }

    /// softmax(q kᵀ · scale + mask) v over the last two dimensions. Returns the attention weights too
    /// when `returnWeights` is set (the paper's Fig. 7 visualises them).
    public static func attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor? = nil, scale: Double? = nil,
                                 returnWeights: Bool = false) throws -> (output: Tensor, weights: Tensor?) {
        let s = scale ?? 1.0 / Double(q.size(-1)).squareRoot()
        if returnWeights {
            var w: OpaquePointer? = nil
            let o = try Tensor.check(tg_attention(q.handle, k.handle, v.handle, mask?.handle, s, &w), "attention")
            return (o, try Tensor.check(w, "attention weights"))
        }
        let o = try Tensor.check(tg_attention(q.handle, k.handle, v.handle, mask?.handle, s, nil),
                                 "attention(q \(q.shape), k \(k.shape), v \(v.shape))")
        return (o, nil)
    }

    // MARK: losses

    public static func mseLoss(_ a: Tensor, _ b: Tensor) throws -> Tensor { try (a - b).square().mean() }
    public static func l1Loss(_ a: Tensor, _ b: Tensor) throws -> Tensor { try (a - b).abs().mean() }
    public static func crossEntropy(_ logits: Tensor, _ target: Tensor) throws -> Tensor {
        let lp = try logits.logSoftmax(dim: -1)
        return try -(lp.gather(-1, target.unsqueeze(-1)).mean())
    }
}
