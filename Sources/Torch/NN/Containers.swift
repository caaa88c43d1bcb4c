import Foundation

/// Applies its layers in order. Keys are `layers.0.weight`, `layers.1.weight`, ...
/// (PyTorch's `nn.Sequential` would write `0.weight`; prefix-strip when converting such checkpoints).
public final class Sequential: Module, UnaryLayer {
    public let layers: [Module]
    // The same objects typed for calling; the underscore keeps reflection from visiting them twice.
    private let _callables: [UnaryLayer]

    public init(_ layers: [Module & UnaryLayer]) {
        self.layers = layers
        _callables = layers
        super.init()
    }

    public convenience init(_ layers: (Module & UnaryLayer)...) { self.init(layers) }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        for layer in _callables { h = try layer(h) }
        return h
    }
}

/// Inverted dropout as a layer: active only while the module tree is in training mode.
public final class Dropout: Module, UnaryLayer {
    public let p: Double
    private let _generator: Generator?

    public init(_ p: Double, generator: Generator? = nil) throws {
        guard p >= 0 && p <= 1 else { throw TorchError("Dropout probability \(p) is outside [0, 1]") }
        self.p = p
        _generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try F.dropout(x, p: p, training: training, generator: _generator)
    }
}

/// An `Activation` as a stateless layer, for use inside `Sequential`.
public final class ActivationLayer: Module, UnaryLayer {
    public let activation: Activation
    public init(_ activation: Activation) { self.activation = activation; super.init() }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try activation(x) }
}

/// Returns its input unchanged (a placeholder where a projection is optional).
public final class Identity: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { x }
}
