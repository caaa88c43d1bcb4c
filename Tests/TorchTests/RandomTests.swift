import Foundation
import XCTest
import Torch

/// A seeded `Generator` must draw exactly what `torch.Generator().manual_seed(seed)` draws in python3-torch.
final class RandomTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    /// Box-Muller turns the exact integer stream into normals through log, sqrt and cos, whose libm or SIMD
    /// (Sleef, AVX2 and wider) versions are accurate to about one ulp each but are chosen by the CPU: a few ulps
    /// of the radius (≤ √(2·ln 2²⁴) ≈ 5.8) apart. A wrong seed, stream position or transform is off by O(1).
    static func normalTolerance(unitRoundoff u: Double) -> (atol: Double, rtol: Double) { (atol: 5.8 * 8 * u, rtol: 8 * u) }

    func testSeededDrawsMatchPyTorch() throws {
        let f = try Fixture.load("torch_rng").tensors
        let n32 = Self.normalTolerance(unitRoundoff: RoundingBound.float32UnitRoundoff)
        try assertClose(Tensor.randn([5], generator: Generator(seed: 42)), f.required("randn_5_seed42"), atol: n32.atol, rtol: n32.rtol, "randn [5]")
        // 16 or more elements take libtorch's vectorised normal path; both paths must match.
        try assertClose(Tensor.randn([4, 257], generator: Generator(seed: 42)), f.required("randn_4x257_seed42"), atol: n32.atol, rtol: n32.rtol,
                        "randn [4, 257]")
        let r64 = try Tensor.randn([6], generator: Generator(seed: 42), dtype: .float64)
        XCTAssertEqual(r64.dtype, .float64)
        let n64 = Self.normalTolerance(unitRoundoff: Double.ulpOfOne / 2)
        try assertClose(r64, f.required("randn_f64_6_seed42"), atol: n64.atol, rtol: n64.rtol, "randn float64")
        // Uniform draws are the stream's integers times 2⁻²⁴: exact on every CPU.
        try assertClose(Tensor.rand([3, 7], generator: Generator(seed: 7)), f.required("rand_3x7_seed7"), atol: 0, rtol: 0, "rand")
        let ri = try Tensor.randint(0, 10, [20], generator: Generator(seed: 3))
        XCTAssertEqual(try ri.toArray(Int64.self), try f.required("randint_0_10_20_seed3").toArray(Int64.self))
        let rp = try Tensor.randperm(12, generator: Generator(seed: 5))
        XCTAssertEqual(try rp.toArray(Int64.self), try f.required("randperm_12_seed5").toArray(Int64.self))
    }

    func testGeneratorStateAdvancesLikePyTorch() throws {
        let f = try Fixture.load("torch_rng").tensors
        let g = Generator(seed: 9)
        let n = Self.normalTolerance(unitRoundoff: RoundingBound.float32UnitRoundoff)
        try assertClose(Tensor.randn([3], generator: g), f.required("sequence_seed9_first_3"), atol: n.atol, rtol: n.rtol, "first draw")
        try assertClose(Tensor.randn([17], generator: g), f.required("sequence_seed9_then_17"), atol: n.atol, rtol: n.rtol, "second draw")
        g.reseed(9)
        try assertClose(Tensor.randn([3], generator: g), f.required("sequence_seed9_first_3"), atol: n.atol, rtol: n.rtol, "after reseed")
    }

    func testDifferentSeedsDiffer() throws {
        let a = try Tensor.randn([8], generator: Generator(seed: 1)).floats()
        let b = try Tensor.randn([8], generator: Generator(seed: 2)).floats()
        XCTAssertNotEqual(a, b)
    }

    func testSeededDropoutIsReproducible() throws {
        let x = try Tensor.ones([1000])
        let a = try F.dropout(x, p: 0.3, training: true, generator: Generator(seed: 4)).floats()
        let b = try F.dropout(x, p: 0.3, training: true, generator: Generator(seed: 4)).floats()
        XCTAssertEqual(a, b)
        let zeros = a.filter { $0 == 0 }.count
        XCTAssertTrue((220...380).contains(zeros), "\(zeros) of 1000 dropped at p = 0.3")
        for v in a where v != 0 { XCTAssertEqual(v, 1 / 0.7, accuracy: 1e-6) }
        XCTAssertEqual(try F.dropout(x, p: 0.3, training: false).floats(), try x.floats())
        XCTAssertThrowsError(try F.dropout(x, p: 1.5, training: true))
    }
}
