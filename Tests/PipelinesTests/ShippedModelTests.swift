import FaceModel
import Foundation
import Media
@testable import Pipelines
import TGDMModel
import Torch
import XCTest

/// The bundled generator, loaded and sampled once with its own default sampler.
final class ShippedModelTests: XCTestCase {
    func testBundledModelLoadsWithItsSamplerAndFollowsTheRenderedGeometry() throws {
        Torch.configureThreads(1)
        let p = try TalkingFacePipeline()
        XCTAssertEqual(p.modelSize, 64)
        XCTAssertEqual(p.bundle.defaultSampler.kind, .ddim)
        XCTAssertEqual(p.bundle.defaultSampler.steps, 50)
        XCTAssertEqual(p.bundle.defaultSampler.eta, 1)
        var config = PipelineConfiguration()
        config.framing = .crop
        config.outputSize = 64
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
        print("bundled model: face/I_3d correlation \(correlation)")
        XCTAssertGreaterThan(correlation, 0.3)
        XCTAssertTrue(try frame.face.isFinite())
    }
}
