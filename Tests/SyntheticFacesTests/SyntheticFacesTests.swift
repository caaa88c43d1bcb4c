import Torch
import FaceModel
import XCTest
@testable import SyntheticFaces

final class SyntheticFacesTests: XCTestCase {
    static let model: MorphableModel = try! MorphableModel.loadDefault()

    override func setUp() { Torch.configureThreads() }

    func makeDataset(seed: UInt64) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(seed)-\(UUID().uuidString).safetensors")
        let cfg = SyntheticDatasetConfig(size: 32, identities: 3, framesPerIdentity: 3, testIdentities: 1, seed: seed)
        try SyntheticDataset.generate(cfg, model: Self.model, to: url)
        return url
    }

    func testGenerationIsDeterministicAndSeedDependent() throws {
        let a = try makeDataset(seed: 7), b = try makeDataset(seed: 7), c = try makeDataset(seed: 8)
        defer { for u in [a, b, c] { try? FileManager.default.removeItem(at: u) } }
        let fa = try Safetensors.load(a), fb = try Safetensors.load(b), fc = try Safetensors.load(c)
        XCTAssertEqual(fa.metadata, fb.metadata)
        for key in ["images", "renders", "coefficients", "identity"] {
            let x = try XCTUnwrap(fa.tensors[key]), y = try XCTUnwrap(fb.tensors[key])
            XCTAssertEqual(try x.to(.float64).toArray(Double.self), try y.to(.float64).toArray(Double.self), key)
        }
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b))
        XCTAssertNotEqual(try fa.tensors["images"]!.to(.float64).toArray(Double.self),
                          try fc.tensors["images"]!.to(.float64).toArray(Double.self))
    }

    func testPairsComeFromOneIdentityAndSplitsAreDisjoint() throws {
        let url = try makeDataset(seed: 1)
        defer { try? FileManager.default.removeItem(at: url) }
        let train = try SyntheticPairDataset(url: url, split: .train)
        let test = try SyntheticPairDataset(url: url, split: .test)
        XCTAssertEqual(train.count, 2 * 3 * 2)
        XCTAssertEqual(test.count, 1 * 3 * 2)
        var trainFrames = Set<Int>(), testFrames = Set<Int>()
        for i in 0..<train.count {
            let (s, t) = train.pair(at: i)
            XCTAssertNotEqual(s, t)
            XCTAssertEqual(s / 3, t / 3, "source and target must be the same identity")
            trainFrames.formUnion([s, t])
        }
        for i in 0..<test.count { let (s, t) = test.pair(at: i); testFrames.formUnion([s, t]) }
        XCTAssertTrue(trainFrames.isDisjoint(with: testFrames))
        XCTAssertEqual(testFrames, Set(6..<9))
    }

    func testExamplesHaveDetailTheRenderLacks() throws {
        let url = try makeDataset(seed: 2)
        defer { try? FileManager.default.removeItem(at: url) }
        let ds = try SyntheticPairDataset(url: url, split: .all)
        let e = try ds.sample(at: 0)
        XCTAssertEqual(e.source.shape, [3, 32, 32])
        XCTAssertEqual(e.render.shape, [3, 32, 32])
        XCTAssertEqual(e.coefficients.shape, [261])
        XCTAssertLessThanOrEqual(try e.target.max().item(), 1.0001)
        XCTAssertGreaterThanOrEqual(try e.target.min().item(), -1.0001)
        // The render has a black background; the photo-like target does not, and they differ on the face.
        let renderBackground = try e.render.eq(-1.0).to(.float32).mean().item()
        let targetBackground = try e.target.eq(-1.0).to(.float32).mean().item()
        XCTAssertGreaterThan(renderBackground, 0.1)
        XCTAssertLessThan(targetBackground, renderBackground)
        XCTAssertGreaterThan(try (e.target - e.render).abs().mean().item(), 0.05)
        // Source and target of a pair show different motion of the same person.
        XCTAssertGreaterThan(try (e.source - e.target).abs().mean().item(), 0.01)
    }

    func testSwapExamplesHideTheFaceButKeepTheRest() throws {
        let url = try makeDataset(seed: 3)
        defer { try? FileManager.default.removeItem(at: url) }
        let ds = try SyntheticSwapDataset(url: url, split: .train)
        XCTAssertEqual(ds.count, 2 * 3)
        let e = try ds.sample(at: 1)
        let face = try e.render.gt(-0.999).to(.float32).max([0])                  // H×W
        let faceFraction = try face.mean().item()
        XCTAssertGreaterThan(faceFraction, 0.1)
        // Inside the face the source is blank except the mouth interior (the paper's "Small" mask), which
        // shows the target itself; far outside the face the source equals the target.
        let shown = try e.source.abs().sum([0]).gt(0).to(.float32) * face             // H×W
        let shownFraction = try shown.sum().item() / max(try face.sum().item(), 1)
        XCTAssertLessThan(shownFraction, 0.15)
        XCTAssertEqual(try ((e.source - e.target).abs() * shown).sum().item(), 0, accuracy: 1e-5)   // the same pixels copied: exact zeros, 1e-5 only names "nothing"
        let outside = try 1.0 - F.maxPool2d(face.unsqueeze(0).unsqueeze(0), kernel: 5, stride: 1, padding: 2).squeeze(0).squeeze(0)
        XCTAssertEqual(try ((e.source - e.target).abs() * outside).sum().item(), 0, accuracy: 1e-5)   // as above: copied pixels
        XCTAssertGreaterThan(try (e.target.abs() * face).sum().item(), 1)
    }

    func testRejectsBadConfigAndForeignFiles() throws {
        XCTAssertThrowsError(try SyntheticDatasetConfig(size: 8).validate())
        XCTAssertThrowsError(try SyntheticDatasetConfig(identities: 4, testIdentities: 4).validate())
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("foreign-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try Safetensors.save(["x": try Tensor.zeros([2])], to: url)
        XCTAssertThrowsError(try SyntheticPairDataset(url: url, split: .train)) { e in
            XCTAssertTrue("\(e)".contains("not a synthetic face dataset"), "\(e)")
        }
    }
}

