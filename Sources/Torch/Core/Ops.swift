import CTorch
import Foundation

// Elementwise, linear-algebra, reduction and shape operations. Every op throws the libtorch message
// (a shape mismatch, say) as a TorchError instead of aborting the process.

extension Tensor {
    fileprivate func unary(_ op: Int32, _ name: String) throws -> Tensor {
        try Tensor.check(tg_unary(op, handle), name)
    }

    public func neg() throws -> Tensor { try unary(Int32(TG_NEG), "neg") }
    public func exp() throws -> Tensor { try unary(Int32(TG_EXP), "exp") }
    public func log() throws -> Tensor { try unary(Int32(TG_LOG), "log") }
    public func sqrt() throws -> Tensor { try unary(Int32(TG_SQRT), "sqrt") }
    public func rsqrt() throws -> Tensor { try unary(Int32(TG_RSQRT), "rsqrt") }
    public func abs() throws -> Tensor { try unary(Int32(TG_ABS), "abs") }
    public func sin() throws -> Tensor { try unary(Int32(TG_SIN), "sin") }
    public func cos() throws -> Tensor { try unary(Int32(TG_COS), "cos") }
    public func tanh() throws -> Tensor { try unary(Int32(TG_TANH), "tanh") }
    public func sigmoid() throws -> Tensor { try unary(Int32(TG_SIGMOID), "sigmoid") }
    public func relu() throws -> Tensor { try unary(Int32(TG_RELU), "relu") }
    public func silu() throws -> Tensor { try unary(Int32(TG_SILU), "silu") }
    public func gelu(approximateTanh: Bool = false) throws -> Tensor {
        try unary(Int32(approximateTanh ? TG_GELU_TANH : TG_GELU), "gelu")
    }
    public func square() throws -> Tensor { try unary(Int32(TG_SQUARE), "square") }
    public func sign() throws -> Tensor { try unary(Int32(TG_SIGN), "sign") }
    public func floor() throws -> Tensor { try unary(Int32(TG_FLOOR), "floor") }
    public func ceil() throws -> Tensor { try unary(Int32(TG_CEIL), "ceil") }
    public func round() throws -> Tensor { try unary(Int32(TG_ROUND), "round") }
    public func erf() throws -> Tensor { try unary(Int32(TG_ERF), "erf") }
    public func log1p() throws -> Tensor { try unary(Int32(TG_LOG1P), "log1p") }
    public func expm1() throws -> Tensor { try unary(Int32(TG_EXPM1), "expm1") }
    public func reciprocal() throws -> Tensor { try unary(Int32(TG_RECIPROCAL), "reciprocal") }
    public func logicalNot() throws -> Tensor { try unary(Int32(TG_LOGICAL_NOT), "logical_not") }
    public func acos() throws -> Tensor { try unary(Int32(TG_ACOS), "acos") }
    public func asin() throws -> Tensor { try unary(Int32(TG_ASIN), "asin") }
    public func atan() throws -> Tensor { try unary(Int32(TG_ATAN), "atan") }
    public func leakyRelu(_ slope: Double = 0.01) throws -> Tensor { try Tensor.check(tg_leaky_relu(handle, slope), "leaky_relu") }

    // MARK: binary

    fileprivate func binary(_ op: Int32, _ other: Tensor, _ name: String) throws -> Tensor {
        try Tensor.check(tg_binary(op, handle, other.handle), "\(name)(\(shape), \(other.shape))")
    }
    fileprivate func binaryScalar(_ op: Int32, _ s: Double, _ name: String) throws -> Tensor {
        try Tensor.check(tg_binary_scalar(op, handle, s), name)
    }

