import CTorch
import Foundation

extension Tensor {
    public var requiresGrad: Bool { tg_requires_grad(handle) == 1 }
    public var isLeaf: Bool { tg_is_leaf(handle) == 1 }

    /// Marks the tensor as a leaf whose gradient is accumulated by `backward()`.
    @discardableResult
    public func requiresGrad(_ on: Bool) throws -> Tensor {
        try Tensor.checkStatus(tg_set_requires_grad(handle, on ? 1 : 0), "requires_grad")
        return self
    }

    /// The accumulated gradient, or nil when none has been computed.
    public var grad: Tensor? {
        var defined: Int32 = 0
        guard let h = tg_grad(handle, &defined), defined == 1 else { return nil }
        return Tensor(owning: h)
    }

    public func zeroGrad() throws { try Tensor.checkStatus(tg_zero_grad(handle), "zero_grad") }

    /// Back-propagates from this tensor (a scalar unless `gradient` is given).
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        try Tensor.checkStatus(tg_backward(handle, gradient?.handle, retainGraph ? 1 : 0), "backward")
    }

    // MARK: in-place updates (meant for optimisers, under Torch.noGrad)

    public func copy_(_ src: Tensor) throws { try Tensor.checkStatus(tg_copy_(handle, src.handle), "copy_(\(shape) <- \(src.shape))") }
    public func add_(_ other: Tensor, alpha: Double = 1) throws { try Tensor.checkStatus(tg_add_(handle, other.handle, alpha), "add_") }
    public func mul_(_ s: Double) throws { try Tensor.checkStatus(tg_mul_scalar_(handle, s), "mul_") }
    public func add_(_ s: Double) throws { try Tensor.checkStatus(tg_add_scalar_(handle, s), "add_") }
    public func addcmul_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try Tensor.checkStatus(tg_addcmul_(handle, a.handle, b.handle, value), "addcmul_")
    }
    public func addcdiv_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try Tensor.checkStatus(tg_addcdiv_(handle, a.handle, b.handle, value), "addcdiv_")
    }
    public func lerp_(_ end: Tensor, weight: Double) throws { try Tensor.checkStatus(tg_lerp_(handle, end.handle, weight), "lerp_") }
    public func zero_() throws { try Tensor.checkStatus(tg_zero_(handle), "zero_") }
    public func fill_(_ v: Double) throws { try Tensor.checkStatus(tg_fill_(handle, v), "fill_") }
    public func clamp_(_ lo: Double, _ hi: Double) throws { try Tensor.checkStatus(tg_clamp_(handle, lo, hi), "clamp_") }
}

public enum Autograd {
    /// Gradients of Σ outputsᵢ·gradOutputsᵢ with respect to `inputs` (nil where an input is unused).
    public static func grad(outputs: [Tensor], inputs: [Tensor], gradOutputs: [Tensor]? = nil,
                            createGraph: Bool = false) throws -> [Tensor?] {
        guard !outputs.isEmpty, !inputs.isEmpty else { throw TorchError("autograd.grad needs at least one output and one input") }
        if let g = gradOutputs, g.count != outputs.count {
            throw TorchError("autograd.grad: \(g.count) gradOutputs for \(outputs.count) outputs")
        }
        let outs: [OpaquePointer?] = outputs.map { $0.handle }
        let ins: [OpaquePointer?] = inputs.map { $0.handle }
        var res = [OpaquePointer?](repeating: nil, count: inputs.count)
        let rc: Int32
        if let g = gradOutputs {
            let gs: [OpaquePointer?] = g.map { $0.handle }
            rc = tg_autograd_grad(outs, Int32(outs.count), gs, ins, Int32(ins.count), createGraph ? 1 : 0, 1, &res)
        } else {
            rc = tg_autograd_grad(outs, Int32(outs.count), nil, ins, Int32(ins.count), createGraph ? 1 : 0, 1, &res)
        }
        try Tensor.checkStatus(rc, "autograd.grad")
        return res.map { $0.map { Tensor(owning: $0) } }
    }
}
