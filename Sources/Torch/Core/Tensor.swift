import CTorch
import Foundation

/// An error raised by libtorch (caught in the C shim) or by a precondition in the Swift layer.
public struct TorchError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "TorchError: \(message)" }

    /// The shim's thread-local last error, or `fallback` when it is empty.
    static func last(_ context: @autoclosure () -> String) -> TorchError {
        // Read the message before evaluating the context: describing a tensor calls the shim again.
        let msg = String(cString: tg_last_error())
        let ctx = context()
        return TorchError(msg.isEmpty ? "\(ctx) failed" : "\(ctx): \(msg)")
    }
}

public enum DType: Int32, Sendable, CaseIterable {
    case float32 = 0, float64 = 1, int64 = 2, int32 = 3, uint8 = 4, bool = 5, float16 = 6, bfloat16 = 7

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .uint8, .bool: return 1
        }
    }
    public var isFloatingPoint: Bool { [.float32, .float64, .float16, .bfloat16].contains(self) }
}

/// Where a tensor lives. `cuda(k)` is usable only when libtorch was built with CUDA (Debian's is CPU-only).
public enum Device: Equatable, Sendable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    var code: Int32 {
        switch self {
        case .cpu: return -1
        case .cuda(let k): return Int32(k)
        }
    }
    init(code: Int32) { self = code < 0 ? .cpu : .cuda(Int(code)) }

    public var description: String {
        switch self {
        case .cpu: return "cpu"
        case .cuda(let k): return "cuda:\(k)"
        }
    }

    /// Parses "cpu", "cuda", "cuda:1".
    public init(parsing s: String) throws {
        if s == "cpu" { self = .cpu; return }
        if s == "cuda" { self = .cuda(0); return }
        if s.hasPrefix("cuda:"), let k = Int(s.dropFirst(5)), k >= 0 { self = .cuda(k); return }
        throw TorchError("unknown device '\(s)' (use cpu, cuda or cuda:N)")
    }

    /// Throws unless this device can hold tensors in this process (always true for the CPU).
    public func validate() throws {
        if case .cuda(let k) = self {
            let n = Torch.cudaDeviceCount
            guard n > 0 else {
                throw TorchError("device \(self) requested, but this libtorch was built without CUDA support (use cpu)")
            }
            guard k >= 0 && k < n else { throw TorchError("device \(self) requested, but only \(n) CUDA device(s) are visible") }
        }
    }

    /// The best device available: CUDA when libtorch has it, else the CPU.
    public static var best: Device { Torch.cudaDeviceCount > 0 ? .cuda(0) : .cpu }
}

/// A libtorch tensor. The handle is owned by this object and freed in `deinit`.
public final class Tensor: @unchecked Sendable {
    let handle: OpaquePointer

    init(owning handle: OpaquePointer) { self.handle = handle }
    deinit { tg_free(handle) }

    /// Wraps a shim result, turning NULL into the shim's last error.
    static func check(_ h: OpaquePointer?, _ what: @autoclosure () -> String) throws -> Tensor {
        guard let h else { throw TorchError.last(what()) }
        return Tensor(owning: h)
    }

    static func checkStatus(_ rc: Int32, _ what: @autoclosure () -> String) throws {
        if rc < 0 { throw TorchError.last(what()) }
    }

    // MARK: metadata

    public var shape: [Int] {
        let rank = Int(tg_ndim(handle))
        guard rank > 0 else { return [] }
        // Sized from the rank: tg_shape writes exactly `rank` values.
        var dims = [Int64](repeating: 0, count: rank)
        let n = tg_shape(handle, &dims)
        return dims.prefix(Int(Swift.max(n, 0))).map { Int($0) }
    }
    public var rank: Int { Int(tg_ndim(handle)) }
    public var count: Int { Int(tg_numel(handle)) }
    /// The element type. A tensor of a dtype the engine does not map (none of its ops produce one)
    /// reports `.float32` here; `supportedDType` tells the two apart and data access throws for it.
    public var dtype: DType { supportedDType ?? .float32 }
    public var supportedDType: DType? { DType(rawValue: tg_dtype(handle)) }
    public var device: Device { Device(code: tg_device(handle)) }
    public var isContiguous: Bool { tg_is_contiguous(handle) == 1 }

    /// The size of dimension `dim` (negative counts from the end). A dimension outside the rank is a
    /// programming error and stops with a message naming the shape.
    public func size(_ dim: Int) -> Int {
        let s = shape
        let d = dim < 0 ? dim + s.count : dim
        precondition(d >= 0 && d < s.count, "size(\(dim)) of a tensor with shape \(s)")
        return s[d]
    }

    /// The size of dimension `dim`, throwing when it is outside the rank.
    public func checkedSize(_ dim: Int) throws -> Int {
        let s = shape
        let d = dim < 0 ? dim + s.count : dim
        guard d >= 0 && d < s.count else { throw TorchError("dimension \(dim) is out of range for shape \(s)") }
        return s[d]
    }

