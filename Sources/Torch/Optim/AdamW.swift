import Foundation

/// AdamW (decoupled weight decay, Loshchilov & Hutter), matching `torch.optim.AdamW`'s update.
public final class AdamW {
    public struct Config: Sendable, Codable {
        public var learningRate: Double = 2e-4
        public var beta1: Double = 0.9
        public var beta2: Double = 0.999
        public var eps: Double = 1e-8
        public var weightDecay: Double = 0.01
        public init(learningRate: Double = 2e-4, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
            self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }
    }

    public var config: Config
    public let named: [(String, Tensor)]
    public private(set) var step = 0
    private var m: [Tensor] = []
    private var v: [Tensor] = []

    public init(_ named: [(String, Tensor)], config: Config = Config()) throws {
        self.named = named
        self.config = config
        m = try named.map { try Tensor.zeros($0.1.shape) }
        v = try named.map { try Tensor.zeros($0.1.shape) }
    }

    public convenience init(module: Module, config: Config = Config()) throws {
        try self.init(module.namedParameters(), config: config)
    }

    public func zeroGrad() throws { for (_, p) in named { try p.zeroGrad() } }

    /// One update from the gradients currently stored on the parameters.
    public func update() throws {
        step += 1
        let c = config
        let bc1 = 1 - Foundation.pow(c.beta1, Double(step))
        let bc2 = 1 - Foundation.pow(c.beta2, Double(step))
        try Torch.noGrad {
            for (i, (_, p)) in named.enumerated() {
                guard let g = p.grad else { continue }
                if c.weightDecay != 0 { try p.mul_(1 - c.learningRate * c.weightDecay) }
                try m[i].lerp_(g, weight: 1 - c.beta1)
                try v[i].mul_(c.beta2)
                try v[i].addcmul_(g, g, value: 1 - c.beta2)
                let denom = try (v[i].sqrt() / bc2.squareRoot()) + c.eps
                try p.addcdiv_(m[i], denom, value: -c.learningRate / bc1)
            }
        }
    }

    /// Optimiser moments and step, keyed by parameter name, for checkpoints.
    public func stateDict() throws -> [String: Tensor] {
        var d: [String: Tensor] = ["step": try Tensor([Int64(step)], shape: [1])]
        for (i, (name, _)) in named.enumerated() {
            d["m.\(name)"] = m[i]
            d["v.\(name)"] = v[i]
        }
        return d
    }

    public func load(_ state: [String: Tensor]) throws {
        guard let s = state["step"] else { throw TorchError("optimiser state has no step") }
        step = Int(try s.item())
        try Torch.noGrad {
            for (i, (name, p)) in named.enumerated() {
                guard let mi = state["m.\(name)"], let vi = state["v.\(name)"], mi.shape == p.shape, vi.shape == p.shape else {
                    throw TorchError("optimiser state for '\(name)' is missing or has the wrong shape")
                }
                try m[i].copy_(mi)
                try v[i].copy_(vi)
            }
        }
    }
}

/// Scales gradients in place so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ params: [Tensor], maxNorm: Double) throws -> Double {
    let grads = params.compactMap { $0.grad }
    guard !grads.isEmpty else { return 0 }
    var total = 0.0
    try Torch.noGrad {
        for g in grads { total += try g.square().sum().item() }
    }
    total = total.squareRoot()
    if total.isFinite && total > maxNorm {
        let scale = maxNorm / (total + 1e-6)
        try Torch.noGrad { for g in grads { try g.mul_(scale) } }
    }
    return total
}

/// Exponential moving average of a module's parameters (the weights diffusion models sample with).
public final class EMA {
    public let decay: Double
    public let shadow: [(String, Tensor)]

    public init(module: Module, decay: Double = 0.999) throws {
        self.decay = decay
        shadow = try Torch.noGrad { try module.namedParameters().map { ($0.0, try $0.1.detach().clone()) } }
    }

    public func update(from module: Module) throws {
        let current = Dictionary(module.namedParameters(), uniquingKeysWith: { a, _ in a })
        try Torch.noGrad {
            for (name, s) in shadow {
                guard let p = current[name] else { throw TorchError("EMA: parameter '\(name)' disappeared") }
                try s.lerp_(p, weight: 1 - decay)
            }
        }
    }

    public func stateDict() -> [String: Tensor] { Dictionary(shadow, uniquingKeysWith: { a, _ in a }) }
}
