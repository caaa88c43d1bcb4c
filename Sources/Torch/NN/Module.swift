import Foundation

/// A tree of layers whose state is discovered by reflection. Stored properties are visited in
/// declaration order (superclass first):
/// - `Tensor` and `Tensor?` are state: a parameter when it requires grad, a buffer otherwise;
/// - `Module` and `Module?` are children;
/// - `[Tensor]`, `[Module]` (any subclass element type) are numbered children (`blocks.0`, `blocks.1`);
/// - `[String: Tensor]`, `[String: Module]` are children keyed by name, in sorted key order.
/// The dotted path of a tensor (`down.0.conv.weight`) is its checkpoint key, as in PyTorch's
/// `state_dict`. Properties whose names start with `_` (caches, callables) and lazy properties are skipped,
/// and so is everything else (numbers, enums, structs, tuples).
open class Module {
    public private(set) var training = true

    public init() {}

    /// (key, tensor) for every parameter and buffer under this module, in declaration order. A tensor
    /// reachable under two paths (tied weights) is listed under both, as in PyTorch's `state_dict`.
    public func namedTensors(prefix: String = "") -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        visit(prefix: prefix, tensor: { out.append(($0, $1)) }, module: { path, m in out.append(contentsOf: m.namedTensors(prefix: path)) })
        return out
    }

    /// Tensors that require grad, each object once (the first path wins for tied weights), so an
    /// optimiser never updates a shared tensor twice.
    public func namedParameters() -> [(String, Tensor)] {
        var seen = Set<ObjectIdentifier>()
        return namedTensors().filter { $0.1.requiresGrad && seen.insert(ObjectIdentifier($0.1)).inserted }
    }
    /// Tensors that do not require grad (running statistics, fixed bases, frozen weights).
    public func namedBuffers() -> [(String, Tensor)] { namedTensors().filter { !$0.1.requiresGrad } }
    public func parameters() -> [Tensor] { namedParameters().map { $0.1 } }
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Every module under this one (itself first), with its path.
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        visit(prefix: prefix, tensor: { _, _ in }, module: { out.append(contentsOf: $1.namedModules(prefix: $0)) })
        return out
    }

    public func stateDict() -> [String: Tensor] {
        Dictionary(namedTensors(), uniquingKeysWith: { a, _ in a })
    }

    /// What `load(_:strict:)` found when comparing a checkpoint with the model.
    public struct LoadReport: Sendable, CustomStringConvertible {
        /// Model keys the checkpoint lacks (left unchanged).
        public var missing: [String] = []
        /// Checkpoint keys the model lacks (ignored).
        public var unexpected: [String] = []
        /// Keys present in both with different shapes: (key, checkpoint shape, model shape).
        public var mismatched: [(key: String, checkpoint: [Int], model: [Int])] = []

        public var isExactMatch: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

        public var description: String {
            var parts: [String] = []
            func list(_ keys: [String]) -> String {
                keys.count <= 8 ? keys.joined(separator: ", ") : keys.prefix(8).joined(separator: ", ") + ", … (\(keys.count) in all)"
            }
            if !missing.isEmpty { parts.append("missing keys: \(list(missing))") }
            if !unexpected.isEmpty { parts.append("unexpected keys: \(list(unexpected))") }
            if !mismatched.isEmpty {
                parts.append("shape mismatches: " + list(mismatched.map { "\($0.key) (checkpoint \($0.checkpoint), model \($0.model))" }))
            }
            return parts.isEmpty ? "all keys match" : parts.joined(separator: "; ")
        }
    }

    /// Copies tensors into this module's state (under no-grad, converting dtype and device as needed).
    /// Everything is checked before anything is copied, so a failed load leaves the model unchanged.
    /// A shape mismatch is always an error; with `strict`, so is a missing or unexpected key. The
    /// returned report lists what did not match (non-strict loads).
    @discardableResult
    public func load(_ state: [String: Tensor], strict: Bool = true) throws -> LoadReport {
        let mine = namedTensors()
        var report = LoadReport()
        var pairs: [(Tensor, Tensor)] = []
        var known = Set<String>()
        for (key, t) in mine {
            known.insert(key)
            guard let src = state[key] else { report.missing.append(key); continue }
            let (have, want) = (src.shape, t.shape)
            if have != want { report.mismatched.append((key, have, want)); continue }
            pairs.append((t, src))
        }
        report.unexpected = state.keys.filter { !known.contains($0) }.sorted()
        if !report.mismatched.isEmpty || (strict && !report.isExactMatch) {
            throw TorchError("checkpoint does not match the model: \(report)")
        }
        try Torch.noGrad { for (dst, src) in pairs { try dst.copy_(src) } }
        return report
    }

    /// Switches training mode (dropout) for the whole tree.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.training = on }
    }
    public func eval() { train(false) }

    /// Marks every floating-point parameter as trainable or frozen.
    public func freeze(_ frozen: Bool = true) throws {
        for (_, t) in namedTensors() where t.dtype.isFloatingPoint { try t.requiresGrad(!frozen) }
    }

    // MARK: devices and dtypes

    /// Moves every tensor of the tree to `device` in place: each `Tensor` object keeps its identity (so
    /// optimisers and EMA holding it stay valid) and now refers to a copy on the device. Gradients are
    /// dropped. Throws a clear error when the device is unavailable (CUDA on a CPU-only libtorch).
    public func to(_ device: Device) throws {
        try device.validate()
        try replaceStorage { t in t.device == device ? nil : try t.to(device) }
    }

    /// Converts every floating-point tensor of the tree to `dtype` in place (integer buffers stay).
    public func to(_ dtype: DType) throws {
        guard dtype.isFloatingPoint else { throw TorchError("Module.to(\(dtype)): modules convert only to floating-point dtypes") }
        try replaceStorage { t in !t.dtype.isFloatingPoint || t.dtype == dtype ? nil : try t.to(dtype) }
    }

    /// The device of the first tensor (the CPU for a module without state).
    public var device: Device { namedTensors().first?.1.device ?? .cpu }

    private func replaceStorage(_ convert: (Tensor) throws -> Tensor?) throws {
        var seen = Set<ObjectIdentifier>()
        try Torch.noGrad {
            for (_, t) in namedTensors() where seen.insert(ObjectIdentifier(t)).inserted {
                guard let moved = try convert(t.detach()) else { continue }
                if t.requiresGrad { try moved.requiresGrad(true) }
                try t.replaceStorage(with: moved)
            }
        }
    }

    // MARK: reflection

    private func visit(prefix: String, tensor: (String, Tensor) -> Void, module: (String, Module) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        var chain: [Mirror] = []
        while let m = mirror { chain.append(m); mirror = m.superclassMirror }
        // Superclass properties first, so paths follow declaration order through the hierarchy.
        for m in chain.reversed() {
            for child in m.children {
                guard let label = child.label, !label.hasPrefix("_"), !label.hasPrefix("$") else { continue }
                let path = prefix.isEmpty ? label : "\(prefix).\(label)"
                Self.visitValue(child.value, path: path, tensor: tensor, module: module)
            }
        }
    }

    private static func visitValue(_ value: Any, path: String, tensor: (String, Tensor) -> Void, module: (String, Module) -> Void) {
        // A dynamic cast from Any unwraps Optionals, so `Tensor?` and `Module?` land here when set.
        if let t = value as? Tensor {
            tensor(path, t)
        } else if let m = value as? Module {
            module(path, m)
        } else if let ms = value as? [Module] {
            for (i, m) in ms.enumerated() { module("\(path).\(i)", m) }
        } else if let ts = value as? [Tensor] {
            for (i, t) in ts.enumerated() { tensor("\(path).\(i)", t) }
        } else if let ms = value as? [String: Module] {
            for k in ms.keys.sorted() { module("\(path).\(k)", ms[k]!) }
        } else if let ts = value as? [String: Tensor] {
            for k in ts.keys.sorted() { tensor("\(path).\(k)", ts[k]!) }
        }
    }
}

/// A layer with one input and one output.
public protocol UnaryLayer: AnyObject {
    func callAsFunction(_ x: Tensor) throws -> Tensor
}
