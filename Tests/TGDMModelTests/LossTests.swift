import Torch
import Diffusion
import XCTest
@testable import TGDMModel

final class LossTests: XCTestCase {
    override func setUp() { useOneThread() }

    func testGateOpensOnlyAfterTheAverageDropsAndStaysOpen() {
        var gate = ImageLossGate(threshold: 0.05, decay: 0.9, minimumSteps: 5)
        for _ in 0..<4 { gate.observe(0.01) }
        XCTAssertFalse(gate.isOpen, "minimum steps not reached")
        gate.observe(0.01)
        XCTAssertTrue(gate.isOpen)
        XCTAssertEqual(gate.runningAverage!, 0.01, accuracy: 1e-12) // bias-corrected
        gate.observe(10)
        XCTAssertTrue(gate.isOpen, "latched")

        var slow = ImageLossGate(threshold: 0.05, decay: 0.9, minimumSteps: 0)
        for _ in 0..<20 { slow.observe(1) }
        for _ in 0..<10 { slow.observe(0.01) }
        XCTAssertFalse(slow.isOpen, "the average (≈0.35) is still above the threshold")
        for _ in 0..<40 { slow.observe(0.01) }
        XCTAssertTrue(slow.isOpen)
        slow.observe(.nan) // ignored
        XCTAssertTrue(slow.runningAverage!.isFinite)
    }

    func testObjectiveTermsAndWeights() throws {
        let schedule = try NoiseSchedule()
        var config = TGDMLossConfig()
        config.gateThreshold = 1e9
        config.gateMinimumSteps = 1
        config.perceptualNetwork = .randomVGG16(seed: 0, widthDivisor: 8)
        let loss = try TGDMLoss(config: config, schedule: schedule)
        let g = Generator(seed: 1)
        let target = try Tensor.rand([2, 3, 16, 16], generator: g) * 2 - 1
        let noise = try Tensor.randn([2, 3, 16, 16], generator: g)
        let t = try Tensor([Int64(10), 500])
        let noisy = try schedule.addNoise(x0: target, noise: noise, timesteps: t)
        let pred = try noise + Tensor.randn([2, 3, 16, 16], generator: g) * 0.1

        let first = try loss(predictedNoise: pred, noise: noise, noisy: noisy, target: target, timesteps: t)
        let mse = try F.mseLoss(pred, noise).item()
        XCTAssertFalse(first.imageLossesActive, "the gate decides from previous batches")
        // The loss's terms restated with the same ops; only the order of the means' 1536 terms may differ.
        let n = 2 * 3 * 16 * 16
        XCTAssertEqual(first.simple, mse, accuracy: RoundingBound.float32(accumulating: n, magnitude: mse))
        XCTAssertEqual(try first.total.item(), 10 * mse, accuracy: RoundingBound.float32(accumulating: n, magnitude: 10 * mse))

        let second = try loss(predictedNoise: pred, noise: noise, noisy: noisy, target: target, timesteps: t)
        XCTAssertTrue(second.imageLossesActive)
        let x0 = try schedule.predictX0(xt: noisy, eps: pred, timesteps: t).clamp(min: -1, max: 1)
        let reconstruction = try F.mseLoss(x0, target).item()
        XCTAssertEqual(try XCTUnwrap(second.reconstruction), reconstruction, accuracy: RoundingBound.float32(accumulating: n, magnitude: reconstruction))
        let lp = try XCTUnwrap(second.perceptual)
        XCTAssertGreaterThan(lp, 0)
        let total = 10 * mse + second.reconstruction! + lp
        XCTAssertEqual(try second.total.item(), total, accuracy: RoundingBound.float32(accumulating: n + 3, magnitude: total))
    }

    /// `.lpips` takes L_p from the provider (Metrics' LPIPS in the CLI) with gradients to the prediction, and is
    /// a clear error without one.
    func testLPIPSPerceptualLossComesFromTheProvider() throws {
        let schedule = try NoiseSchedule()
        var config = TGDMLossConfig()
        config.gateThreshold = 1e9
        config.gateMinimumSteps = 1
        config.perceptualNetwork = .lpips(backbone: "vgg16")
        let loss = try TGDMLoss(config: config, schedule: schedule)
        let g = Generator(seed: 2)
        let target = try Tensor.rand([2, 3, 16, 16], generator: g) * 2 - 1
        let noise = try Tensor.randn([2, 3, 16, 16], generator: g)
        let t = try Tensor([Int64(10), 500])
        let noisy = try schedule.addNoise(x0: target, noise: noise, timesteps: t)
        let pred = try (noise + Tensor.randn([2, 3, 16, 16], generator: g) * 0.1).requiresGrad(true)
        _ = try loss(predictedNoise: pred, noise: noise, noisy: noisy, target: target, timesteps: t)   // opens the gate
        XCTAssertThrowsError(try loss(predictedNoise: pred, noise: noise, noisy: noisy, target: target, timesteps: t)) { e in
            XCTAssertTrue("\(e)".contains("LPIPS"), "\(e)")
        }
        loss.perceptualProvider = { a, b in try (a - b).abs().mean() * 3 }
        let terms = try loss(predictedNoise: pred, noise: noise, noisy: noisy, target: target, timesteps: t)
        let x0 = try schedule.predictX0(xt: noisy, eps: pred, timesteps: t).clamp(min: -1, max: 1)
        let perceptual = try (x0 - target).abs().mean().item() * 3
        XCTAssertEqual(try XCTUnwrap(terms.perceptual), perceptual, accuracy: RoundingBound.float32(accumulating: 2 * 3 * 16 * 16, magnitude: perceptual))
        try terms.total.backward()
        XCTAssertGreaterThan(try XCTUnwrap(pred.grad).abs().sum().item(), 0)
    }