    public func pow(_ e: Double) throws -> Tensor { try binaryScalar(Int32(TG_POW), e, "pow") }
    public func pow(_ e: Tensor) throws -> Tensor { try binary(Int32(TG_POW), e, "pow") }
    public func maximum(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_MAXIMUM), o, "maximum") }
    public func minimum(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_MINIMUM), o, "minimum") }
    public func maximum(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_MAXIMUM), s, "clamp_min") }
    public func minimum(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_MINIMUM), s, "clamp_max") }
    public func atan2(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_ATAN2), o, "atan2") }
    public func eq(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_EQ), o, "eq") }
    public func ne(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_NE), o, "ne") }
    public func lt(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_LT), o, "lt") }
    public func le(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_LE), o, "le") }
    public func gt(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_GT), o, "gt") }
    public func ge(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_GE), o, "ge") }
    public func eq(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_EQ), s, "eq") }
    public func lt(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_LT), s, "lt") }
    public func le(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_LE), s, "le") }
    public func gt(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_GT), s, "gt") }
    public func ge(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_GE), s, "ge") }
    public func logicalAnd(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_LOGICAL_AND), o, "logical_and") }
    public func logicalOr(_ o: Tensor) throws -> Tensor { try binary(Int32(TG_LOGICAL_OR), o, "logical_or") }
    public func remainder(_ s: Double) throws -> Tensor { try binaryScalar(Int32(TG_REMAINDER), s, "remainder") }

    public func clamp(min lo: Double? = nil, max hi: Double? = nil) throws -> Tensor {
        try Tensor.check(tg_clamp(handle, lo ?? 0, hi ?? 0, lo == nil ? 0 : 1, hi == nil ? 0 : 1), "clamp")
    }
    public static func `where`(_ cond: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try check(tg_where(cond.handle, a.handle, b.handle), "where")
    }
    public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
        try Tensor.check(tg_masked_fill(handle, mask.handle, value), "masked_fill")
    }
    public func lerp(_ end: Tensor, _ weight: Double) throws -> Tensor {
        try Tensor.check(tg_lerp(handle, end.handle, weight), "lerp")
    }

    // MARK: linear algebra

    public func matmul(_ o: Tensor) throws -> Tensor {
        try Tensor.check(tg_matmul(handle, o.handle), "matmul(\(shape), \(o.shape))")
    }
    public func bmm(_ o: Tensor) throws -> Tensor { try Tensor.check(tg_bmm(handle, o.handle), "bmm(\(shape), \(o.shape))") }
    public static func einsum(_ equation: String, _ operands: [Tensor]) throws -> Tensor {
        let hs: [OpaquePointer?] = operands.map { $0.handle }
        return try check(tg_einsum(equation, hs, Int32(hs.count)), "einsum(\(equation))")
    }

    // MARK: reductions

    fileprivate func reduce(_ dims: [Int], _ keep: Bool, _ name: String,
                            _ f: (OpaquePointer, UnsafePointer<Int64>?, Int32, Int32) -> OpaquePointer?) throws -> Tensor {
        let d = dims.map { Int64($0) }
        return try d.withUnsafeBufferPointer { try Tensor.check(f(handle, $0.baseAddress, Int32(d.count), keep ? 1 : 0), name) }
    }
    /// Sum over `dims` (all elements when empty).
    public func sum(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(dims, keepDim, "sum", tg_sum) }
    public func sum(dim: Int, keepDim: Bool = false) throws -> Tensor { try sum([dim], keepDim: keepDim) }
    public func mean(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(dims, keepDim, "mean", tg_mean) }
    public func mean(dim: Int, keepDim: Bool = false) throws -> Tensor { try mean([dim], keepDim: keepDim) }
    public func max(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(dims, keepDim, "amax", tg_amax) }
    public func min(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(dims, keepDim, "amin", tg_amin) }
    public func variance(_ dims: [Int] = [], unbiased: Bool = false, keepDim: Bool = false) throws -> Tensor {
        let d = dims.map { Int64($0) }
        return try Tensor.check(tg_var(handle, d, Int32(d.count), unbiased ? 1 : 0, keepDim ? 1 : 0), "var")
    }
    public func norm(p: Double = 2, _ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        let d = dims.map { Int64($0) }
        return try Tensor.check(tg_norm(handle, p, d, Int32(d.count), keepDim ? 1 : 0), "norm")
    }
    public func argmax(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try Tensor.check(tg_argmax(handle, Int64(dim), keepDim ? 1 : 0), "argmax")
    }
    public func argmin(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try Tensor.check(tg_argmin(handle, Int64(dim), keepDim ? 1 : 0), "argmin")
    }
    public func cumsum(dim: Int) throws -> Tensor { try Tensor.check(tg_cumsum(handle, Int64(dim)), "cumsum") }
    public func logsumexp(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try Tensor.check(tg_logsumexp(handle, Int64(dim), keepDim ? 1 : 0), "logsumexp")
    }
    public func softmax(dim: Int) throws -> Tensor { try Tensor.check(tg_softmax(handle, Int64(dim)), "softmax") }
    public func logSoftmax(dim: Int) throws -> Tensor { try Tensor.check(tg_log_softmax(handle, Int64(dim)), "log_softmax") }

    // MARK: shape

    public func reshape(_ shape: [Int]) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try Tensor.check(tg_reshape(handle, d, Int32(d.count)), "reshape(\(self.shape) -> \(shape))")
    }
    public func reshape(_ shape: Int...) throws -> Tensor { try reshape(shape) }
    public func permute(_ dims: [Int]) throws -> Tensor {
        let d = dims.map { Int64($0) }
        return try Tensor.check(tg_permute(handle, d, Int32(d.count)), "permute(\(dims))")
    }
    public func permute(_ dims: Int...) throws -> Tensor { try permute(dims) }
    public func transpose(_ a: Int, _ b: Int) throws -> Tensor {
        try Tensor.check(tg_transpose(handle, Int64(a), Int64(b)), "transpose")
    }
    public func expand(_ shape: [Int]) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try Tensor.check(tg_expand(handle, d, Int32(d.count)), "expand(\(self.shape) -> \(shape))")
    }
    public func repeated(_ reps: [Int]) throws -> Tensor {
        let d = reps.map { Int64($0) }
        return try Tensor.check(tg_repeat(handle, d, Int32(d.count)), "repeat")
    }
    public func squeeze(_ dim: Int) throws -> Tensor { try Tensor.check(tg_squeeze(handle, Int64(dim)), "squeeze") }
    public func unsqueeze(_ dim: Int) throws -> Tensor { try Tensor.check(tg_unsqueeze(handle, Int64(dim)), "unsqueeze") }
    public func flatten(_ start: Int = 0, _ end: Int = -1) throws -> Tensor {
        try Tensor.check(tg_flatten(handle, Int64(start), Int64(end)), "flatten")
    }
    public func narrow(_ dim: Int, _ start: Int, _ length: Int) throws -> Tensor {
        try Tensor.check(tg_narrow(handle, Int64(dim), Int64(start), Int64(length)), "narrow(dim \(dim), \(start), \(length)) of \(shape)")
    }
    public func slice(_ dim: Int, _ start: Int, _ end: Int, step: Int = 1) throws -> Tensor {
        try Tensor.check(tg_slice(handle, Int64(dim), Int64(start), Int64(end), Int64(step)), "slice")
    }
    public func select(_ dim: Int, _ index: Int) throws -> Tensor {
        try Tensor.check(tg_select(handle, Int64(dim), Int64(index)), "select(dim \(dim), \(index)) of \(shape)")
    }
    /// Splits `dim` into pieces of the given sizes.
    public func split(_ sizes: [Int], dim: Int) throws -> [Tensor] {
        let total = try checkedSize(dim)
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == total else {
            throw TorchError("split sizes \(sizes) do not add up to \(total) (dimension \(dim) of \(shape))")
        }
        var out: [Tensor] = []
        var start = 0
        for s in sizes { out.append(try narrow(dim, start, s)); start += s }
        return out
    }
    public func chunk(_ n: Int, dim: Int) throws -> [Tensor] {
        let total = try checkedSize(dim)
        guard n > 0, total % n == 0 else { throw TorchError("cannot chunk \(total) into \(n) equal parts") }
        return try split([Int](repeating: total / n, count: n), dim: dim)
    }
    public func indexSelect(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.check(tg_index_select(handle, Int64(dim), index.handle), "index_select(dim \(dim)) of \(shape) with index \(index.shape)")
    }
    public func gather(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.check(tg_gather(handle, Int64(dim), index.handle), "gather(dim \(dim)) of \(shape) with index \(index.shape)")
    }
    public func scatterAdd(_ dim: Int, _ index: Tensor, _ src: Tensor) throws -> Tensor {
        try Tensor.check(tg_scatter_add(handle, Int64(dim), index.handle, src.handle), "scatter_add(dim \(dim)) into \(shape)")
    }
    public func indexAdd(_ dim: Int, _ index: Tensor, _ src: Tensor) throws -> Tensor {
        try Tensor.check(tg_index_add(handle, Int64(dim), index.handle, src.handle), "index_add")
    }
    public func maskedSelect(_ mask: Tensor) throws -> Tensor {
        try Tensor.check(tg_masked_select(handle, mask.handle), "masked_select")
    }
    public static func cat(_ ts: [Tensor], dim: Int) throws -> Tensor {
        let hs: [OpaquePointer?] = ts.map { $0.handle }
        return try check(tg_cat(hs, Int32(hs.count), Int64(dim)), "cat(\(ts.map { $0.shape }), dim \(dim))")
    }
    public static func stack(_ ts: [Tensor], dim: Int = 0) throws -> Tensor {
        let hs: [OpaquePointer?] = ts.map { $0.handle }
        return try check(tg_stack(hs, Int32(hs.count), Int64(dim)), "stack(\(ts.map { $0.shape }))")
    }
    public func flip(_ dims: [Int]) throws -> Tensor {
        let d = dims.map { Int64($0) }
        return try Tensor.check(tg_flip(handle, d, Int32(d.count)), "flip")
    }
    public func roll(_ shift: Int, dim: Int) throws -> Tensor { try Tensor.check(tg_roll(handle, Int64(shift), Int64(dim)), "roll") }
    public func tril(_ k: Int = 0) throws -> Tensor { try Tensor.check(tg_tril(handle, Int64(k)), "tril") }
    public func triu(_ k: Int = 0) throws -> Tensor { try Tensor.check(tg_triu(handle, Int64(k)), "triu") }
    public func oneHot(_ classes: Int) throws -> Tensor { try Tensor.check(tg_one_hot(handle, Int64(classes)), "one_hot") }
    public func cross(_ o: Tensor, dim: Int = -1) throws -> Tensor { try Tensor.check(tg_cross(handle, o.handle, Int64(dim)), "cross") }
    public func sorted(dim: Int = -1, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        var idx: OpaquePointer? = nil
        let v = try Tensor.check(tg_sort(handle, Int64(dim), descending ? 1 : 0, &idx), "sort")
        return (v, try Tensor.check(idx, "sort indices"))
    }
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        var idx: OpaquePointer? = nil
        let v = try Tensor.check(tg_topk(handle, Int64(k), Int64(dim), largest ? 1 : 0, &idx), "topk")
        return (v, try Tensor.check(idx, "topk indices"))
    }
}