    /// The element count of `shape`, or an error for negative or overflowing dimensions.
    static func elementCount(_ shape: [Int]) throws -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw TorchError("negative dimension in shape \(shape)") }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { throw TorchError("shape \(shape) has too many elements") }
            n = p
        }
        return n
    }

    // MARK: creation

    /// Copies `data` into a new CPU tensor of `shape`.
    public convenience init<T: TensorElement>(_ data: [T], shape: [Int]) throws {
        let n = try Tensor.elementCount(shape)
        guard n == data.count else {
            throw TorchError("shape \(shape) needs \(n) elements, got \(data.count)")
        }
        let dims = shape.map { Int64($0) }
        let h = data.withUnsafeBytes { buf in
            tg_from_data(buf.baseAddress, dims, Int32(dims.count), T.dtype.rawValue)
        }
        guard let h else { throw TorchError.last("tensor from data") }
        self.init(owning: h)
    }

    /// A 1-D tensor from an array.
    public convenience init<T: TensorElement>(_ data: [T]) throws { try self.init(data, shape: [data.count]) }

    /// A 0-D (scalar) tensor.
    public convenience init(scalar: Float) throws { try self.init([scalar], shape: []) }

    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try check(tg_zeros(d, Int32(d.count), dtype.rawValue, device.code), "zeros\(shape)")
    }
    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try check(tg_ones(d, Int32(d.count), dtype.rawValue, device.code), "ones\(shape)")
    }
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try check(tg_full(d, Int32(d.count), value, dtype.rawValue, device.code), "full\(shape)")
    }
    public static func arange(_ start: Double, _ end: Double, step: Double = 1, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try check(tg_arange(start, end, step, dtype.rawValue, device.code), "arange")
    }
    public static func linspace(_ start: Double, _ end: Double, steps: Int, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try check(tg_linspace(start, end, Int64(steps), dtype.rawValue, device.code), "linspace")
    }
    public static func eye(_ n: Int, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try check(tg_eye(Int64(n), dtype.rawValue, device.code), "eye")
    }

    // MARK: data out

    /// The elements as a flat Swift array (row-major), converting dtype if needed.
    public func toArray<T: TensorElement>(_: T.Type = T.self) throws -> [T] {
        guard let own = supportedDType else { throw TorchError("toArray: the tensor's dtype has no Swift mapping") }
        let src = own == T.dtype ? self : try to(T.dtype)
        let n = src.count
        var out = [T](repeating: T.zero, count: n)
        let rc = out.withUnsafeMutableBytes { buf in tg_copy_to(src.handle, buf.baseAddress, buf.count) }
        try Tensor.checkStatus(rc, "copy to array")
        return out
    }

    public func floats() throws -> [Float] { try toArray(Float.self) }

    /// The single element as a Double.
    public func item() throws -> Double {
        var v = 0.0
        try Tensor.checkStatus(tg_item_checked(handle, &v), "item")
        return v
    }

    /// Whether every element is finite (one host synchronisation; an empty tensor is finite).
    public func isFinite() throws -> Bool {
        guard count > 0 else { return true }
        return try detach().abs().max().item().isFinite   // max propagates NaN
    }

    // MARK: conversions

    public func to(_ dtype: DType) throws -> Tensor { try Tensor.check(tg_to_dtype(handle, dtype.rawValue), "to(\(dtype))") }
    public func to(_ device: Device) throws -> Tensor { try Tensor.check(tg_to_device(handle, device.code), "to(\(device))") }
    public func cuda(_ index: Int = 0) throws -> Tensor { try to(.cuda(index)) }
    public func cpu() throws -> Tensor { try to(.cpu) }
    /// Zeros of the same shape, dtype and device.
    public func zerosLike() throws -> Tensor { try Tensor.check(tg_zeros_like(handle), "zeros_like") }
    public func contiguous() throws -> Tensor { try Tensor.check(tg_contiguous(handle), "contiguous") }
    public func clone() throws -> Tensor { try Tensor.check(tg_clone(handle), "clone") }
    public func detach() throws -> Tensor { try Tensor.check(tg_detach(handle), "detach") }
    /// A new handle to the same tensor (same storage and autograd identity).
    public func alias() throws -> Tensor { try Tensor.check(tg_shallow_clone(handle), "alias") }

    /// Makes this object refer to `other`'s tensor; every holder of this object sees the change.
    /// Used by `Module.to(_:)` to move parameters without breaking references held by optimisers.
    func replaceStorage(with other: Tensor) throws {
        try Tensor.checkStatus(tg_replace(handle, other.handle), "replace storage")
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        var s = "Tensor(shape: \(shape), dtype: \(dtype), device: \(device)"
        if count <= 16, let v = try? floats() { s += ", values: \(v)" }
        return s + ")"
    }
}

/// Swift element types that map onto a libtorch dtype.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
    static var zero: Self { get }
}
extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement {
    public static var dtype: DType { .bool }
    public static var zero: Bool { false }
}
