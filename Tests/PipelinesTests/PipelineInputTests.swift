import FaceModel
import Media
import XCTest
@testable import Pipelines

final class PipelineInputTests: XCTestCase {
    func testMissingCheckpointIsAClearError() throws {
        let renderer = try FaceRenderer.makeDefault()
        XCTAssertThrowsError(try TalkingFacePipeline(checkpoint: URL(fileURLWithPath: "/nonexistent/tgdm.safetensors"), renderer: renderer)) { e in
            XCTAssertTrue("\(e)".contains("no TGDM model"), "\(e)")
        }
    }

    func testSquareTensorCropsTheCentre() throws {
        // A 6×4 image whose centre 4×4 square is white and whose side columns are black.
        var img = try RGBImage(width: 6, height: 4)
        for y in 0..<4 { for x in 1..<5 { img.setPixel(x: x, y: y, (255, 255, 255)) } }
        let t = try TalkingFacePipeline.squareTensor(img, size: 4)
        XCTAssertEqual(t.shape, [1, 3, 4, 4])
        XCTAssertEqual(try t.min().item(), 1, accuracy: 1e-6)
    }
}
