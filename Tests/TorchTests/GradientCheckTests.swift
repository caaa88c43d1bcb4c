import Foundation
import XCTest
import Torch

/// Compares autograd's gradients with central finite differences in float64 for every differentiable
/// operation of the Swift layer. Each case maps its inputs to one tensor; the checked scalar is
/// Σ output ⊙ w for a fixed random w, so every output element contributes with its own weight.
final class GradientCheckTests: XCTestCase {
    enum Input {
        case normal([Int])
        case positive([Int])       // in (0.2, 1.2): log, sqrt, reciprocal, pow bases
        case unit([Int])           // in (-0.8, 0.8): acos, asin
        case spread([Int])         // well-separated values: max/sort ties and kinks stay far from ±h
        case fixed(Tensor)         // indices, masks, conditions: not differentiated
    }

    struct Case {
        let name: String
        let inputs: [Input]
        let fn: ([Tensor]) throws -> Tensor
        init(_ name: String, _ inputs: [Input], _ fn: @escaping ([Tensor]) throws -> Tensor) {
            self.name = name; self.inputs = inputs; self.fn = fn
        }
    }

    override func setUp() { Torch.configureThreads() }

    static func idx(_ values: [Int64], _ shape: [Int]) -> Tensor { try! Tensor(values, shape: shape) }

