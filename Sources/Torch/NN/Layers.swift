import Foundation

/// PyTorch's default initialisation: U(-1/√fan_in, 1/√fan_in) for weights (kaiming_uniform with a=√5)
/// and biases, so a layer initialised here behaves like a fresh `torch.nn` layer.
func defaultInit(_ shape: [Int], fanIn: Int, generator: Generator?) throws -> Tensor {
    let bound = 1.0 / Double(max(fanIn, 1)).squareRoot()
    return try Tensor.uniform(shape, low: -bound, high: bound, generator: generator).requiresGrad(true)
}

public final class Linear: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: Generator? = nil) throws {
        weight = try defaultInit([outFeatures, inFeatures], fanIn: inFeatures, generator: generator)
        self.bias = bias ? try defaultInit([outFeatures], fanIn: inFeatures, generator: generator) : nil
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try F.linear(x, weight, bias) }

    /// Sets weight and bias to zero (for layers whose contribution must start at nothing).
    public func zeroInit() throws {
        try Torch.noGrad { try weight.zero_(); try bias?.zero_() }
    }
}

public final class GroupNorm: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int, eps: Double

    public init(groups: Int, channels: Int, eps: Double = 1e-5) throws {
        guard channels % groups == 0 else { throw TorchError("GroupNorm: \(channels) channels not divisible by \(groups) groups") }
        weight = try Tensor.ones([channels]).requiresGrad(true)
        bias = try Tensor.zeros([channels]).requiresGrad(true)
        self.groups = groups
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try F.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps) }
}

public final class LayerNorm: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Double

    public init(_ dim: Int, eps: Double = 1e-5) throws {
        weight = try Tensor.ones([dim]).requiresGrad(true)
        bias = try Tensor.zeros([dim]).requiresGrad(true)
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try F.layerNorm(x, normalizedShape: [weight.count], weight: weight, bias: bias, eps: eps)
    }
}

public final class Embedding: Module {
    public let weight: Tensor

    public init(_ count: Int, _ dim: Int, generator: Generator? = nil) throws {
        weight = try Tensor.randn([count, dim], generator: generator).requiresGrad(true)
        super.init()
    }

    public func callAsFunction(_ indices: Tensor) throws -> Tensor { try F.embedding(indices, weight: weight) }
}

public enum Activation: String, Sendable, Codable {
    case relu, silu, gelu, tanh, leakyRelu, identity

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        switch self {
        case .relu: return try x.relu()
        case .silu: return try x.silu()
        case .gelu: return try x.gelu()
        case .tanh: return try x.tanh()
        case .leakyRelu: return try x.leakyRelu(0.2)
        case .identity: return x
        }
    }
}

/// Linear layers with an activation between them (none after the last).
public final class MLP: Module, UnaryLayer {
    public let layers: [Linear]
    public let activation: Activation

    public init(_ sizes: [Int], activation: Activation = .relu, generator: Generator? = nil) throws {
        guard sizes.count >= 2 else { throw TorchError("MLP needs at least input and output sizes") }
        layers = try zip(sizes, sizes.dropFirst()).map { try Linear($0, $1, generator: generator) }
        self.activation = activation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        for (i, l) in layers.enumerated() {
            h = try l(h)
            if i < layers.count - 1 { h = try activation(h) }
        }
        return h
    }
}

/// Multi-head self/cross attention over (batch, sequence, dim).
public final class MultiHeadAttention: Module {
    public let query: Linear, key: Linear, value: Linear, out: Linear
    public let heads: Int

    public init(dim: Int, heads: Int, generator: Generator? = nil) throws {
        guard dim % heads == 0 else { throw TorchError("attention dim \(dim) not divisible by \(heads) heads") }
        query = try Linear(dim, dim, generator: generator)
        key = try Linear(dim, dim, generator: generator)
        value = try Linear(dim, dim, generator: generator)
        out = try Linear(dim, dim, generator: generator)
        self.heads = heads
        super.init()
    }

    private func split(_ x: Tensor) throws -> Tensor {
        let (b, n, d) = (x.size(0), x.size(1), x.size(2))
        return try x.reshape([b, n, heads, d / heads]).permute(0, 2, 1, 3)
    }

    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, mask: Tensor? = nil) throws -> Tensor {
        let c = context ?? x
        let q = try split(query(x)), k = try split(key(c)), v = try split(value(c))
        let o = try F.attention(q: q, k: k, v: v, mask: mask).output
        let (b, n) = (x.size(0), x.size(1))
        return try out(o.permute(0, 2, 1, 3).reshape([b, n, -1]))
    }
}

/// A pre-norm transformer encoder layer (self-attention + GELU feed-forward, both residual).
public final class TransformerEncoderLayer: Module, UnaryLayer {
    public let norm1: LayerNorm, attention: MultiHeadAttention, norm2: LayerNorm, feedForward: MLP
    public let dropout: Double

    public init(dim: Int, heads: Int, ffDim: Int, dropout: Double = 0, generator: Generator? = nil) throws {
        norm1 = try LayerNorm(dim)
        attention = try MultiHeadAttention(dim: dim, heads: heads, generator: generator)
        norm2 = try LayerNorm(dim)
        feedForward = try MLP([dim, ffDim, dim], activation: .gelu, generator: generator)
        self.dropout = dropout
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try x + F.dropout(attention(norm1(x)), p: dropout, training: training)
        h = try h + F.dropout(feedForward(norm2(h)), p: dropout, training: training)
        return h
    }
}
