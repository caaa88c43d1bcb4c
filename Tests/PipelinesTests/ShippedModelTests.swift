import FaceModel
import Foundation
import Media
@testable import Pipelines
import TGDMModel
import Torch
import XCTest

/// The bundled generators, loaded and sampled once with their own default samplers.
final class ShippedModelTests: XCTestCase {
    func testBundledModelLoadsWithItsSamplerAndFollowsTheRenderedGeometry() throws {
        Torch.configureThreads(1)
        let p = try TalkingFacePipeline()
        XCTAssertEqual(p.modelSize, 64)
        XCTAssertTrue(p.generator.config.sourceWarp)
        XCTAssertEqual(p.bundle.defaultSampler.kind, .ddim)
        XCTAssertEqual(p.bundle.defaultSampler.steps, 25)
        XCTAssertEqual(p.bundle.defaultSampler.eta, 1)
        XCTAssertEqual(p.bundle.defaultStartStrength, 0.3)
        try checkFollowsGeometry(p)
    }

    /// The texAtt model without the warp input (the default before issue #10), from noise with DDIM 50.
    func testTexAttModelLoadsWithItsSamplerAndFollowsTheRenderedGeometry() throws {
        Torch.configureThreads(1)
        let p = try TalkingFacePipeline(model: ModelResources.default.url(for: .tgdmTexAtt))
        XCTAssertFalse(p.generator.config.sourceWarp)
        XCTAssertEqual(p.bundle.defaultSampler, TGDMModelBundle.standardSampler)
        XCTAssertNil(p.bundle.defaultStartStrength)
        try checkFollowsGeometry(p)
    }

    func checkFollowsGeometry(_ p: TalkingFacePipeline) throws {
        var config = PipelineConfiguration()
        config.framing = .crop
        config.outputSize = 64
        config.composition = .generator
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let driver = try p.portrait(samples.appendingPathComponent("driving.png"))
        let frame = try p.generate(.reenact(source: source, driver: .image(driver)), configuration: config).frames[0]
        // Inside the rendered face the generated picture follows I_3d's shading: their correlation over the
        // face region is clearly positive (a model that ignored I_3d would sit near 0).
        let face = try frame.render.gt(-0.999).to(.float32).max([0], keepDim: true)
        func centred(_ t: Tensor) throws -> Tensor {
            let grey = try t.mean(dim: 0, keepDim: true)
            let m = try (grey * face).sum() / face.sum()
            return try (grey - m) * face
        }
        let a = try centred(frame.face), b = try centred(frame.render)
        let correlation = try (a * b).sum().item() / ((a.square().sum().item() * b.square().sum().item()).squareRoot() + 1e-12)
        print("\(p.generator.config.sourceWarp ? "warp" : "texAtt") model: face/I_3d correlation \(correlation)")
        XCTAssertGreaterThan(correlation, 0.3)
        XCTAssertTrue(try frame.face.isFinite())
    }
}