    static var cases: [Case] {
        let n = Input.normal, p = Input.positive, u = Input.unit, s = Input.spread
        var c: [Case] = []
        // Unary
        let unary: [(String, Input, (Tensor) throws -> Tensor)] = [
            ("neg", n([3, 4]), { try $0.neg() }), ("exp", n([3, 4]), { try $0.exp() }), ("log", p([3, 4]), { try $0.log() }),
            ("sqrt", p([3, 4]), { try $0.sqrt() }), ("rsqrt", p([3, 4]), { try $0.rsqrt() }), ("abs", s([3, 4]), { try $0.abs() }),
            ("sin", n([3, 4]), { try $0.sin() }), ("cos", n([3, 4]), { try $0.cos() }), ("tanh", n([3, 4]), { try $0.tanh() }),
            ("sigmoid", n([3, 4]), { try $0.sigmoid() }), ("relu", s([3, 4]), { try $0.relu() }), ("silu", n([3, 4]), { try $0.silu() }),
            ("gelu", n([3, 4]), { try $0.gelu() }), ("gelu_tanh", n([3, 4]), { try $0.gelu(approximateTanh: true) }),
            ("square", n([3, 4]), { try $0.square() }), ("erf", n([3, 4]), { try $0.erf() }), ("log1p", p([3, 4]), { try $0.log1p() }),
            ("expm1", n([3, 4]), { try $0.expm1() }), ("reciprocal", p([3, 4]), { try $0.reciprocal() }),
            ("acos", u([3, 4]), { try $0.acos() }), ("asin", u([3, 4]), { try $0.asin() }), ("atan", n([3, 4]), { try $0.atan() }),
            ("leaky_relu", s([3, 4]), { try $0.leakyRelu(0.2) }), ("sign", s([3, 4]), { try $0.sign() }),
            ("floor", s([3, 4]), { try $0.floor() }), ("ceil", s([3, 4]), { try $0.ceil() }), ("round", s([3, 4]), { try $0.round() }),
            ("prefix_minus", n([3, 4]), { try -$0 }),
        ]
        for (name, input, f) in unary { c.append(Case(name, [input], { try f($0[0]) })) }

        // Binary, broadcasting, scalars
        c += [
            Case("add", [n([2, 3, 4]), n([3, 1])], { try $0[0] + $0[1] }),
            Case("sub", [n([2, 3, 4]), n([3, 1])], { try $0[0] - $0[1] }),
            Case("mul", [n([2, 3, 4]), n([3, 1])], { try $0[0] * $0[1] }),
            Case("div", [n([2, 3, 4]), p([3, 1])], { try $0[0] / $0[1] }),
            Case("pow", [p([2, 3]), n([3])], { try $0[0].pow($0[1]) }),
            Case("maximum", [s([2, 3]), s([2, 3])], { try $0[0].maximum($0[1]) }),
            Case("minimum", [s([2, 3]), s([2, 3])], { try $0[0].minimum($0[1]) }),
            Case("atan2", [n([2, 3]), p([2, 3])], { try $0[0].atan2($0[1]) }),
            Case("add_scalar", [n([5])], { try $0[0] + 1.5 }),
            Case("scalar_add", [n([5])], { try 1.5 + $0[0] }),
            Case("sub_scalar", [n([5])], { try $0[0] - 0.5 }),
            Case("mul_scalar", [n([5])], { try $0[0] * -3 }),
            Case("scalar_mul", [n([5])], { try 2.5 * $0[0] }),
            Case("div_scalar", [n([5])], { try $0[0] / 7 }),
            Case("rsub_scalar", [n([5])], { try 2 - $0[0] }),
            Case("rdiv_scalar", [p([5])], { try 2 / $0[0] }),
            Case("pow_scalar", [p([5])], { try $0[0].pow(2.5) }),
            Case("maximum_scalar", [s([6])], { try $0[0].maximum(0.1) }),
            Case("minimum_scalar", [s([6])], { try $0[0].minimum(0.1) }),
            Case("clamp", [s([8])], { try $0[0].clamp(min: -0.5, max: 0.7) }),
            Case("where", [.fixed(try! Tensor([true, false, true, false, false, true], shape: [2, 3])), n([2, 3]), n([3])],
                 { try Tensor.where($0[0], $0[1], $0[2]) }),
            Case("masked_fill", [n([2, 3]), .fixed(try! Tensor([true, false, true, false, false, true], shape: [2, 3]))],
                 { try $0[0].maskedFill($0[1], -1) }),
            Case("lerp", [n([2, 3]), n([2, 3])], { try $0[0].lerp($0[1], 0.3) }),
        ]

        // Linear algebra
        c += [
            Case("matmul", [n([2, 3, 4]), n([4, 5])], { try $0[0].matmul($0[1]) }),
            Case("matmul_batched", [n([2, 1, 3, 4]), n([3, 4, 2])], { try $0[0].matmul($0[1]) }),
            Case("matmul_vector", [n([3, 4]), n([4])], { try $0[0].matmul($0[1]) }),
            Case("bmm", [n([2, 3, 4]), n([2, 4, 2])], { try $0[0].bmm($0[1]) }),
            Case("linear", [n([2, 3, 4]), n([3, 4]), n([3])], { try F.linear($0[0], $0[1], $0[2]) }),
            Case("linear_nobias", [n([5, 4]), n([3, 4])], { try F.linear($0[0], $0[1]) }),
            Case("einsum", [n([2, 3, 4]), n([2, 4, 2])], { try Tensor.einsum("bij,bjk->bik", $0) }),
        ]

        // Convolutions
        c += [
            Case("conv2d", [n([1, 4, 5, 5]), n([4, 2, 3, 3]), n([4])], { try F.conv2d($0[0], $0[1], $0[2], stride: 2, padding: 1, groups: 2) }),
            Case("conv2d_dilated", [n([1, 2, 6, 6]), n([2, 2, 3, 3])], { try F.conv2d($0[0], $0[1], padding: 2, dilation: 2) }),
            Case("conv2d_rect", [n([1, 2, 4, 5]), n([2, 2, 3, 2]), n([2])],
                 { try F.conv2d($0[0], $0[1], $0[2], stride: (1, 2), padding: (0, 1)) }),
            Case("conv1d", [n([2, 3, 7]), n([4, 3, 3]), n([4])], { try F.conv1d($0[0], $0[1], $0[2], stride: 2, padding: 1) }),
            Case("conv1d_groups", [n([1, 4, 8]), n([4, 2, 3])], { try F.conv1d($0[0], $0[1], padding: 2, dilation: 2, groups: 2) }),
            Case("conv_transpose2d", [n([1, 3, 3, 3]), n([3, 2, 4, 4]), n([2])],
                 { try F.convTranspose2d($0[0], $0[1], $0[2], stride: 2, padding: 1) }),
            Case("conv_transpose2d_groups", [n([1, 4, 3, 3]), n([4, 1, 3, 3])],
                 { try F.convTranspose2d($0[0], $0[1], stride: (2, 2), padding: (1, 1), outputPadding: (1, 1), groups: 2) }),
            Case("conv_transpose2d_rect", [n([1, 2, 3, 2]), n([2, 2, 3, 2]), n([2])],
                 { try F.convTranspose2d($0[0], $0[1], $0[2], stride: (2, 1), padding: (1, 0), outputPadding: (1, 0), dilation: (1, 2)) }),
        ]

        // Pooling and resampling
        c += [
            Case("avg_pool2d", [n([1, 2, 4, 6])], { try F.avgPool2d($0[0], kernel: 2) }),
            Case("avg_pool2d_padded", [n([1, 2, 5, 5])], { try F.avgPool2d($0[0], kernel: 3, stride: 2, padding: 1) }),
            Case("max_pool2d", [s([1, 2, 5, 5])], { try F.maxPool2d($0[0], kernel: 3, stride: 2, padding: 1) }),
            Case("adaptive_avg_pool2d", [n([1, 2, 5, 4])], { try F.adaptiveAvgPool2d($0[0], (3, 2)) }),
            Case("avg_pool1d", [n([2, 2, 7])], { try F.avgPool1d($0[0], kernel: 3, stride: 2, padding: 1) }),
            Case("max_pool1d", [s([2, 2, 6])], { try F.maxPool1d($0[0], kernel: 2) }),
            Case("interpolate_nearest", [n([1, 2, 3, 2])], { try F.interpolate($0[0], size: (5, 4)) }),
            Case("interpolate_bilinear", [n([1, 2, 3, 2])], { try F.interpolate($0[0], size: (5, 4), mode: .bilinear(alignCorners: false)) }),
            Case("interpolate_bilinear_aligned", [n([1, 2, 3, 2])],
                 { try F.interpolate($0[0], size: (5, 4), mode: .bilinear(alignCorners: true)) }),
            Case("grid_sample_zeros", [n([1, 2, 4, 5]), u([1, 3, 2, 2])], { try F.gridSample($0[0], grid: $0[1] * 1.2) }),
            Case("grid_sample_border_aligned", [n([1, 2, 4, 5]), u([1, 3, 2, 2])],
                 { try F.gridSample($0[0], grid: $0[1] * 1.3, padding: .border, alignCorners: true) }),
            Case("grid_sample_reflection", [n([1, 2, 4, 5]), u([1, 3, 2, 2])],
                 { try F.gridSample($0[0], grid: $0[1] * 1.3, padding: .reflection) }),
            Case("grid_sample_nearest", [n([1, 2, 4, 5]), .fixed(try! Tensor([-0.9, 0.31, 0.2, -0.55, 0.77, 0.05] as [Double], shape: [1, 3, 1, 2]))],
                 { try F.gridSample($0[0], grid: $0[1], nearest: true) }),
            Case("pad_constant", [n([1, 2, 3, 2])], { try F.pad($0[0], [1, 2, 0, 1], value: 0.5) }),
            Case("pad_reflect", [n([1, 2, 3, 3])], { try F.pad($0[0], [2, 1, 1, 2], mode: .reflect) }),
            Case("pad_replicate", [n([1, 2, 3, 2])], { try F.pad($0[0], [2, 1, 1, 2], mode: .replicate) }),
            Case("pad_reflect1d", [n([1, 2, 5])], { try F.pad($0[0], [2, 3], mode: .reflect) }),
        ]

        // Normalisation, softmax, attention, embedding, losses
        c += [
            Case("group_norm", [n([2, 4, 3, 2]), n([4]), n([4])], { try F.groupNorm($0[0], groups: 2, weight: $0[1], bias: $0[2]) }),
            Case("layer_norm", [n([2, 3, 5]), n([5]), n([5])], { try F.layerNorm($0[0], normalizedShape: [5], weight: $0[1], bias: $0[2]) }),
            Case("layer_norm_2d", [n([2, 3, 4])], { try F.layerNorm($0[0], normalizedShape: [3, 4]) }),
            Case("instance_norm", [n([2, 2, 3, 3])], { try F.instanceNorm($0[0]) }),
            Case("instance_norm1d", [n([2, 2, 5])], { try F.instanceNorm($0[0]) }),
            Case("softmax", [n([3, 4])], { try $0[0].softmax(dim: 1) }),
            Case("log_softmax", [n([3, 4])], { try $0[0].logSoftmax(dim: 0) }),
            Case("attention", [n([1, 2, 3, 4]), n([1, 2, 5, 4]), n([1, 2, 5, 3]), n([3, 5])],
                 { try F.attention(q: $0[0], k: $0[1], v: $0[2], mask: $0[3]).output }),
            Case("attention_weights", [n([1, 2, 3, 4]), n([1, 2, 5, 4]), n([1, 2, 5, 3])],
                 { try F.attention(q: $0[0], k: $0[1], v: $0[2], scale: 0.3, returnWeights: true).weights! }),
            Case("embedding", [n([6, 3]), .fixed(idx([1, 5, 1, 0], [2, 2]))], { try F.embedding($0[1], weight: $0[0]) }),
            Case("mse_loss", [n([3, 4]), n([3, 4])], { try F.mseLoss($0[0], $0[1]) }),
            Case("l1_loss", [s([3, 4]), s([3, 4])], { try F.l1Loss($0[0], $0[1]) }),
            Case("cross_entropy", [n([4, 5]), .fixed(idx([0, 4, 2, 2], [4]))], { try F.crossEntropy($0[0], $0[1]) }),
            Case("dropout_eval", [n([4])], { try F.dropout($0[0], p: 0.5, training: false) }),
            // A fresh seeded generator per evaluation gives the same mask every time, so differences apply.
            Case("dropout_seeded", [n([12])], { try F.dropout($0[0], p: 0.4, training: true, generator: Generator(seed: 5)) }),
        ]

        // Reductions
        c += [
            Case("sum_all", [n([3, 4])], { try $0[0].sum() }),
            Case("sum_dims_keep", [n([2, 3, 4])], { try $0[0].sum([0, 2], keepDim: true) }),
            Case("sum_dim", [n([2, 3])], { try $0[0].sum(dim: 1) }),
            Case("mean_all", [n([3, 4])], { try $0[0].mean() }),
            Case("mean_dim", [n([2, 3, 4])], { try $0[0].mean(dim: 1) }),
            Case("var_unbiased", [n([3, 4])], { try $0[0].variance([1], unbiased: true) }),
            Case("var_all_biased", [n([3, 4])], { try $0[0].variance() }),
            Case("max_dims", [s([2, 3, 4])], { try $0[0].max([2]) }),
            Case("min_dims_keep", [s([2, 3, 4])], { try $0[0].min([0, 1], keepDim: true) }),
            Case("max_all", [s([3, 4])], { try $0[0].max() }),
            Case("norm_all", [n([3, 4])], { try $0[0].norm() }),
            Case("norm_l1_dim", [s([3, 4])], { try $0[0].norm(p: 1, [1]) }),
            Case("cumsum", [n([3, 4])], { try $0[0].cumsum(dim: 1) }),
            Case("logsumexp", [n([3, 4])], { try $0[0].logsumexp(dim: 1) }),
        ]

        // Shape and indexing
        c += [
            Case("reshape", [n([2, 3, 4])], { try $0[0].reshape([4, 6]) }),
            Case("permute", [n([2, 3, 4])], { try $0[0].permute(2, 0, 1) }),
            Case("transpose", [n([2, 3, 4])], { try $0[0].transpose(0, 2) }),
            Case("expand", [n([3, 1])], { try $0[0].expand([2, 3, 4]) }),
            Case("repeat", [n([2, 3])], { try $0[0].repeated([2, 1, 3]) }),
            Case("squeeze_unsqueeze", [n([3, 1, 4])], { try $0[0].squeeze(1).unsqueeze(0) }),
            Case("flatten", [n([2, 3, 4])], { try $0[0].flatten(1, 2) }),
            Case("narrow", [n([2, 5, 3])], { try $0[0].narrow(1, 1, 3) }),
            Case("slice_step", [n([2, 3, 7])], { try $0[0].slice(2, 1, 6, step: 2) }),
            Case("select", [n([2, 3, 4])], { try $0[0].select(1, 2) }),
            Case("cat", [n([2, 3]), n([4, 3])], { try Tensor.cat([$0[0], $0[1]], dim: 0) }),
            Case("stack", [n([2, 3]), n([2, 3])], { try Tensor.stack([$0[0], $0[1]], dim: 1) }),
            Case("split", [n([2, 5])], { try $0[0].split([2, 3], dim: 1)[1] }),
            Case("chunk", [n([2, 6])], { try $0[0].chunk(3, dim: 1)[2] }),
            Case("gather", [n([3, 4]), .fixed(idx([0, 3, 1, 1, 2, 0], [3, 2]))], { try $0[0].gather(1, $0[1]) }),
            Case("index_select", [n([3, 4]), .fixed(idx([3, 0, 3], [3]))], { try $0[0].indexSelect(1, $0[1]) }),
            Case("scatter_add", [n([2, 5]), .fixed(idx([0, 4, 0, 1, 1, 3], [2, 3])), n([2, 3])], { try $0[0].scatterAdd(1, $0[1], $0[2]) }),
            Case("index_add", [n([4, 2]), .fixed(idx([0, 3, 0], [3])), n([3, 2])], { try $0[0].indexAdd(0, $0[1], $0[2]) }),
            Case("flip", [n([2, 3, 4])], { try $0[0].flip([0, 2]) }),
            Case("roll", [n([3, 4])], { try $0[0].roll(2, dim: 1) }),
            Case("tril", [n([4, 5])], { try $0[0].tril(-1) }),
            Case("triu", [n([4, 5])], { try $0[0].triu(1) }),
            Case("masked_select", [n([2, 3]), .fixed(try! Tensor([true, false, true, true, false, true], shape: [2, 3]))],
                 { try $0[0].maskedSelect($0[1]) }),
            Case("cross", [n([4, 3]), n([4, 3])], { try $0[0].cross($0[1]) }),
            Case("sort_values", [s([3, 4])], { try $0[0].sorted(dim: 1, descending: true).values }),
            Case("topk_values", [s([3, 5])], { try $0[0].topk(2, dim: 1).values }),
            Case("contiguous_clone", [n([2, 3])], { try $0[0].transpose(0, 1).contiguous().clone() }),
        ]
        return c
    }

