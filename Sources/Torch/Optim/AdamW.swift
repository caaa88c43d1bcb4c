import Foundation

/// AdamW (decoupled weight decay, Loshchilov & Hutter), the same arithmetic in the same order as
/// `torch.optim.AdamW` (1.13, single-tensor path, amsgrad off):
///   p ← p·(1 − lr·wd);  m ← m·β₁ + (1−β₁)·g;  v ← v·β₂ + (1−β₂)·g²;
///   p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)
/// with a step count t per parameter and moments created lazily on a parameter's first gradient, so a
/// parameter without a gradient in some step is skipped exactly as PyTorch skips it.
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

    /// Moments of one parameter, on the parameter's device and dtype.
    private struct Moments {
        var m: Tensor
        var v: Tensor
        var step: Int
    }

    public var config: Config
    public let named: [(String, Tensor)]
    /// Number of `update()` calls.
    public private(set) var step = 0
    private var moments: [Moments?]

    public init(_ named: [(String, Tensor)], config: Config = Config()) throws {
        var ids = Set<ObjectIdentifier>(), names = Set<String>()
        for (name, p) in named {
            guard ids.insert(ObjectIdentifier(p)).inserted else { throw TorchError("AdamW: parameter '\(name)' is listed twice") }
            guard names.insert(name).inserted else { throw TorchError("AdamW: two parameters are named '\(name)'") }
            guard p.dtype.isFloatingPoint else { throw TorchError("AdamW: parameter '\(name)' is not floating-point (\(p.dtype))") }
        }
        guard config.learningRate >= 0, config.eps >= 0, config.weightDecay >= 0,
              (0..<1).contains(config.beta1), (0..<1).contains(config.beta2) else {
            throw TorchError("AdamW: invalid configuration \(config)")
        }
        self.named = named
        self.config = config
        moments = Array(repeating: nil, count: named.count)
    }

    public convenience init(module: Module, config: Config = Config()) throws {
        try self.init(module.namedParameters(), config: config)
    }

    /// Drops the gradients (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() throws { for (_, p) in named { try p.zeroGrad() } }

    /// One update from the gradients currently stored on the parameters.
    public func update() throws {
        step += 1
        let c = config
        try Torch.noGrad {
            for (i, (_, p)) in named.enumerated() {
                guard let g = p.grad else { continue }
                var s = try moments[i] ?? Moments(m: p.zerosLike(), v: p.zerosLike(), step: 0)
                // After Module.to(device) the moments follow their parameter.
                if s.m.device != p.device || s.m.dtype != p.dtype {
                    s.m = try s.m.to(p.device).to(p.dtype)
                    s.v = try s.v.to(p.device).to(p.dtype)
                }
                s.step += 1
                try p.mul_(1 - c.learningRate * c.weightDecay)
                try s.m.mul_(c.beta1)
                try s.m.add_(g, alpha: 1 - c.beta1)
                try s.v.mul_(c.beta2)
                try s.v.addcmul_(g, g, value: 1 - c.beta2)
                let bc1 = 1 - Foundation.pow(c.beta1, Double(s.step))
                let bc2 = 1 - Foundation.pow(c.beta2, Double(s.step))
                let denom = try s.v.sqrt() / bc2.squareRoot()
                try denom.add_(c.eps)
                try p.addcdiv_(s.m, denom, value: -(c.learningRate / bc1))
                moments[i] = s
            }
        }
    }

    /// Optimiser state for checkpoints: `step`, and per parameter with moments `m.NAME`, `v.NAME`, `t.NAME`.
    public func stateDict() throws -> [String: Tensor] {
        var d: [String: Tensor] = ["step": try Tensor([Int64(step)], shape: [1])]
        for (i, (name, _)) in named.enumerated() {
            guard let s = moments[i] else { continue }
            d["m.\(name)"] = s.m
            d["v.\(name)"] = s.v
            d["t.\(name)"] = try Tensor([Int64(s.step)], shape: [1])
        }
        return d
    }

    /// Restores `stateDict()`. Every key must belong to a parameter of this optimiser with the right shape.
    /// A state without `t.NAME` (older checkpoints) uses the global step for that parameter.
    public func load(_ state: [String: Tensor]) throws {
        guard let s = state["step"], s.count == 1 else { throw TorchError("optimiser state has no step") }
        let globalStep = Int(try s.item())
        let byName = Dictionary(uniqueKeysWithValues: named.enumerated().map { ($0.element.0, $0.offset) })
        for key in state.keys where key != "step" {
            let parts = key.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, ["m", "v", "t"].contains(parts[0]), byName[String(parts[1])] != nil else {
                throw TorchError("optimiser state has an unexpected key '\(key)'")
            }
        }
        var restored = [Moments?](repeating: nil, count: named.count)
        for (i, (name, p)) in named.enumerated() {
            let mi = state["m.\(name)"], vi = state["v.\(name)"]
            if mi == nil && vi == nil { continue }
            guard let mi, let vi, mi.shape == p.shape, vi.shape == p.shape else {
                throw TorchError("optimiser state for '\(name)' is incomplete or has the wrong shape (parameter \(p.shape))")
            }
            let t = try state["t.\(name)"].map { Int(try $0.item()) } ?? globalStep
            let m = try Torch.noGrad { try mi.detach().to(p.device).to(p.dtype).clone() }
            let v = try Torch.noGrad { try vi.detach().to(p.device).to(p.dtype).clone() }
            restored[i] = Moments(m: m, v: v, step: t)
        }
        moments = restored
        step = globalStep
    }
}

