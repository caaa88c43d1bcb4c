import Torch
import Foundation

/// A feed-forward TFLite graph re-implemented on libtorch: MediaPipe's BlazeFace, Face Mesh and iris
/// networks are plain graphs of CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, PRELU, PAD, MAX_POOL_2D, RESHAPE
/// and CONCATENATION. `scripts/analysis/convert_mediapipe.py` writes the weights (PyTorch layout, keys
/// `layers.N.weight` / `.bias` / `.alpha` = this module's parameter paths) and the topology (JSON
/// metadata "graph"); this module rebuilds the graph and runs each operator with TFLite's semantics:
/// SAME padding splits odd totals with the extra pixel after (bottom/right), PAD and RESHAPE act on the
/// NHWC layout, fused activations apply after the op. Tensors run NCHW internally.
public final class MediaPipeGraph: Module {
    public let layers: [Module]
    private let _ops: [GraphOp]
    private let _input: Int
    private let _outputs: [Int]
    /// NHWC shape of the input, e.g. [1, 128, 128, 3].
    public let inputShape: [Int]
    public let outputShapes: [[Int]]

    /// Loads a converted model; `name` and `script` go into error messages.
    public init(contentsOf url: URL) throws {
        let file = try Safetensors.load(url)
        guard let json = file.metadata["graph"], let data = json.data(using: .utf8),
              let spec = try? JSONDecoder().decode(GraphSpec.self, from: data) else {
            throw FaceAnalysisError.modelInvalid("\(url.lastPathComponent) has no graph metadata (re-run scripts/analysis/install_mediapipe.sh)")
        }
        var layers: [Module] = []
        var ops: [GraphOp] = []
        for (k, op) in spec.ops.enumerated() {
            let g = try GraphOp(index: k, spec: op, tensors: file.tensors)
            ops.append(g)
            layers.append(g.layer)
        }
        self.layers = layers
        _ops = ops
        _input = spec.input
        _outputs = spec.outputs
        inputShape = spec.input_shape
        outputShapes = spec.output_shapes
        super.init()
        do { try load(file.tensors, strict: true) } catch {
            throw FaceAnalysisError.modelInvalid("\(url.lastPathComponent): \(error)")
        }
        eval()
    }

    /// Runs the graph on an N×C×H×W input; returns the outputs in TFLite's shapes (NHWC order for rank 4).
    public func callAsFunction(_ x: Tensor) throws -> [Tensor] {
        let want = [inputShape[0], inputShape[3], inputShape[1], inputShape[2]]
        guard x.shape.count == 4, Array(x.shape.dropFirst()) == Array(want.dropFirst()) else {
            throw FaceAnalysisError.invalidInput("network input must be N×\(want[1])×\(want[2])×\(want[3]), got \(x.shape)")
        }
        return try Torch.noGrad {
            var values: [Int: Tensor] = [_input: x]
            for op in _ops {
                let ins = try op.inputs.map { id -> Tensor in
                    guard let t = values[id] else { throw FaceAnalysisError.modelInvalid("tensor \(id) used before it is computed") }
                    return t
                }
                values[op.output] = try op.run(ins)
            }
            return try _outputs.map { id in
                guard let t = values[id] else { throw FaceAnalysisError.modelInvalid("output tensor \(id) not computed") }
                return t.rank == 4 ? try t.permute(0, 2, 3, 1).contiguous() : t
            }
        }
    }
}

// MARK: - graph description (written by convert_mediapipe.py)

struct GraphSpec: Decodable {
    struct Op: Decodable {
        var op: String
        var inputs: [Int]
        var output: Int
        var options: [String: OptionValue]
        var pads: [[Int]]?
        var shape: [Int]?
    }
    enum OptionValue: Decodable {
        case int(Int), string(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
        }
        var int: Int? { if case .int(let i) = self { return i }; return nil }
        var string: String? { if case .string(let s) = self { return s }; return nil }
    }
    var input: Int
    var input_shape: [Int]
    var outputs: [Int]
    var output_shapes: [[Int]]
    var ops: [Op]
}

/// Weights of one operator (none for ADD, PAD, ...).
final class GraphLayer: Module {
    let weight: Tensor?
    let bias: Tensor?
    let alpha: Tensor?
    init(weight: [Int]?, bias: [Int]?, alpha: [Int]?) throws {
        self.weight = try weight.map { try Tensor.zeros($0) }
        self.bias = try bias.map { try Tensor.zeros($0) }
        self.alpha = try alpha.map { try Tensor.zeros($0) }
        super.init()
    }
}

/// One TFLite operator with its options, run on NCHW tensors.
struct GraphOp {
    enum Kind { case conv, depthwise, add, relu, prelu, pad, maxPool, reshape, concat }
    let kind: Kind
    let inputs: [Int]
    let output: Int
    let layer: GraphLayer
    var stride = (1, 1), dilation = (1, 1), filter = (1, 1)
    var same = false
    var reluAfter = false
    var pads: [Int] = []
    var shape: [Int] = []
    var axis = 0