    /// Values for a differentiable input, reproducible per case.
    static func values(_ input: Input, index: Int, _ generator: Generator) throws -> (shape: [Int], values: [Double])? {
        switch input {
        case .normal(let s):
            return (s, try Tensor.randn(s, generator: generator, dtype: .float64).toArray(Double.self))
        case .positive(let s):
            return (s, try (Tensor.rand(s, generator: generator, dtype: .float64) + 0.2).toArray(Double.self))
        case .unit(let s):
            return (s, try (Tensor.rand(s, generator: generator, dtype: .float64) * 1.6 - 0.8).toArray(Double.self))
        case .spread(let s):
            // A shuffled ladder 0.15 apart, offset from integers, 0 and ±0.5 (and per input, so two inputs never
            // tie), so no tie, kink or jump of max/abs/floor/round lies within ±h.
            let n = s.reduce(1, *)
            let perm = try Tensor.randperm(n, generator: generator).toArray(Int64.self)
            let offset = 0.0371 + 0.05 * Double(index % 2)
            return (s, perm.map { (Double($0) - Double(n) / 2) * 0.15 + offset })
        case .fixed:
            return nil
        }
    }

    func testGradientsMatchCentralDifferences() throws {
        let h = 1e-6
        var failures: [String] = []
        let all = Self.cases
        XCTAssertGreaterThan(all.count, 120)
        for (caseIndex, c) in all.enumerated() {
            let generator = Generator(seed: UInt64(1000 + caseIndex))
            var data: [(shape: [Int], values: [Double])?] = try c.inputs.enumerated().map { try Self.values($1, index: $0, generator) }
            func tensors(requiringGrad: Bool) throws -> [Tensor] {
                try zip(c.inputs, data).map { input, d in
                    if case .fixed(let t) = input { return t }
                    let t = try Tensor(d!.values, shape: d!.shape)
                    return requiringGrad ? try t.requiresGrad(true) : t
                }
            }
            let leaves = try tensors(requiringGrad: true)
            let out = try c.fn(leaves)
            XCTAssertEqual(out.dtype, .float64, c.name)
            let weight = try Tensor.randn(out.shape, generator: generator, dtype: .float64)
            let objective = try (out * weight).sum()
            let differentiable = c.inputs.indices.filter { data[$0] != nil }
            let analytic = try Autograd.grad(outputs: [objective], inputs: differentiable.map { leaves[$0] })

            func evaluate() throws -> Double { try Torch.noGrad { try (c.fn(tensors(requiringGrad: false)) * weight).sum().item() } }
            for (k, i) in differentiable.enumerated() {
                let count = data[i]!.values.count
                let got = try analytic[k].map { try $0.toArray(Double.self) } ?? [Double](repeating: 0, count: count)
                guard got.count == count else { failures.append("\(c.name) input \(i): gradient has \(got.count) elements"); continue }
                for j in 0..<count {
                    let original = data[i]!.values[j]
                    data[i]!.values[j] = original + h
                    let plus = try evaluate()
                    data[i]!.values[j] = original - h
                    let minus = try evaluate()
                    data[i]!.values[j] = original
                    let numeric = (plus - minus) / (2 * h)
                    if Swift.abs(numeric - got[j]) > 1e-5 + 1e-4 * Swift.abs(numeric) {
                        failures.append("\(c.name) input \(i)[\(j)]: autograd \(got[j]), finite difference \(numeric)")
                        break
                    }
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    /// The check itself must be able to fail: a deliberately wrong gradient is caught.
    func testCheckDetectsAWrongGradient() throws {
        let x = try Tensor([0.3, -1.2, 0.8] as [Double]).requiresGrad(true)
        let y = try x.square().sum()
        let g = try Autograd.grad(outputs: [y], inputs: [x])[0]!.toArray(Double.self)
        // Pretend the gradient were x instead of 2x: the finite difference must disagree.
        let numeric = try [0.3, -1.2, 0.8].map { v -> Double in
            let p = try Tensor([v + 1e-6]).square().sum().item(), m = try Tensor([v - 1e-6]).square().sum().item()
            return (p - m) / 2e-6
        }
        for j in 0..<3 {
            XCTAssertEqual(g[j], numeric[j], accuracy: 1e-6)   // float64 central difference of x²: exact in h², rounding ≈ 2⁻⁵²·|x²|/h ≈ 3e-10
            XCTAssertGreaterThan(Swift.abs(numeric[j] - g[j] / 2), 1e-3)
        }
    }
}
