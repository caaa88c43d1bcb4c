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
        XCTAssertLessThan(try maxAbsDiff(y, Fixture.tensor("texatt_out.y")), 1e-5)
        let map = try XCTUnwrap(attention)
        XCTAssertEqual(map.shape, [2, 36, 25])
        XCTAssertLessThan(try maxAbsDiff(map, Fixture.tensor("texatt_out.attention")), 1e-6)

        try (y * Fixture.tensor("texatt_out.r")).sum().backward()
        XCTAssertLessThan(try maxAbsDiff(XCTUnwrap(fd.grad), Fixture.tensor("texatt_out.grad_fd")), 1e-5)
        XCTAssertLessThan(try maxAbsDiff(XCTUnwrap(fs.grad), Fixture.tensor("texatt_out.grad_fs")), 1e-5)
        XCTAssertLessThan(try maxAbsDiff(XCTUnwrap(block.tau.grad), Fixture.tensor("texatt_out.grad_tau")), 1e-4)
    }

    func testAdaINResBlockMatchesReference() throws {
        let block = try AdaINResBlock(inChannels: 8, outChannels: 16, conditionDim: 10, groups: 4)
        try block.load(Fixture.state("adain"))
        let x = try Fixture.tensor("adain_in.x").clone().requiresGrad(true)
        let c = try Fixture.tensor("adain_in.c").clone().requiresGrad(true)
        let y = try block(x, condition: c)
        XCTAssertLessThan(try maxAbsDiff(y, Fixture.tensor("adain_out.y")), 1e-5)
        try (y * Fixture.tensor("adain_out.r")).sum().backward()
        XCTAssertLessThan(try maxAbsDiff(XCTUnwrap(x.grad), Fixture.tensor("adain_out.grad_x")), 1e-4)
        XCTAssertLessThan(try maxAbsDiff(XCTUnwrap(c.grad), Fixture.tensor("adain_out.grad_c")), 1e-4)
    }

    func testSinusoidalEmbeddingMatchesReference() throws {
        let emb = try sinusoidalEmbedding(Fixture.tensor("sinusoid.t"), dim: 32)
        XCTAssertLessThan(try maxAbsDiff(emb, Fixture.tensor("sinusoid.emb")), 1e-5)
    }

    /// The checkpoint keys of the blocks are the reference modules' state-dict keys.
    func testKeysMatchTorchStateDict() throws {
        let tex = try TexAttBlock(channels: 16, sourceChannels: 12)
        XCTAssertEqual(Set(tex.stateDict().keys), Set(Fixture.state("texatt").keys))
        let res = try AdaINResBlock(inChannels: 8, outChannels: 16, conditionDim: 10, groups: 4)
        XCTAssertEqual(Set(res.stateDict().keys), Set(Fixture.state("adain").keys))
    }
}
