import Torch
import Foundation
import XCTest
@testable import FaceModel
import Media

enum Shared {
    /// The default model and a renderer, loaded once for the whole test target.
    nonisolated(unsafe) static let renderer: FaceRenderer = {
        Torch.configureThreads()
        return try! FaceRenderer.makeDefault()
    }()
    static var model: MorphableModel { renderer.model }
}

func fixtureURL(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
}

func makeTempDir(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("face-tests-\(safe)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes N×3×H×W images side by side as a PNG when FACE_TEST_OUTPUT is set (for looking at them).
func debugSave(_ images: Tensor, _ name: String) {
    guard let dir = ProcessInfo.processInfo.environment["FACE_TEST_OUTPUT"] else { return }
    do {
        let n = images.size(0)
        let row = try Tensor.cat((0..<n).map { try images.select(0, $0) }, dim: 2)
        try RGBImage(tensor: row).write(to: URL(fileURLWithPath: dir).appendingPathComponent(name + ".png"))
    } catch {
        print("debugSave failed: \(error)")
    }
}

/// Coefficients with a few parts set from plain arrays.
func coefficients(expression: [Int: Float] = [:], angles: [Float] = [0, 0, 0], translation: [Float] = [0, 0, 0],
                  light: [Float]? = nil, identity: [Int: Float] = [:], gaze: [Float] = [0, 0, 0, 0]) throws -> Coefficients {
    var row = [Float](repeating: 0, count: Coefficients.count)
    for (k, v) in expression { row[CoefficientPart.expression.range.lowerBound + k] = v }
    for (k, v) in identity { row[CoefficientPart.identity.range.lowerBound + k] = v }
    let pose = CoefficientPart.pose.range.lowerBound
    for k in 0..<3 { row[pose + k] = angles[k]; row[pose + 3 + k] = translation[k] }
    if let light { for k in 0..<27 { row[CoefficientPart.illumination.range.lowerBound + k] = light[k] } }
    for k in 0..<4 { row[CoefficientPart.gaze.range.lowerBound + k] = gaze[k] }
    return try Coefficients(Tensor(row, shape: [1, Coefficients.count]))
}

func psnr(_ a: Tensor, _ b: Tensor) throws -> Double {
    // Images in [-1, 1]: peak-to-peak 2.
    let mse = try (a - b).square().mean().item()
    return mse == 0 ? .infinity : 10 * log10(4 / mse)
}