// MARK: operators (throwing, broadcasting)

public func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TG_ADD), b, "add") }
public func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TG_SUB), b, "sub") }
public func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TG_MUL), b, "mul") }
public func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(Int32(TG_DIV), b, "div") }
public func + (a: Tensor, s: Double) throws -> Tensor { try a.binaryScalar(Int32(TG_ADD), s, "add") }
public func - (a: Tensor, s: Double) throws -> Tensor { try a.binaryScalar(Int32(TG_SUB), s, "sub") }
public func * (a: Tensor, s: Double) throws -> Tensor { try a.binaryScalar(Int32(TG_MUL), s, "mul") }
public func / (a: Tensor, s: Double) throws -> Tensor { try a.binaryScalar(Int32(TG_DIV), s, "div") }
public func + (s: Double, a: Tensor) throws -> Tensor { try a.binaryScalar(Int32(TG_ADD), s, "add") }
public func * (s: Double, a: Tensor) throws -> Tensor { try a.binaryScalar(Int32(TG_MUL), s, "mul") }
public func - (s: Double, a: Tensor) throws -> Tensor { try Tensor.check(tg_rsub_scalar(s, a.handle), "rsub") }
public func / (s: Double, a: Tensor) throws -> Tensor { try Tensor.check(tg_rdiv_scalar(s, a.handle), "rdiv") }
public prefix func - (a: Tensor) throws -> Tensor { try a.neg() }