    func testPerceptualDistanceProperties() throws {
        let lpips = try PerceptualLoss(.randomVGG16(seed: 0, widthDivisor: 8))
        let g = Generator(seed: 2)
        let a = try Tensor.rand([2, 3, 32, 32], generator: g) * 2 - 1
        let b = try Tensor.rand([2, 3, 32, 32], generator: g) * 2 - 1
        XCTAssertEqual(try lpips(a, a).item(), 0, accuracy: 1e-7)   // equal features: their differences are exact zeros
        let dab = try lpips.distances(a, b), dba = try lpips.distances(b, a)
        XCTAssertEqual(dab.shape, [2])
        XCTAssertLessThan(try maxAbsDiff(dab, dba), 1e-6)   // (a − b)² = (b − a)²: the same floats, summed in the same order; 1e-6 names "equal"
        // A slightly perturbed image is closer than an unrelated one.
        let near = try a + Tensor.randn([2, 3, 32, 32], generator: g) * 0.02
        XCTAssertLessThan(try lpips(a, near).item(), try lpips(a, b).item())
        // Gradients reach the image, never the frozen network.
        let x = try b.clone().requiresGrad(true)
        try lpips(x, a).backward()
        XCTAssertGreaterThan(try XCTUnwrap(x.grad).abs().sum().item(), 0)
        XCTAssertTrue(lpips.network.namedParameters().isEmpty)
        XCTAssertThrowsError(try lpips(a, b.narrow(2, 0, 16)))
        XCTAssertThrowsError(try lpips(a.narrow(2, 0, 8).narrow(3, 0, 8), b.narrow(2, 0, 8).narrow(3, 0, 8)))
    }

    /// The pretrained path reads a torchvision-layout VGG16 and matches a torch forward. The keys and shapes come
    /// from torch's own `nn.Sequential` (scripts/fixtures/tgdm_vgg16_layout.py), not from the Swift index table;
    /// the weights are redrawn here from the per-key seeds (same libtorch generator) and written under those keys.
    func testPretrainedVGGLoadsTorchvisionLayout() throws {
        let url0 = try XCTUnwrap(Bundle.module.url(forResource: "vgg16_torchvision_layout", withExtension: "safetensors", subdirectory: "Fixtures"))
        let fixture = try Safetensors.load(url0)
        struct Entry: Decodable { let key: String; let shape: [Int]; let seed: UInt64; let scale: Double }
        let layout = try JSONDecoder().decode([Entry].self, from: Data(XCTUnwrap(fixture.metadata["layout"]).utf8))
        XCTAssertEqual(layout.count, 26)
        var torchvision: [String: Tensor] = [:]
        for e in layout { torchvision[e.key] = try Tensor.randn(e.shape, generator: Generator(seed: e.seed)) * e.scale }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("vgg16.safetensors")
        try Safetensors.save(torchvision, to: url)
        let loaded = try VGG16Features(pretrained: url)
        let x = try XCTUnwrap(fixture.tensors["input"])
        let taps = try Torch.noGrad { try loaded.taps(x) }
        XCTAssertEqual(taps.map(\.shape), [[1, 64, 16, 16], [1, 128, 8, 8], [1, 256, 4, 4], [1, 512, 2, 2], [1, 512, 1, 1]])
        // The fan-in (Cin·3·3) of every convolution up to each tap: the accumulations whose order differs between
        // torch's kernels and ours on another CPU or thread count.
        var fanIns: [[Int]] = [], chain: [Int] = [], inC = 3
        for block in [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]] {
            for outC in block { chain.append(inC * 9); inC = outC }
            fanIns.append(chain)
        }
        for (k, tap) in taps.enumerated() {
            let reference = try XCTUnwrap(fixture.tensors["tap\(k)"])
            let scale = try reference.abs().max().item()
            let diff = try maxAbsDiff(tap, reference)
            // Float32 rounding of the chain of convolutions, relative to the tap's size (RoundingBound): 2e-5 to
            // 5e-4 here; measured 0 (one thread, AVX2) to 6e-7 (AVX-512). A key or layout mistake gives O(max |ref|).
            let gate = RoundingBound.float32(accumulatingChain: fanIns[k], magnitude: scale)
            print("VGG16 torchvision layout: tap \(k) max |Swift − torch| = \(diff) (max |ref| \(scale), gate \(gate))")
            XCTAssertLessThanOrEqual(diff, gate, "tap \(k) (max |ref| \(scale))")
        }
        let narrow5 = try VGG16Features(randomSeed: 5, widthDivisor: 8).taps(x)[4].floats()
        XCTAssertEqual(narrow5, try VGG16Features(randomSeed: 5, widthDivisor: 8).taps(x)[4].floats(), "the seed fixes the network")
        XCTAssertNotEqual(narrow5, try VGG16Features(randomSeed: 6, widthDivisor: 8).taps(x)[4].floats())

        torchvision["features.28.weight"] = nil
        try Safetensors.save(torchvision, to: url)
        XCTAssertThrowsError(try VGG16Features(pretrained: url)) { XCTAssertTrue("\($0)".contains("features.28.weight")) }
        XCTAssertThrowsError(try VGG16Features(pretrained: dir.appendingPathComponent("missing.safetensors")))
    }
}
