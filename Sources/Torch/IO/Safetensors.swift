import Foundation

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the raw little-endian data.
/// Reading validates strictly: every offset inside the buffer, no overlaps or gaps, sizes that match
/// dtype × shape, and a bounded header, so a corrupt file is an error and never a crash.
public enum Safetensors {
    public static let maxHeaderBytes = 100 * 1024 * 1024

    static func code(_ d: DType) -> String {
        switch d {
        case .float32: return "F32"
        case .float64: return "F64"
        case .int64: return "I64"
        case .int32: return "I32"
        case .uint8: return "U8"
        case .bool: return "BOOL"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        }
    }

    static func dtype(_ s: String) -> DType? {
        switch s {
        case "F32": return .float32
        case "F64": return .float64
        case "I64": return .int64
        case "I32": return .int32
        case "U8": return .uint8
        case "BOOL": return .bool
        case "F16": return .float16
        case "BF16": return .bfloat16
        default: return nil
        }
    }

    public struct File {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
        public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
            self.tensors = tensors
            self.metadata = metadata
        }
    }

    public static func load(_ url: URL) throws -> File {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw TorchError("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { return try decode(data) } catch let e as TorchError {
            throw TorchError("\(url.lastPathComponent): \(e.message)")
        }
    }

    public static func decode(_ data: Data) throws -> File {
        guard data.count >= 8 else { throw TorchError("not a safetensors file (only \(data.count) bytes)") }
        let n = data.prefix(8).withUnsafeBytes { raw -> UInt64 in
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(raw[i]) << (8 * UInt64(i)) }
            return v
        }
        guard n <= UInt64(maxHeaderBytes), n <= UInt64(data.count - 8) else {
            throw TorchError("corrupt safetensors header length \(n) for a \(data.count)-byte file")
        }
        let headerEnd = 8 + Int(n)
        let header = data.subdata(in: 8..<headerEnd)
        guard let obj = try? JSONSerialization.jsonObject(with: header), let dict = obj as? [String: Any] else {
            throw TorchError("corrupt safetensors header: not a JSON object")
        }
        let body = data.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw TorchError("__metadata__ must be an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw TorchError("metadata value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any], let dt = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offsAny = info["data_offsets"] as? [Any], offsAny.count == 2
            else { throw TorchError("tensor '\(name)': header entry needs dtype, shape and two data_offsets") }
            guard let dtype = dtype(dt) else { throw TorchError("tensor '\(name)': unsupported dtype \(dt)") }
            var shape: [Int] = []
            for s in shapeAny {
                // `as? Int` rejects fractions and out-of-range numbers (1.5, 1e30) instead of truncating them.
                guard let v = s as? Int, v >= 0 else { throw TorchError("tensor '\(name)': bad shape \(shapeAny)") }
                shape.append(v)
            }
            guard let b = offsAny[0] as? Int, let e = offsAny[1] as? Int, b >= 0, e >= b, e <= body else {
                throw TorchError("tensor '\(name)': data_offsets \(offsAny) outside the \(body)-byte data section")
            }
            guard let count = try? Tensor.elementCount(shape),
                  case let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize), !overflow else {
                throw TorchError("tensor '\(name)': shape \(shape) overflows")
            }
            guard bytes == e - b else {
                throw TorchError("tensor '\(name)': \(e - b) bytes do not match \(dt) \(shape)")
            }
            entries.append((name, dtype, shape, b, e))
        }
        // Offsets must tile the data section exactly: no overlap, no gap.
        entries.sort { $0.begin < $1.begin || ($0.begin == $1.begin && $0.end < $1.end) }
        var cursor = 0
        for e in entries {
            guard e.begin == cursor else { throw TorchError("tensor '\(e.name)': data overlaps or leaves a gap at byte \(cursor)") }
            cursor = e.end
        }
        guard cursor == body else { throw TorchError("data section has \(body - cursor) trailing bytes") }

        var tensors: [String: Tensor] = [:]
        try data.withUnsafeBytes { raw in
            let base = raw.baseAddress!.advanced(by: headerEnd)
            for e in entries {
                let dims = e.shape.map { Int64($0) }
                guard let h = CTorchBridge.fromData(base.advanced(by: e.begin), dims, e.dtype) else {
                    throw TorchError.last("tensor '\(e.name)'")
                }
                tensors[e.name] = Tensor(owning: h)
            }
        }
        return File(tensors: tensors, metadata: metadata)
    }

    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var blobs: [Data] = []
        var offset = 0
        for name in tensors.keys.sorted() {
            guard name != "__metadata__" else { throw TorchError("'__metadata__' is reserved") }
            let t = tensors[name]!
            guard t.supportedDType != nil else { throw TorchError("tensor '\(name)' has a dtype safetensors encoding does not support") }
            let bytes = t.count * t.dtype.byteSize
            var blob = Data(count: bytes)
            try blob.withUnsafeMutableBytes { buf in
                let src = try t.detach().to(.cpu).contiguous()
                try Tensor.checkStatus(CTorchBridge.copyTo(src, buf.baseAddress, bytes), "read tensor '\(name)'")
            }
            header[name] = ["dtype": code(t.dtype), "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
            blobs.append(blob)
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) } // pad with spaces so the data section is aligned
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for b in blobs { out.append(b) }
        return out
    }

    /// Writes atomically: a temporary file in the same folder, then a rename, so a crash never leaves
    /// a half-written checkpoint behind.
    public static func save(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let data = try encode(tensors, metadata: metadata)
        try writeAtomically(data, to: url)
    }
}

extension Module {
    /// Saves this module's state as safetensors (keys = parameter paths).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try Safetensors.save(stateDict(), metadata: metadata, to: url)
    }

    /// Loads weights saved by `save(to:)` (or converted from a PyTorch state dict with the same keys).
    @discardableResult
    public func load(from url: URL, strict: Bool = true) throws -> [String: String] {
        let f = try Safetensors.load(url)
        try load(f.tensors, strict: strict)
        return f.metadata
    }
}