/// The paper's "Small" swap mask: the face is masked out but the mouth interior stays visible.
final class SwapMaskTests: XCTestCase {
    func testSmallMaskKeepsTheMouthInterior() throws {
        let image = try Tensor.rand([3, 16, 16], generator: Generator(seed: 1)) * 2 - 1
        var render = try Tensor.full([3, 16, 16], -1.0)
        render = try render + F.pad(Tensor.full([3, 8, 8], 1.5), [4, 4, 4, 4])   // a face square in the middle
        var keep = try Tensor.zeros([1, 16, 16])
        keep = try keep + F.pad(Tensor.ones([1, 2, 2]), [7, 7, 9, 5])           // the mouth: rows 9-10, columns 7-8
        let normal = try FaceMasking.maskFace(image: image, render: render, dilate: 0)
        let small = try FaceMasking.maskFace(image: image, render: render, dilate: 0, keep: keep)
        XCTAssertEqual(try normal.narrow(1, 4, 8).narrow(2, 4, 8).abs().max().item(), 0, "the face is masked")
        // Exact: the mask multiplies by exactly 1.0 or 0.0.
        XCTAssertEqual(try small.narrow(1, 9, 2).narrow(2, 7, 2).floats(), try image.narrow(1, 9, 2).narrow(2, 7, 2).floats(), "the mouth stays")
        XCTAssertEqual(try small.narrow(1, 4, 4).narrow(2, 4, 8).abs().max().item(), 0, "the rest of the face is masked")
        XCTAssertEqual(try small.narrow(1, 0, 3).floats(), try image.narrow(1, 0, 3).floats(), "the background stays")
    }
}