/// Scales gradients in place so their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_`: total = ‖(‖g₁‖, ‖g₂‖, …)‖, coefficient min(1, maxNorm/(total + 1e-6)).
/// Returns the norm before clipping. A non-finite norm leaves the gradients unchanged (and is returned,
/// so the caller can skip the step).
@discardableResult
public func clipGradNorm(_ params: [Tensor], maxNorm: Double) throws -> Double {
    let grads = params.compactMap { $0.grad }
    guard !grads.isEmpty else { return 0 }
    return try Torch.noGrad {
        let norms = try grads.map { try $0.norm().to(.float64) }
        let total = try Tensor.stack(norms).norm().item()
        let coefficient = maxNorm / (total + 1e-6)
        if total.isFinite && coefficient < 1 {
            for g in grads { try g.mul_(coefficient) }
        }
        return total
    }
}

/// Exponential moving average of a module's state (the weights diffusion models sample with):
/// shadow ← decay·shadow + (1 − decay)·parameter for parameters; buffers and frozen tensors are copied.
public final class EMA {
    public let decay: Double
    /// Every tensor of the module (same keys as its `stateDict()`), detached copies.
    public let shadow: [(String, Tensor)]

    public init(module: Module, decay: Double = 0.999) throws {
        guard decay >= 0 && decay <= 1 else { throw TorchError("EMA decay \(decay) is outside [0, 1]") }
        self.decay = decay
        shadow = try Torch.noGrad { try module.namedTensors().map { ($0.0, try $0.1.detach().clone()) } }
    }

    /// The decay for update number `step` (0-based) with warm-up: min(decay, (1 + step) / (10 + step)), so a
    /// short run does not sample with weights that are still mostly the initial ones.
    public func warmedUpDecay(step: Int) -> Double { min(decay, Double(1 + step) / Double(10 + step)) }

    /// shadow ← d·shadow + (1 − d)·parameter with d = `decay` (or the given decay, e.g. `warmedUpDecay(step:)`).
    public func update(from module: Module, decay d: Double? = nil) throws {
        let decay = d ?? self.decay
        guard decay >= 0 && decay <= 1 else { throw TorchError("EMA decay \(decay) is outside [0, 1]") }
        let current = Dictionary(module.namedTensors(), uniquingKeysWith: { a, _ in a })
        try Torch.noGrad {
            for (name, s) in shadow {
                guard let p = current[name] else { throw TorchError("EMA: tensor '\(name)' disappeared from the module") }
                guard p.shape == s.shape else { throw TorchError("EMA: tensor '\(name)' changed shape to \(p.shape)") }
                if s.device != p.device || s.dtype != p.dtype { try s.replaceStorage(with: s.to(p.device).to(p.dtype)) }
                if p.requiresGrad && p.dtype.isFloatingPoint {
                    try s.lerp_(p, weight: 1 - decay)
                } else {
                    try s.copy_(p)
                }
            }
        }
    }

    /// Copies the averaged weights into `module` (for sampling or saving).
    public func copy(to module: Module) throws { try module.load(stateDict(), strict: true) }

    public func stateDict() -> [String: Tensor] { Dictionary(shadow, uniquingKeysWith: { a, _ in a }) }

    /// Restores a saved shadow; keys and shapes must match.
    public func load(_ state: [String: Tensor]) throws {
        let mine = Set(shadow.map { $0.0 })
        let extra = state.keys.filter { !mine.contains($0) }.sorted()
        guard extra.isEmpty else { throw TorchError("EMA state has unexpected keys \(extra.prefix(8))") }
        // Check everything first so a bad state leaves the shadow unchanged.
        let pairs = try shadow.map { name, s -> (Tensor, Tensor) in
            guard let t = state[name], t.shape == s.shape else {
                throw TorchError("EMA state for '\(name)' is missing or has the wrong shape")
            }
            return (s, t)
        }
        try Torch.noGrad { for (s, t) in pairs { try s.copy_(t) } }
    }
}