    init(index k: Int, spec: GraphSpec.Op, tensors: [String: Tensor]) throws {
        inputs = spec.inputs
        output = spec.output
        func opt(_ key: String) -> Int { spec.options[key]?.int ?? 1 }
        let activation = spec.options["activation"]?.string ?? "NONE"
        guard activation == "NONE" || activation == "RELU" else {
            throw FaceAnalysisError.modelInvalid("operator \(k) (\(spec.op)): fused activation \(activation) not supported")
        }
        reluAfter = activation == "RELU"
        same = spec.options["padding"]?.string == "SAME"
        func shapeOf(_ name: String) throws -> [Int] {
            guard let t = tensors["layers.\(k).\(name)"] else {
                throw FaceAnalysisError.modelInvalid("operator \(k) (\(spec.op)): missing tensor layers.\(k).\(name)")
            }
            return t.shape
        }
        switch spec.op {
        case "CONV_2D", "DEPTHWISE_CONV_2D":
            kind = spec.op == "CONV_2D" ? .conv : .depthwise
            let w = try shapeOf("weight")
            layer = try GraphLayer(weight: w, bias: try shapeOf("bias"), alpha: nil)
            stride = (opt("stride_h"), opt("stride_w"))
            dilation = (opt("dilation_h"), opt("dilation_w"))
            filter = (w[2], w[3])
        case "PRELU":
            kind = .prelu
            layer = try GraphLayer(weight: nil, bias: nil, alpha: try shapeOf("alpha"))
        case "MAX_POOL_2D":
            kind = .maxPool
            stride = (opt("stride_h"), opt("stride_w"))
            filter = (opt("filter_h"), opt("filter_w"))
            layer = try GraphLayer(weight: nil, bias: nil, alpha: nil)
        case "PAD":
            kind = .pad
            guard let p = spec.pads, p.count == 4, p.allSatisfy({ $0.count == 2 }) else {
                throw FaceAnalysisError.modelInvalid("operator \(k): PAD needs 4×2 paddings")
            }
            // NHWC paddings -> torch's (W, H, C, N) order on NCHW.
            pads = [p[2][0], p[2][1], p[1][0], p[1][1], p[3][0], p[3][1], p[0][0], p[0][1]]
            layer = try GraphLayer(weight: nil, bias: nil, alpha: nil)
        case "RESHAPE":
            kind = .reshape
            shape = spec.shape ?? []
            layer = try GraphLayer(weight: nil, bias: nil, alpha: nil)
        case "CONCATENATION":
            kind = .concat
            axis = spec.options["axis"]?.int ?? 0
            layer = try GraphLayer(weight: nil, bias: nil, alpha: nil)
        case "ADD": kind = .add; layer = try GraphLayer(weight: nil, bias: nil, alpha: nil)
        case "RELU": kind = .relu; layer = try GraphLayer(weight: nil, bias: nil, alpha: nil)
        default: throw FaceAnalysisError.modelInvalid("operator \(k): \(spec.op) is not supported")
        }
    }

    /// TFLite SAME padding along one axis: (before, after), the odd pixel after.
    static func samePadding(size: Int, kernel: Int, stride: Int, dilation: Int) -> (Int, Int) {
        let out = (size + stride - 1) / stride
        let total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
        return (total / 2, total - total / 2)
    }

    private func padSame(_ x: Tensor, value: Double) throws -> Tensor {
        guard same else { return x }
        let (t, b) = GraphOp.samePadding(size: x.size(2), kernel: filter.0, stride: stride.0, dilation: dilation.0)
        let (l, r) = GraphOp.samePadding(size: x.size(3), kernel: filter.1, stride: stride.1, dilation: dilation.1)
        if t == 0 && b == 0 && l == 0 && r == 0 { return x }
        return try F.pad(x, [l, r, t, b], value: value)
    }

    func run(_ ins: [Tensor]) throws -> Tensor {
        var y: Tensor
        switch kind {
        case .conv, .depthwise:
            let x = try padSame(ins[0], value: 0)
            y = try F.conv2d(x, layer.weight!, layer.bias, stride: stride, padding: (0, 0), dilation: dilation,
                             groups: kind == .depthwise ? x.size(1) : 1)
        case .add: y = try ins[0] + ins[1]
        case .relu: y = try ins[0].relu()
        case .prelu:
            let a = try layer.alpha!.reshape([1, -1, 1, 1])
            y = try ins[0].relu() - (a * (ins[0].neg().relu()))
        case .pad: y = try F.pad(ins[0], pads)
        case .maxPool:
            guard filter.0 == filter.1, stride.0 == stride.1 else { throw FaceAnalysisError.modelInvalid("non-square max pool") }
            y = try F.maxPool2d(padSame(ins[0], value: -Double.infinity), kernel: filter.0, stride: stride.0)
        case .reshape:
            let nhwc = ins[0].rank == 4 ? try ins[0].permute(0, 2, 3, 1) : ins[0]
            y = try nhwc.contiguous().reshape(shape)
            if shape.count == 4 { y = try y.permute(0, 3, 1, 2) }
        case .concat:
            let rank = ins[0].rank
            let a = axis < 0 ? axis + rank : axis
            let dim = rank == 4 ? [0, 2, 3, 1][a] : a
            y = try Tensor.cat(ins, dim: dim)
        }
        return reluAfter ? try y.relu() : y
    }
}
