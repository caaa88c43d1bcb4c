import Foundation
import XCTest
import Torch

/// Every tensor handle the shim makes is freed: `Torch.liveTensorCount` (incremented where the shim wraps a
/// tensor, decremented in tg_free) returns to its baseline after loops of ops, failed ops, autograd,
/// optimiser steps and safetensors round trips. Each body runs once before the baseline is taken, so lazily
/// created constants do not count as leaks.
final class LeakTests: XCTestCase {
    func assertNoLeak(_ what: String, repeats: Int = 20, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) throws {
        try body()
        let baseline = Torch.liveTensorCount
        for _ in 0..<repeats { try body() }
        let after = Torch.liveTensorCount
        XCTAssertEqual(after, baseline, "\(what): \(after - baseline) tensor handles leaked over \(repeats) runs", file: file, line: line)
    }

    func testCounterFollowsAllocationAndRelease() throws {
        let before = Torch.liveTensorCount
        var held: [Tensor] = []
        for i in 0..<10 { held.append(try Tensor.full([3], Double(i))) }
        XCTAssertEqual(Torch.liveTensorCount, before + 10)
        held.removeAll()
        XCTAssertEqual(Torch.liveTensorCount, before)
    }

    func testOpsAndFailedOpsReleaseEverything() throws {
        let g = Generator(seed: 1)
        try assertNoLeak("ops") {
            let a = try Tensor.randn([4, 5], generator: g), b = try Tensor.randn([5, 3], generator: g)
            let c = try (a.matmul(b).relu() * 2 + 1).sum(dim: 0).softmax(dim: 0)
            _ = try c.sorted(descending: true)
            _ = try c.topk(2)
            _ = try F.attention(q: a.unsqueeze(0), k: a.unsqueeze(0), v: a.unsqueeze(0), returnWeights: true)
            let s = try a.matmul(a.transpose(0, 1))
            _ = try s.symmetricEigen()
            _ = try a.singularValues()
            _ = try Tensor.cat([a, a], dim: 0).narrow(0, 1, 3).contiguous().floats()
        }
        try assertNoLeak("failed ops") {
            let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4, 5])
            XCTAssertThrowsError(try a.matmul(b))
            XCTAssertThrowsError(try a + b)
            XCTAssertThrowsError(try a.reshape([7]))
            XCTAssertThrowsError(try Tensor.cat([a, b], dim: 0))
        }
    }

    func testAutogradModulesAndOptimiserReleaseEverything() throws {
        let g = Generator(seed: 2)
        let conv = try Conv2d(3, 4, kernel: 3, padding: 1, generator: g)
        let norm = try GroupNorm(groups: 2, channels: 4)
        let linear = try Linear(4 * 8 * 8, 2, generator: g)
        let params = [("conv", conv), ("norm", norm), ("linear", linear)].flatMap { prefix, m in
            m.namedParameters().map { ("\(prefix).\($0.0)", $0.1) }
        }
        let optimizer = try AdamW(params, config: .init(learningRate: 1e-3))
        try assertNoLeak("forward, backward, AdamW", repeats: 10) {
            let x = try Tensor.randn([2, 3, 8, 8], generator: g)
            let y = try linear(norm(conv(x)).silu().flatten(1))
            try optimizer.zeroGrad()
            try y.square().mean().backward()
            _ = try clipGradNorm(params.map(\.1), maxNorm: 1)
            try optimizer.update()
        }
        try assertNoLeak("autograd.grad with create_graph") {
            let x = try Tensor.randn([3], generator: g).requiresGrad(true)
            let y = try (x * x * x).sum()
            let dx = try Autograd.grad(outputs: [y], inputs: [x], createGraph: true)[0]!
            let ddx = try Autograd.grad(outputs: [dx.sum()], inputs: [x])[0]!
            XCTAssertEqual(ddx.shape, [3])
        }
    }

    func testSafetensorsRoundTripsAndCorruptFilesReleaseEverything() throws {
        let g = Generator(seed: 3)
        let tensors = ["a": try Tensor.randn([3, 4], generator: g), "b": try Tensor.zeros([2], dtype: .int64)]
        let data = try Safetensors.encode(tensors, metadata: ["k": "v"])
        try assertNoLeak("encode/decode") {
            let f = try Safetensors.decode(Safetensors.encode(tensors))
            XCTAssertEqual(f.tensors.count, 2)
        }
        try assertNoLeak("corrupt file") {
            var bad = data
            bad.removeLast(4)
            XCTAssertThrowsError(try Safetensors.decode(bad))
        }
    }
}

/// The per-thread creation budget that loaders put around building a network from a file's metadata.
final class CreationBudgetTests: XCTestCase {
    func testBudgetChargesShapeCreatorsAndRestores() throws {
        try Torch.withCreationBudget(bytes: 1000) {
            _ = try Tensor.zeros([100])                       // 400 bytes
            _ = try Tensor.randn([100], generator: Generator(seed: 1))   // 800 in all
            let message = torchErrorMessage { _ = try Tensor.ones([100]) }
            XCTAssertTrue(message.contains("exceeds the creation budget"), message)
            XCTAssertThrowsError(try Tensor([Float](repeating: 0, count: 100)))
            _ = try Tensor.zeros([25])                        // 100 of the 200 bytes left still fit
            // Ops on existing tensors are not charged.
            _ = try Tensor.zeros([10]) + 1
        }
        _ = try Tensor.zeros([1_000_000])                     // no budget outside
        let message = torchErrorMessage {
            try Torch.withCreationBudget(bytes: 1 << 20) { _ = try Linear(4096, 4096, generator: Generator(seed: 1)) }
        }
        XCTAssertTrue(message.contains("67108864 bytes exceeds"), message)
    }
}
