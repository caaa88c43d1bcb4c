import Torch
import XCTest
@testable import TGDMModel

/// TexAtt and the AdaIN residual block against python3-torch reference modules with the same weights:
/// outputs, attention maps and input gradients.
final class BlockParityTests: XCTestCase {
    override func setUp() {
        useOneThread()
        XCTAssertFalse(Fixture.blocks.isEmpty, "fixture tgdm_blocks.safetensors is missing")
    }

    func testTexAttMatchesReference() throws {
        let block = try TexAttBlock(channels: 16, sourceChannels: 12)
        try block.load(Fixture.state("texatt"))
        let fd = try Fixture.tensor("texatt_in.fd").clone().requiresGrad(true)
        let fs = try Fixture.tensor("texatt_in.fs").clone().requiresGrad(true)
        let (y, attention) = try block.fuse(noise: fd, source: fs, returnAttention: true)
        // Query/key/value projections (fan-in ≤ 16), scores over 16 channels, softmax and weighted sum over the
        // 25 source positions, output projection (16); backward runs it back and τ's gradient sums 2·36·25 scores.
        let forward = [16, 16, 25, 25, 16], backward = forward + forward, tau = backward + [2 * 36 * 25]
        try assertWithinRounding(y, Fixture.tensor("texatt_out.y"), forward, "y")
        let map = try XCTUnwrap(attention)
        XCTAssertEqual(map.shape, [2, 36, 25])
        try assertWithinRounding(map, Fixture.tensor("texatt_out.attention"), [16, 16, 25], "attention")

        try (y * Fixture.tensor("texatt_out.r")).sum().backward()
        try assertWithinRounding(XCTUnwrap(fd.grad), Fixture.tensor("texatt_out.grad_fd"), backward, "grad fd")
        try assertWithinRounding(XCTUnwrap(fs.grad), Fixture.tensor("texatt_out.grad_fs"), backward, "grad fs")
        try assertWithinRounding(XCTUnwrap(block.tau.grad), Fixture.tensor("texatt_out.grad_tau"), tau, "grad tau")
    }

    func testAdaINResBlockMatchesReference() throws {
        let block = try AdaINResBlock(inChannels: 8, outChannels: 16, conditionDim: 10, groups: 4)
        try block.load(Fixture.state("adain"))
        let x = try Fixture.tensor("adain_in.x").clone().requiresGrad(true)
        let c = try Fixture.tensor("adain_in.c").clone().requiresGrad(true)
        let y = try block(x, condition: c)
        // Group norm (2 channels × 36 positions), conv 8·9 + bias, the condition's linear map (10 + bias), instance
        // norm (36), conv 16·9 + bias, the 1×1 skip (8 + bias); backward runs it back and c's gradient sums
        // 16 channels × 36 positions.
        let forward = [72, 73, 11, 36, 145, 9], backward = forward + forward + [16 * 36]
        try assertWithinRounding(y, Fixture.tensor("adain_out.y"), forward, "y")
        try (y * Fixture.tensor("adain_out.r")).sum().backward()
        try assertWithinRounding(XCTUnwrap(x.grad), Fixture.tensor("adain_out.grad_x"), backward, "grad x")
        try assertWithinRounding(XCTUnwrap(c.grad), Fixture.tensor("adain_out.grad_c"), backward, "grad c")
    }

    func testSinusoidalEmbeddingMatchesReference() throws {
        let emb = try sinusoidalEmbedding(Fixture.tensor("sinusoid.t"), dim: 32)
        // The argument t·ω is rounded (and ω = exp(…) is one ulp of each ISA's exp): sin/cos are known to
        // about u·|t·ω| ≤ u·max t.
        let gate = try RoundingBound.float32(accumulating: 2, magnitude: Fixture.tensor("sinusoid.t").abs().max().item())
        let diff = try maxAbsDiff(emb, Fixture.tensor("sinusoid.emb"))
        print("sinusoid vs reference: max abs diff \(diff), gate \(gate)")
        XCTAssertLessThan(diff, gate)
    }

    /// Fails unless |a − e| stays within float32 rounding of the chain of accumulations `chain`, relative to the
    /// reference's largest element; prints the achieved fraction of the gate.
    func assertWithinRounding(_ a: Tensor, _ e: Tensor, _ chain: [Int], _ what: String,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        let gate = try RoundingBound.float32(accumulatingChain: chain, magnitude: e.abs().max().item())
        let diff = try maxAbsDiff(a, e)
        print("\(name) \(what): max abs diff \(diff), gate \(gate)")
        XCTAssertLessThan(diff, gate, what, file: file, line: line)
    }

    /// The checkpoint keys of the blocks are the reference modules' state-dict keys.
    func testKeysMatchTorchStateDict() throws {
        let tex = try TexAttBlock(channels: 16, sourceChannels: 12)
        XCTAssertEqual(Set(tex.stateDict().keys), Set(Fixture.state("texatt").keys))
        let res = try AdaINResBlock(inChannels: 8, outChannels: 16, conditionDim: 10, groups: 4)
        XCTAssertEqual(Set(res.stateDict().keys), Set(Fixture.state("adain").keys))
    }
}
