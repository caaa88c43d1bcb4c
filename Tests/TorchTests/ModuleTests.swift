import Foundation
import XCTest
import Torch

final class ModuleTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    final class Block: Module, UnaryLayer {
        let conv: Conv2d
        let norm: GroupNorm?
        let skip: Linear?          // nil: must not appear
        init(_ c: Int, withNorm: Bool, seed: UInt64) throws {
            conv = try Conv2d(c, c, kernel: 3, generator: Generator(seed: seed))
            norm = withNorm ? try GroupNorm(groups: 1, channels: c) : nil
            skip = nil
            super.init()
        }
        func callAsFunction(_ x: Tensor) throws -> Tensor { try x + conv(norm.map { try $0(x) } ?? x).silu() }
    }

    class Base: Module {
        let scale: Tensor
        override init() { scale = try! Tensor.ones([1]).requiresGrad(true); super.init() }
    }

    final class Net: Base {
        let stem: Linear
        let blocks: [Block]
        let heads: [String: Linear]
        let bases: [Tensor]
        let table: Tensor          // buffer: saved, not trained
        let noBias: Linear
        let cache: Tensor?         // nil
        let _scratch: Tensor       // underscore: skipped
        let width = 4              // not state
        lazy var derived: Tensor = try! Tensor.zeros([1]) // lazy: skipped

        init(seed: UInt64) throws {
            stem = try Linear(3, 4, generator: Generator(seed: seed))
            blocks = [try Block(4, withNorm: true, seed: seed + 1), try Block(4, withNorm: false, seed: seed + 2)]
            heads = ["mouth": try Linear(4, 2, generator: Generator(seed: seed + 3)),
                     "eyes": try Linear(4, 1, generator: Generator(seed: seed + 4))]
            bases = [try Tensor.randn([2], generator: Generator(seed: seed + 5)).requiresGrad(true), try Tensor.zeros([3])]
            table = try Tensor.arange(0, 6).reshape([2, 3])
            noBias = try Linear(4, 4, bias: false, generator: Generator(seed: seed + 6))
            cache = nil
            _scratch = try Tensor.zeros([5])
            super.init()
        }
    }

    static let expectedKeys = [
        "scale",
        "stem.weight", "stem.bias",
        "blocks.0.conv.weight", "blocks.0.conv.bias", "blocks.0.norm.weight", "blocks.0.norm.bias",
        "blocks.1.conv.weight", "blocks.1.conv.bias",
        "heads.eyes.weight", "heads.eyes.bias", "heads.mouth.weight", "heads.mouth.bias",
        "bases.0", "bases.1",
        "table",
        "noBias.weight",
    ]

    func testParameterPathsOfANestedModule() throws {
        let net = try Net(seed: 1)
        _ = net.derived
        XCTAssertEqual(net.namedTensors().map { $0.0 }, Self.expectedKeys)
        XCTAssertEqual(net.namedBuffers().map { $0.0 }, ["bases.1", "table"])
        XCTAssertEqual(net.namedParameters().count, Self.expectedKeys.count - 2)
        XCTAssertEqual(net.parameterCount, 1 + 16 + 2 * (144 + 4) + 8 + 10 + 5 + 2 + 16)
        XCTAssertEqual(net.namedModules().map { $0.0 },
                       ["", "stem", "blocks.0", "blocks.0.conv", "blocks.0.norm", "blocks.1", "blocks.1.conv",
                        "heads.eyes", "heads.mouth", "noBias"])
        net.eval()
        XCTAssertFalse(net.blocks[1].conv.training)
        net.train()
        XCTAssertTrue(net.blocks[1].conv.training)
    }

    func testTiedWeightsAreOneParameter() throws {
        final class Tied: Module {
            let a: Linear, b: Linear
            let shared: Tensor
            override init() {
                a = try! Linear(2, 2); b = try! Linear(2, 2)
                shared = a.weight
                super.init()
            }
        }
        let m = Tied()
        XCTAssertEqual(m.namedTensors().count, 5)
        XCTAssertEqual(m.namedParameters().map { $0.0 }, ["a.weight", "a.bias", "b.weight", "b.bias"])
        XCTAssertNoThrow(try AdamW(module: m))
    }

    func testSaveLoadRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("module-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("net.safetensors")
        let a = try Net(seed: 1), b = try Net(seed: 50)
        XCTAssertNotEqual(try a.stem.weight.floats(), try b.stem.weight.floats())
        try a.save(to: url, metadata: ["epoch": "3"])
        let meta = try b.load(from: url)
        XCTAssertEqual(meta["epoch"], "3")
        let sa = a.stateDict(), sb = b.stateDict()
        XCTAssertEqual(Set(sa.keys), Set(Self.expectedKeys))
        for (k, t) in sa { try assertClose(XCTUnwrap(sb[k]), t, atol: 0, rtol: 0, k) }   // exact: a save/load round trip
        XCTAssertTrue(b.stem.weight.requiresGrad, "loading keeps parameters trainable")
        let x = try Tensor.randn([1, 4, 5, 5], generator: Generator(seed: 3))
        try assertClose(b.blocks[0](x), a.blocks[0](x), atol: 0, rtol: 0, "same weights, same output")   // exact: the same code on equal weights
    }

    func testStrictLoadReportsMissingUnexpectedAndMismatchedKeys() throws {
        let net = try Net(seed: 1)
        var state = try Net(seed: 2).stateDict()
        state.removeValue(forKey: "stem.bias")
        state["extra.weight"] = try Tensor.zeros([1])
        let before = try net.stem.weight.floats()
        let strict = torchErrorMessage { try net.load(state, strict: true) }
        XCTAssertTrue(strict.contains("missing keys: stem.bias"), strict)
        XCTAssertTrue(strict.contains("unexpected keys: extra.weight"), strict)
        XCTAssertEqual(try net.stem.weight.floats(), before, "a failed load changes nothing")

        let report = try net.load(state, strict: false)
        XCTAssertEqual(report.missing, ["stem.bias"])
        XCTAssertEqual(report.unexpected, ["extra.weight"])
        XCTAssertNotEqual(try net.stem.weight.floats(), before)

        state["stem.bias"] = try Tensor.zeros([5])
        let mismatch = torchErrorMessage { try net.load(state, strict: false) }
        XCTAssertTrue(mismatch.contains("stem.bias (checkpoint [5], model [4])"), mismatch)
    }

    func testModuleToDTypeKeepsIdentityAndTrainability() throws {
        let net = try Net(seed: 1)
        let weight = net.stem.weight
        let opt = try AdamW(module: net)
        try net.to(.float64)
        XCTAssertTrue(weight === net.stem.weight)
        XCTAssertEqual(net.stem.weight.dtype, .float64)
        XCTAssertTrue(net.stem.weight.requiresGrad)
        XCTAssertEqual(net.table.dtype, .float64)
        XCTAssertEqual(net.device, .cpu)
        try net.to(.cpu) // a no-op on the CPU
        // The optimiser still holds the same objects and updates the converted storage.
        let before = try net.stem.weight.toArray(Double.self)
        let y = try net.stem(Tensor.ones([2, 3], dtype: .float64))
        try y.sum().backward()
        try opt.update()
        XCTAssertNotEqual(try net.stem.weight.toArray(Double.self), before)
        XCTAssertThrowsError(try net.to(.int64))
    }

    func testContainersAndLayers() throws {
        let g = Generator(seed: 3)
        let seq = Sequential(try Linear(3, 5, generator: g), ActivationLayer(.relu), try Dropout(0.5), try Linear(5, 2, generator: g))
        XCTAssertEqual(seq.namedTensors().map { $0.0 }, ["layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias"])
        let x = try Tensor.randn([4, 3], generator: g)
        seq.eval()
        let manual = try (seq.layers[3] as! Linear)((seq.layers[0] as! Linear)(x).relu())
        try assertClose(seq(x), manual, atol: 0, rtol: 0, "Sequential in eval mode")   // exact: the same layers called in the same order
        seq.train()
        XCTAssertTrue(seq.layers[2].training)

        let c1 = try Conv1d(4, 6, kernel: 5, stride: 2)
        XCTAssertEqual(try c1(Tensor.zeros([2, 4, 16])).shape, [2, 6, 8])
        let up = try ConvTranspose2d(4, 3, kernel: 4, stride: 2, padding: 1)
        XCTAssertEqual(up.weight.shape, [4, 3, 4, 4])
        XCTAssertEqual(try up(Tensor.zeros([1, 4, 5, 7])).shape, [1, 3, 10, 14])
        let dil = try Conv2d(2, 2, kernel: 3, dilation: 2)
        XCTAssertEqual(try dil(Tensor.zeros([1, 2, 9, 9])).shape, [1, 2, 9, 9])
        XCTAssertTrue(try Identity()(x) === x)
        let gru = try GRU(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true)
        let (o, h) = try gru(Tensor.zeros([2, 5, 3]))
        XCTAssertEqual(o.shape, [2, 5, 8])
        XCTAssertEqual(h.shape, [4, 2, 4])
        XCTAssertEqual(gru.namedParameters().count, 16)
        XCTAssertEqual(gru.namedParameters().first?.0, "layers.0.weightIH")
    }
}
