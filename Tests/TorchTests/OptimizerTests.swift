import Foundation
import XCTest
import Torch

final class OptimizerTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    /// Five AdamW steps on the fixture's least-squares problem; parameter `c` gets no gradient in step 3,
    /// so its own step count must pause exactly as in torch.optim.AdamW.
    func testAdamWMatchesPyTorch() throws {
        let f = try Fixture.load("torch_adamw")
        let t = f.tensors
        XCTAssertEqual(f.metadata["lr"], "0.05")
        let W = try t.required("init.W").clone().requiresGrad(true)
        let b = try t.required("init.b").clone().requiresGrad(true)
        let c = try t.required("init.c").clone().requiresGrad(true)
        let X = try t.required("X"), Y = try t.required("Y")
        let opt = try AdamW([("W", W), ("b", b), ("c", c)],
                            config: .init(learningRate: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1))
        // The gradients are sums over 6 samples × 4 features, summed in a BLAS-chosen order: relative error
        // RoundingBound(24). Adam's direction m̂/(√v̂+ε) is scale-free for |g| ≫ ε (here |g| ~ 0.1-1, ε = 1e-6), so it
        // carries that relative error (×3 for the moments' mixing of steps) into lr·direction each step, and each
        // step rounds the parameter a few times (4u·|p|). Errors add up over the steps: about 1e-6 at step 5. A wrong
        // bias correction, moment or weight decay is off by O(lr·wd) ≥ 5e-3.
        let perStepDirection = 3 * RoundingBound.float32(accumulating: 24, magnitude: 1)
        let u = RoundingBound.float32UnitRoundoff
        for step in 1...5 {
            try opt.zeroGrad()
            var pred = try X.matmul(W.transpose(0, 1)) + b
            if step != 3 { pred = try pred + c }
            let loss = try (pred - Y).square().mean()
            try loss.backward()
            try opt.update()
            for (name, p) in [("W", W), ("b", b), ("c", c)] {
                let reference = try t.required("step\(step).\(name)")
                let size = try reference.abs().max().item()
                let atol = Double(step) * (0.05 * perStepDirection + 4 * u * size)
                try assertClose(p, reference, atol: atol, rtol: 0, "step \(step) \(name)")
            }
        }
        XCTAssertEqual(opt.step, 5)
    }

    func testAdamWStateRoundTripContinuesIdentically() throws {
        func problem() throws -> (Tensor, AdamW) {
            let w = try Tensor.randn([4], generator: Generator(seed: 1)).requiresGrad(true)
            return (w, try AdamW([("w", w)], config: .init(learningRate: 0.1)))
        }
        func step(_ w: Tensor, _ opt: AdamW) throws {
            try opt.zeroGrad()
            try (w - 1.0).square().sum().backward()
            try opt.update()
        }
        let (w1, o1) = try problem()
        for _ in 0..<3 { try step(w1, o1) }
        let (w2, o2) = try problem()
        try Torch.noGrad { try w2.copy_(w1) }
        try o2.load(o1.stateDict())
        XCTAssertEqual(o2.step, 3)
        try step(w1, o1)
        try step(w2, o2)
        try assertClose(w2, w1, atol: 0, rtol: 0, "continued from a restored state")
        XCTAssertThrowsError(try o2.load(["step": Tensor([Int64(1)]), "m.nope": Tensor.zeros([4]), "v.nope": Tensor.zeros([4])]))
        XCTAssertThrowsError(try o2.load(["step": Tensor([Int64(1)]), "m.w": Tensor.zeros([3]), "v.w": Tensor.zeros([3])]))
    }

    func testAdamWRejectsDuplicateAndIntegerParameters() throws {
        let w = try Tensor.zeros([2]).requiresGrad(true)
        XCTAssertThrowsError(try AdamW([("a", w), ("b", w)]))
        XCTAssertThrowsError(try AdamW([("i", Tensor.zeros([2], dtype: .int64))]))
    }

    func testAdamWWorksInFloat64() throws {
        let w = try Tensor([1.0, -2.0] as [Double]).requiresGrad(true)
        let opt = try AdamW([("w", w)], config: .init(learningRate: 0.1, weightDecay: 0))
        try w.square().sum().backward()
        try opt.update()
        // The first Adam step moves every coordinate by lr against the gradient's sign (up to eps).
        let v = try w.toArray(Double.self)
        XCTAssertEqual(v[0], 0.9, accuracy: 1e-6)   // the step's own offset lr·ε/(|g|+ε) ≤ 5e-8·… plus float64 rounding: 1e-6 is far above both
        XCTAssertEqual(v[1], -1.9, accuracy: 1e-6)
        XCTAssertEqual(w.dtype, .float64)
    }

    func testClipGradNormMatchesDefinition() throws {
        let a = try Tensor([3, 0] as [Float]).requiresGrad(true)
        let b = try Tensor([0, 4] as [Float]).requiresGrad(true)
        try ((a * Tensor([3, 0] as [Float])).sum() + (b * Tensor([0, 4] as [Float])).sum()).backward()
        // Gradients (3, 0) and (0, 4): global norm 5.
        let norm = try clipGradNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-5)   // √(9 + 16) in float32: exact or one ulp (5e-7); 1e-5 for the clip's float eps
        let scale = 1 / (5 + 1e-6)
        XCTAssertEqual(try a.grad!.floats()[0], Float(3 * scale), accuracy: 1e-6)
        XCTAssertEqual(try b.grad!.floats()[1], Float(4 * scale), accuracy: 1e-6)
        // Below the limit nothing changes.
        let before = try a.grad!.floats()
        XCTAssertEqual(try clipGradNorm([a, b], maxNorm: 10), 1, accuracy: 1e-5)   // as above, on (0.6, 0.8)
        XCTAssertEqual(try a.grad!.floats(), before)   // exact: below the limit the gradients are not touched
    }

    final class Tiny: Module {
        let layer: Linear
        let count: Tensor // a buffer: copied, not averaged
        init(seed: UInt64) throws {
            layer = try Linear(2, 2, generator: Generator(seed: seed))
            count = try Tensor.zeros([1])
            super.init()
        }
    }

    func testEMAAveragesParametersAndCopiesBuffers() throws {
        let m = try Tiny(seed: 1)
        let w0 = try m.layer.weight.toArray(Double.self)
        let ema = try EMA(module: m, decay: 0.9)
        XCTAssertEqual(Set(ema.stateDict().keys), ["layer.weight", "layer.bias", "count"])
        // Move the weight to w0 + 1 and update three times: shadow = w0 + 1 − 0.9³.
        try Torch.noGrad { try m.layer.weight.add_(1.0); try m.count.fill_(3) }
        for _ in 0..<3 { try ema.update(from: m) }
        let shadow = try ema.stateDict()["layer.weight"]!.toArray(Double.self)
        for (s, w) in zip(shadow, w0) { XCTAssertEqual(s, w + 1 - 0.729, accuracy: 1e-5) }   // three float32 lerps of values ≤ 2: ≤ 6u·2 ≈ 7e-7
        XCTAssertEqual(try ema.stateDict()["count"]!.floats(), [3])   // exact: an integer count
        let target = try Tiny(seed: 2)
        try ema.copy(to: target)
        try assertClose(target.layer.weight, ema.stateDict()["layer.weight"]!, atol: 0, rtol: 0, "EMA copied into a module")   // exact: a copy
        XCTAssertThrowsError(try ema.load(["layer.weight": Tensor.zeros([2, 2])]))
    }
}

final class EMAWarmUpTests: XCTestCase {
    func testWarmUpFollowsTheScheduleAndCapsAtDecay() throws {
        final class One: Module { let w: Tensor; init(_ v: Float) throws { w = try Tensor([v]).requiresGrad(true); super.init() } }
        let m = try One(0)
        let ema = try EMA(module: m, decay: 0.999)
        XCTAssertEqual(ema.warmedUpDecay(step: 0), 0.1, accuracy: 1e-12)   // (1 + step)/(10 + step) in double: a few ulps
        XCTAssertEqual(ema.warmedUpDecay(step: 10), 11.0 / 20.0, accuracy: 1e-12)
        XCTAssertEqual(ema.warmedUpDecay(step: 1_000_000), 0.999, accuracy: 1e-12)
        try Torch.noGrad { try m.w.fill_(1) }
        try ema.update(from: m, decay: ema.warmedUpDecay(step: 0))
        XCTAssertEqual(try ema.shadow[0].1.item(), 0.9, accuracy: 1e-6)   // 0.1·0 + 0.9·1 in float32: 0.9 to ½ ulp (3e-8)
        XCTAssertThrowsError(try ema.update(from: m, decay: 1.5))
    }
}
