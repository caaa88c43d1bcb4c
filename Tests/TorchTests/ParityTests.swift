import Foundation
import XCTest
import Torch

/// Compares the Swift layer with python3-torch on fixtures from scripts/fixtures/torch_ops.py: every op
/// case, a small conv net forward and backward, and torch.nn.GRU.
final class ParityTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    typealias Op = ([Tensor]) throws -> [Tensor]

    /// Swift counterparts of the fixture's cases, by case name (same names as torch_ops.py).
    static let ops: [String: Op] = {
        var o: [String: Op] = [:]
        func one(_ name: String, _ f: @escaping ([Tensor]) throws -> Tensor) { o[name] = { [try f($0)] } }
        let unary: [(String, (Tensor) throws -> Tensor)] = [
            ("neg", { try $0.neg() }), ("exp", { try $0.exp() }), ("abs", { try $0.abs() }), ("sin", { try $0.sin() }),
            ("cos", { try $0.cos() }), ("tanh", { try $0.tanh() }), ("sigmoid", { try $0.sigmoid() }), ("relu", { try $0.relu() }),
            ("silu", { try $0.silu() }), ("gelu", { try $0.gelu() }), ("gelu_tanh", { try $0.gelu(approximateTanh: true) }),
            ("square", { try $0.square() }), ("sign", { try $0.sign() }), ("floor", { try $0.floor() }), ("ceil", { try $0.ceil() }),
            ("round", { try $0.round() }), ("erf", { try $0.erf() }), ("expm1", { try $0.expm1() }), ("atan", { try $0.atan() }),
            ("leaky_relu", { try $0.leakyRelu(0.2) }), ("log", { try $0.log() }), ("sqrt", { try $0.sqrt() }),
            ("rsqrt", { try $0.rsqrt() }), ("log1p", { try $0.log1p() }), ("reciprocal", { try $0.reciprocal() }),
            ("acos", { try $0.acos() }), ("asin", { try $0.asin() }),
        ]
        for (name, f) in unary { one(name) { try f($0[0]) } }

        one("add") { try $0[0] + $0[1] }
        one("sub") { try $0[0] - $0[1] }
        one("mul") { try $0[0] * $0[1] }
        one("div") { try $0[0] / $0[1] }
        one("pow") { try $0[0].pow($0[1]) }
        one("maximum") { try $0[0].maximum($0[1]) }
        one("minimum") { try $0[0].minimum($0[1]) }
        one("atan2") { try $0[0].atan2($0[1]) }
        one("gt") { try $0[0].gt($0[1]) }
        one("le") { try $0[0].le($0[1]) }
        one("add_scalar") { try $0[0] + 1.5 }
        one("sub_scalar") { try $0[0] - 0.25 }
        one("mul_scalar") { try $0[0] * -3.0 }
        one("div_scalar") { try $0[0] / 7.0 }
        one("rsub_scalar") { try 2.0 - $0[0] }
        one("rdiv_scalar") { try 2.0 / $0[0] }
        one("pow_scalar") { try $0[0].pow(2.5) }
        one("clamp") { try $0[0].clamp(min: -0.5, max: 0.7) }
        one("clamp_min") { try $0[0].clamp(min: 0.1) }
        one("remainder_scalar") { try $0[0].remainder(0.7) }
        one("where") { try Tensor.where($0[0], $0[1], $0[2]) }
        one("masked_fill") { try $0[0].maskedFill($0[1], -1) }
        one("lerp") { try $0[0].lerp($0[1], 0.3) }

        one("matmul") { try $0[0].matmul($0[1]) }
        one("matmul_batched") { try $0[0].matmul($0[1]) }
        one("matmul_vector") { try $0[0].matmul($0[1]) }
        one("bmm") { try $0[0].bmm($0[1]) }
        one("linear") { try F.linear($0[0], $0[1], $0[2]) }
        one("linear_nobias") { try F.linear($0[0], $0[1]) }
        one("einsum") { try Tensor.einsum("bij,bjk->bik", $0) }

        one("conv2d") { try F.conv2d($0[0], $0[1], $0[2], stride: 2, padding: 1, groups: 2) }
        one("conv2d_dilated") { try F.conv2d($0[0], $0[1], padding: 1, dilation: 2) }
        one("conv2d_rect") { try F.conv2d($0[0], $0[1], $0[2], stride: (1, 2), padding: (0, 1)) }
        one("conv1d") { try F.conv1d($0[0], $0[1], $0[2], stride: 2, padding: 2) }
        one("conv1d_groups") { try F.conv1d($0[0], $0[1], padding: 3, dilation: 2, groups: 2) }
        one("conv_transpose2d") { try F.convTranspose2d($0[0], $0[1], $0[2], stride: 2, padding: 1) }
        one("conv_transpose2d_groups") {
            try F.convTranspose2d($0[0], $0[1], stride: (2, 2), padding: (1, 1), outputPadding: (1, 1), groups: 2)
        }
        one("conv_transpose2d_rect") {
            try F.convTranspose2d($0[0], $0[1], $0[2], stride: (2, 1), padding: (1, 0), outputPadding: (1, 0), dilation: (1, 2))
        }

        one("avg_pool2d") { try F.avgPool2d($0[0], kernel: 2) }
        one("avg_pool2d_padded") { try F.avgPool2d($0[0], kernel: 3, stride: 2, padding: 1) }
        one("max_pool2d") { try F.maxPool2d($0[0], kernel: 3, stride: 2, padding: 1) }
        one("adaptive_avg_pool2d") { try F.adaptiveAvgPool2d($0[0], (3, 2)) }
        one("avg_pool1d") { try F.avgPool1d($0[0], kernel: 3, stride: 2, padding: 1) }
        one("max_pool1d") { try F.maxPool1d($0[0], kernel: 2) }
        one("interpolate_nearest") { try F.interpolate($0[0], size: (9, 5)) }
        one("interpolate_bilinear") { try F.interpolate($0[0], size: (7, 8), mode: .bilinear(alignCorners: false)) }
        one("interpolate_bilinear_aligned") { try F.interpolate($0[0], size: (7, 8), mode: .bilinear(alignCorners: true)) }
        one("grid_sample_bilinear_zeros") { try F.gridSample($0[0], grid: $0[1]) }
        one("grid_sample_bilinear_border") { try F.gridSample($0[0], grid: $0[1], padding: .border, alignCorners: true) }
        one("grid_sample_bilinear_reflection") { try F.gridSample($0[0], grid: $0[1], padding: .reflection) }
        one("grid_sample_nearest") { try F.gridSample($0[0], grid: $0[1], nearest: true) }
        one("pad_constant") { try F.pad($0[0], [1, 2, 0, 1], value: 0.5) }
        one("pad_reflect") { try F.pad($0[0], [2, 1, 1, 2], mode: .reflect) }
        one("pad_replicate") { try F.pad($0[0], [2, 1, 1, 2], mode: .replicate) }
        one("pad_reflect1d") { try F.pad($0[0], [2, 3], mode: .reflect) }

        one("group_norm") { try F.groupNorm($0[0], groups: 3, weight: $0[1], bias: $0[2]) }
        one("group_norm_plain") { try F.groupNorm($0[0], groups: 2) }
        one("layer_norm") { try F.layerNorm($0[0], normalizedShape: [8], weight: $0[1], bias: $0[2]) }
        one("layer_norm_2d") { try F.layerNorm($0[0], normalizedShape: [5, 8]) }
        one("instance_norm") { try F.instanceNorm($0[0]) }
        one("instance_norm1d") { try F.instanceNorm($0[0]) }
        one("softmax") { try $0[0].softmax(dim: 1) }
        one("log_softmax") { try $0[0].logSoftmax(dim: -1) }
        o["attention"] = {
            let r = try F.attention(q: $0[0], k: $0[1], v: $0[2], mask: $0[3], returnWeights: true)
            return [r.output, r.weights!]
        }
        one("embedding") { try F.embedding($0[1], weight: $0[0]) }
        one("mse_loss") { try F.mseLoss($0[0], $0[1]) }
        one("l1_loss") { try F.l1Loss($0[0], $0[1]) }
        one("cross_entropy") { try F.crossEntropy($0[0], $0[1]) }

        one("sum_all") { try $0[0].sum() }
        one("sum_dims_keep") { try $0[0].sum([0, 2], keepDim: true) }
        one("mean_dim") { try $0[0].mean(dim: 1) }
        one("var_unbiased") { try $0[0].variance([1], unbiased: true) }
        one("var_all_biased") { try $0[0].variance() }
        one("amax") { try $0[0].max([2]) }
        one("amin_keep") { try $0[0].min([0, 1], keepDim: true) }
        one("max_all") { try $0[0].max() }
        one("argmax") { try $0[0].argmax(dim: 1) }
        one("argmin_keep") { try $0[0].argmin(dim: 2, keepDim: true) }
        one("norm_all") { try $0[0].norm() }
        one("norm_l1_dim") { try $0[0].norm(p: 1, [1]) }
        one("cumsum") { try $0[0].cumsum(dim: 2) }
        one("logsumexp") { try $0[0].logsumexp(dim: 1) }

        one("reshape") { try $0[0].reshape(5, 12) }
        one("permute") { try $0[0].permute(2, 0, 1) }
        one("transpose") { try $0[0].transpose(0, 2) }
        one("narrow") { try $0[0].narrow(1, 1, 2) }
        one("slice_step") { try $0[0].slice(2, 1, 5, step: 2) }
        one("select") { try $0[0].select(1, 2) }
        one("cat") { try Tensor.cat([$0[0], $0[1]], dim: 0) }
        one("stack") { try Tensor.stack([$0[0], $0[1]], dim: 1) }
        one("gather") { try $0[0].gather(1, $0[1]) }
        one("index_select") { try $0[0].indexSelect(2, $0[1]) }
        one("scatter_add") { try $0[0].scatterAdd(1, $0[1], $0[2]) }
        one("index_add") { try $0[0].indexAdd(0, $0[1], $0[2]) }
        one("flip") { try $0[0].flip([0, 2]) }
        one("roll") { try $0[0].roll(2, dim: 1) }
        one("tril") { try $0[0].tril(-1) }
        one("triu") { try $0[0].triu(1) }
        one("expand") { try $0[0].expand([3, 4]) }
        one("repeat") { try $0[0].repeated([2, 1, 3]) }
        one("squeeze_unsqueeze") { try $0[0].squeeze(1).unsqueeze(0) }
        one("flatten") { try $0[0].flatten(1, 2) }
        one("masked_select") { try $0[0].maskedSelect($0[0].gt(0.3)) }
        one("one_hot") { try $0[0].oneHot(6) }
        one("cross") { try $0[0].cross($0[1], dim: -1) }
        o["sort_descending"] = { let r = try $0[0].sorted(dim: -1, descending: true); return [r.values, r.indices] }
        o["topk"] = { let r = try $0[0].topk(2, dim: 1); return [r.values, r.indices] }
        o["chunk"] = { try $0[0].chunk(2, dim: 1) }
        o["split"] = { try $0[0].split([1, 3], dim: 1) }
        return o
    }()

    func testEveryOpMatchesPyTorch() throws {
        let file = try Fixture.load("torch_ops")
        let names = try XCTUnwrap(file.metadata["cases"]).split(separator: ",").map(String.init)
        XCTAssertEqual(Set(names), Set(Self.ops.keys), "fixture cases and Swift ops must correspond one to one")
        XCTAssertGreaterThan(names.count, 120)
        var worst = (ratio: 0.0, name: "")
        for name in names {
            guard let op = Self.ops[name] else { continue }
            var inputs: [Tensor] = []
            while let t = file.tensors["\(name).in\(inputs.count)"] { inputs.append(t) }
            var expected: [Tensor] = []
            while let t = file.tensors["\(name).out\(expected.count)"] { expected.append(t) }
            let outputs: [Tensor]
            do { outputs = try op(inputs) } catch { XCTFail("\(name): \(error)"); continue }
            XCTAssertEqual(outputs.count, expected.count, name)
            // The sizes of the summed terms: the op on |inputs| where it is linear in them, else the output's own.
            let absolute = Self.linearInTheirInputs.contains(name)
                ? try op(inputs.map { $0.dtype.isFloatingPoint ? try $0.abs() : $0 }) : outputs
            for (k, (a, e)) in zip(outputs, expected).enumerated() {
                XCTAssertEqual(a.dtype, e.dtype, "\(name) output \(k) dtype")
                guard e.dtype.isFloatingPoint else {
                    try assertClose(a, e, atol: 0, rtol: 0, "\(name) output \(k)") // indices, masks: no rounding
                    continue
                }
                let magnitude = try Swift.max(maxAbs(e), maxAbs(absolute[k]))
                let gate = RoundingBound.float32(accumulating: Self.accumulationLength[name] ?? 1, magnitude: magnitude)
                let diff = try maxAbs(a.to(.float64) - e.to(.float64))
                if diff / gate > worst.ratio { worst = (diff / gate, "\(name) output \(k)") }
                try assertClose(a, e, atol: gate, rtol: 0, "\(name) output \(k)")
            }
        }
        print("torch ops vs PyTorch: worst |diff| / gate \(worst.ratio) (\(worst.name))")
    }

    func maxAbs(_ t: Tensor) throws -> Double { t.count == 0 ? 0 : try t.to(.float64).abs().max().item() }

    /// Terms summed into one output element, for the cases that accumulate (the gate is RoundingBound over that
    /// length; every other case is elementwise, one rounding of libm's or SLEEF's result, or a copy: length 1).
    /// Convolutions count Cin/groups·kernel (+1 for the bias); transposed ones the same, an upper bound.
    static let accumulationLength: [String: Int] = [
        "matmul": 4, "matmul_batched": 4, "matmul_vector": 4, "bmm": 4, "einsum": 4, "linear": 5, "linear_nobias": 4,
        "conv2d": 2 * 9 + 1, "conv2d_dilated": 3 * 9, "conv2d_rect": 2 * 6 + 1, "conv1d": 4 * 3 + 1, "conv1d_groups": 2 * 3,
        "conv_transpose2d": 4 * 16 + 1, "conv_transpose2d_groups": 2 * 9, "conv_transpose2d_rect": 2 * 6 + 1,
        "avg_pool2d": 4, "avg_pool2d_padded": 9, "adaptive_avg_pool2d": 9, "avg_pool1d": 3,
        "interpolate_bilinear": 4, "interpolate_bilinear_aligned": 4, "grid_sample_bilinear_zeros": 4,
        "grid_sample_bilinear_border": 4, "grid_sample_bilinear_reflection": 4, "lerp": 2, "cross": 2,
        "group_norm": 2 * 12, "group_norm_plain": 3 * 12, "layer_norm": 8, "layer_norm_2d": 40, "instance_norm": 20,
        "instance_norm1d": 7, "softmax": 4, "log_softmax": 5, "attention": 4 + 6, "mse_loss": 20, "l1_loss": 20,
        "cross_entropy": 7 + 4, "sum_all": 60, "sum_dims_keep": 15, "mean_dim": 4, "var_unbiased": 4, "var_all_biased": 60,
        "norm_all": 60, "norm_l1_dim": 4, "cumsum": 5, "logsumexp": 4, "scatter_add": 5, "index_add": 3,
    ]

    /// Cases whose output is a sum of products of their float inputs with non-negative weights: on |inputs| they
    /// give the sum of the terms' sizes, the magnitude that rounding scales with when terms cancel.
    static let linearInTheirInputs: Set<String> = [
        "matmul", "matmul_batched", "matmul_vector", "bmm", "einsum", "linear", "linear_nobias", "conv2d", "conv2d_dilated",
        "conv2d_rect", "conv1d", "conv1d_groups", "conv_transpose2d", "conv_transpose2d_groups", "conv_transpose2d_rect",
        "avg_pool2d", "avg_pool2d_padded", "adaptive_avg_pool2d", "avg_pool1d", "interpolate_bilinear",
        "interpolate_bilinear_aligned", "sum_all", "sum_dims_keep", "mean_dim", "cumsum", "scatter_add", "index_add",
    ]

    /// Mirrors ConvNet in torch_ops.py: same attribute names, hence the same checkpoint keys.
    final class ConvNet: Module {
        let conv1: Conv2d, norm: GroupNorm, conv2: Conv2d, up: ConvTranspose2d, head: Conv1d, fc: Linear, ln: LayerNorm

        override init() {
            conv1 = try! Conv2d(3, 8, kernel: 3, padding: 1)
            norm = try! GroupNorm(groups: 4, channels: 8)
            conv2 = try! Conv2d(8, 8, kernel: 3, stride: 2, padding: 1, groups: 2)
            up = try! ConvTranspose2d(8, 4, kernel: 4, stride: 2, padding: 1)
            head = try! Conv1d(4, 2, kernel: 3, padding: 1)
            fc = try! Linear(128, 5)
            ln = try! LayerNorm(5)
            super.init()
        }

        func callAsFunction(_ x: Tensor) throws -> Tensor {
            var h = try norm(conv1(x)).silu()
            h = try conv2(h).silu()
            h = try up(h)
            h = try head(h.reshape([h.size(0), 4, 64]))
            return try ln(fc(h.flatten(1)))
        }
    }

    func testConvNetForwardAndBackwardMatchPyTorch() throws {
        let f = try Fixture.load("torch_convnet").tensors
        let net = ConvNet()
        let weights = f.filter { !$0.key.hasPrefix("grad.") && !["input", "target", "output", "loss"].contains($0.key) }
        XCTAssertEqual(weights.count, 14)
        try net.load(weights, strict: true) // the keys must be exactly PyTorch's state_dict keys
        let x = try f.required("input").clone().requiresGrad(true)
        // Fan-in of conv1, group norm's group, conv2, the transposed conv (Cin·k², an upper bound), conv1d, fc,
        // layer norm; the loss adds its 10 terms, the backward pass runs the chain again and sums the weights'
        // gradients over batch × positions (≤ 128).
        let forward = [28, 128, 37, 128, 13, 129, 5], backward = forward + [10] + forward + [128]
        var worst = 0.0
        func check(_ a: Tensor, _ e: Tensor, _ chain: [Int], _ what: String) throws {
            let gate = try RoundingBound.float32(accumulatingChain: chain, magnitude: maxAbs(e))
            worst = try Swift.max(worst, maxAbs(a.to(.float64) - e.to(.float64)) / gate)
            try assertClose(a, e, atol: gate, rtol: 0, what)
        }
        let out = try net(x)
        try check(out, f.required("output"), forward, "conv net output")
        let loss = try F.mseLoss(out, f.required("target"))
        try check(loss.reshape([1]), f.required("loss"), forward + [10], "conv net loss")
        try loss.backward()
        try check(XCTUnwrap(x.grad), f.required("grad.input"), backward, "input gradient")
        let params = net.namedParameters()
        XCTAssertEqual(params.count, 14)
        for (key, p) in params {
            try check(XCTUnwrap(p.grad, key), f.required("grad.\(key)"), backward, "gradient of \(key)")
        }
        print("conv net vs PyTorch: worst |diff| / gate \(worst)")
    }

    /// torch.nn.GRU key → the Swift GRU's key (`weight_ih_l1_reverse` → `reverseLayers.1.weightIH`).
    static func swiftGRUKey(_ torchKey: String) -> String {
        var k = torchKey
        let reverse = k.hasSuffix("_reverse")
        if reverse { k = String(k.dropLast("_reverse".count)) }
        let parts = k.split(separator: "_") // weight, ih, l0
        let name = (parts[0] == "weight" ? "weight" : "bias") + parts[1].uppercased()
        return "\(reverse ? "reverseLayers" : "layers").\(parts[2].dropFirst()).\(name)"
    }

    func testGRUMatchesPyTorch() throws {
        let f = try Fixture.load("torch_gru").tensors
        for (prefix, layers, bidirectional, batchFirst) in [("bi", 2, true, true), ("uni", 1, false, false)] {
            let gru = try GRU(inputSize: 5, hiddenSize: 6, numLayers: layers, batchFirst: batchFirst, bidirectional: bidirectional)
            var state: [String: Tensor] = [:]
            for (k, v) in f where k.hasPrefix("\(prefix).") && (k.contains(".weight_") || k.contains(".bias_")) && !k.contains(".grad.") {
                state[Self.swiftGRUKey(String(k.dropFirst(prefix.count + 1)))] = v
            }
            try gru.load(state, strict: true)
            let x = try f.required("\(prefix).x").clone().requiresGrad(true)
            // Each of the 7 steps of each layer sums input (5, or 12 from a bidirectional layer below) and hidden (6)
            // features plus two biases; the backward pass runs the chain back and sums weight gradients over the
            // 2 × 7 steps, the objective its ≤ 2·7·12 + 2·2·6 terms.
            let forward = (0..<layers).flatMap { l in Array(repeating: (l == 0 ? 5 : 12) + 6 + 2, count: 7) }
            let backward = forward + [2 * 7 * 12 + 24] + forward + [2 * 7]
            var worst = 0.0
            func check(_ a: Tensor, _ e: Tensor, _ chain: [Int], _ what: String) throws {
                let gate = try RoundingBound.float32(accumulatingChain: chain, magnitude: maxAbs(e))
                worst = try Swift.max(worst, maxAbs(a.to(.float64) - e.to(.float64)) / gate)
                try assertClose(a, e, atol: gate, rtol: 0, what)
            }
            let (out, hn) = try gru(x, f["\(prefix).h0"])
            try check(out, f.required("\(prefix).out"), forward, "\(prefix) GRU output")
            try check(hn, f.required("\(prefix).hn"), forward, "\(prefix) GRU final state")
            let objective = try (out * f.required("\(prefix).wo")).sum() + (hn * f.required("\(prefix).wh")).sum()
            try objective.backward()
            try check(XCTUnwrap(x.grad), f.required("\(prefix).grad.x"), backward, "\(prefix) GRU input gradient")
            for (k, v) in f where k.hasPrefix("\(prefix).grad.") && k != "\(prefix).grad.x" {
                let key = Self.swiftGRUKey(String(k.dropFirst("\(prefix).grad.".count)))
                let p = try XCTUnwrap(gru.stateDict()[key], key)
                try check(XCTUnwrap(p.grad, key), v, backward, "\(prefix) GRU gradient of \(key)")
            }
            print("\(prefix) GRU vs PyTorch: worst |diff| / gate \(worst)")
        }
    }

    func testGRUChecksItsInputs() throws {
        let gru = try GRU(inputSize: 3, hiddenSize: 2)
        XCTAssertTrue(torchErrorMessage { _ = try gru(Tensor.zeros([2, 4, 5])) }.contains("expects 3 input features"))
        XCTAssertTrue(torchErrorMessage { _ = try gru(Tensor.zeros([2, 4, 3]), Tensor.zeros([2, 2, 2])) }.contains("h0"))
        XCTAssertTrue(torchErrorMessage { _ = try gru(Tensor.zeros([4, 3])) }.contains("3-D"))
    }
}
