import Foundation

/// A tree of layers whose state is discovered by reflection: every stored `Tensor` property is a
/// parameter (when it requires grad) or a buffer, every `Module` / `[Module]` property a child. The
/// dotted path of a tensor (`down.0.conv.weight`) is its checkpoint key, as in mlx-swift and PyTorch.
/// Properties whose names start with `_` are skipped (caches, not state).
open class Module {
    public private(set) var training = true

    public init() {}

    /// (key, tensor) for every parameter and buffer under this module, in declaration order.
    public func namedTensors(prefix: String = "") -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        visit(prefix: prefix, tensor: { out.append(($0, $1)) }, module: { _, _ in })
        return out
    }

    public func namedParameters() -> [(String, Tensor)] { namedTensors().filter { $0.1.requiresGrad } }
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

    /// Copies tensors into this module's state (under no-grad), checking names and shapes.
    /// With `strict`, a missing or unexpected key is an error; extra keys are listed in the message.
    public func load(_ state: [String: Tensor], strict: Bool = true) throws {
        let mine = namedTensors()
        var missing: [String] = []
        var used = Set<String>()
        try Torch.noGrad {
            for (key, t) in mine {
                guard let src = state[key] else { missing.append(key); continue }
                guard src.shape == t.shape else {
                    throw TorchError("checkpoint tensor '\(key)' has shape \(src.shape), the model expects \(t.shape)")
                }
                try t.copy_(src)
                used.insert(key)
            }
        }
        let unexpected = state.keys.filter { !used.contains($0) && !missing.contains($0) }.sorted()
        if strict && (!missing.isEmpty || !unexpected.isEmpty) {
            throw TorchError("checkpoint does not match the model: missing \(missing.prefix(8)) (\(missing.count)), unexpected \(unexpected.prefix(8)) (\(unexpected.count))")
        }
    }

    /// Switches training mode (dropout) for the whole tree.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.training = on }
    }
    public func eval() { train(false) }

    /// Marks every parameter as trainable or frozen.
    public func freeze(_ frozen: Bool = true) throws {
        for (_, t) in namedTensors() where t.dtype.isFloatingPoint { try t.requiresGrad(!frozen) }
    }

    private func visit(prefix: String, tensor: (String, Tensor) -> Void, module: (String, Module) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        var chain: [Mirror] = []
        while let m = mirror { chain.append(m); mirror = m.superclassMirror }
        // Superclass properties first, so paths follow declaration order through the hierarchy.
        for m in chain.reversed() {
            for child in m.children {
                guard let label = child.label, !label.hasPrefix("_") else { continue }
                let path = prefix.isEmpty ? label : "\(prefix).\(label)"
                Self.visitValue(child.value, path: path, tensor: tensor, module: module)
            }
        }
    }

    private static func visitValue(_ value: Any, path: String, tensor: (String, Tensor) -> Void, module: (String, Module) -> Void) {
        if let t = value as? Tensor {
            tensor(path, t)
        } else if let m = value as? Module {
            module(path, m)
        } else if let ms = value as? [Module] {
            for (i, m) in ms.enumerated() { module("\(path).\(i)", m) }
        } else if let ts = value as? [Tensor] {
            for (i, t) in ts.enumerated() { tensor("\(path).\(i)", t) }
        }
    }
}

/// A layer with one input and one output.
public protocol UnaryLayer: AnyObject {
    func callAsFunction(_ x: Tensor) throws -> Tensor
}
