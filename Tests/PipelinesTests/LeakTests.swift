import Foundation
import Pipelines
import Torch
import XCTest

/// Whole jobs free every tensor they make (no retain cycles holding tensors): the shim's live-handle counter
/// is back at its baseline after each run.
final class PipelineLeakTests: XCTestCase {
    func testJobsReleaseEveryTensor() throws {
        var config = PipelineConfiguration()
        config.batchSize = 2
        config.outputSize = 32
        config.framing = .crop
        func run() throws {
            let p = try tinyPipeline()
            let source = try p.portrait(samples.appendingPathComponent("source.png"))
            let driver = try p.portrait(samples.appendingPathComponent("driving.png"))
            _ = try p.generate(.reenact(source: source, driver: .image(driver)), configuration: config)
            let video = VideoDriver(url: samples.appendingPathComponent("driving_video.mp4"), maxFrames: 3)
            let stream = try p.frames(for: .reenact(source: source, driver: .video(video)), configuration: config)
            while try stream.next() != nil {}
        }
        try run()   // lazily loaded constants (the face model, cascades) stay alive after the first run
        let baseline = Torch.liveTensorCount
        try run()
        XCTAssertEqual(Torch.liveTensorCount, baseline, "tensor handles leaked by a pipeline run")
    }
}
