import FaceModel
import Foundation
@testable import Pipelines
import Torch
import XCTest

/// The composite's mouth (issue #20): the drawn interior replaces the stretched source where the lips open wider than
/// the source's, and leaves the warp alone where they do not.
final class MouthCompositingTests: XCTestCase {
    func testTheDrawnInteriorReplacesTheWarpOnlyWhereTheLipsOpenWider() throws {
        let renderer = try FaceRenderer.makeDefault()
        let jaw = try XCTUnwrap(renderer.model.expressionNames.firstIndex(of: "jawOpen"))
        var row = [Float](repeating: 0, count: Coefficients.count)
        row[CoefficientPart.expression.range.lowerBound + jaw] = 0.7
        let open = try Coefficients(Tensor(row, shape: [1, Coefficients.count]))
        let size = 128
        let field = try FaceWarper(model: renderer.model).field(source: open, target: open, size: size)
        let palette = MouthPalette.estimate(lips: SIMD3(0.7, 0.4, 0.4), skin: SIMD3(0.8, 0.6, 0.5), teethPixels: [])
        let layer = try MouthInterior(renderer: renderer).layer(open, size: size, palette: palette)
        let warped = try Tensor.full([1, 3, size, size], 0.25)
        let generated = try Tensor.full([1, 3, size, size], -0.5)
        // Well inside the lips (eroded by 4 px: the override's own 1 px erosion and its 2 px feather), where the blend
        // weight is exactly 1.
        let core = try 1.0 - F.maxPool2d(F.pad(1.0 - layer.coverage, [4, 4, 4, 4], mode: .replicate), kernel: 9, stride: 1)
        XCTAssertGreaterThan(try core.sum().item(), 20, "the open mouth has an inside at 128²")
        func error(_ a: Tensor, _ b: Tensor) throws -> Double { try ((a - b).abs() * core).sum().item() / (3 * core.sum().item()) }
        let replaced = try WarpCompositor.reenactment(generated: generated, warped: warped, field: field, mouth: layer, mouthOverride: [1])
        // Blend weights of exactly 1 and 0: only float32 rounding of the products remains.
        XCTAssertLessThan(try error(replaced, layer.colour), 1e-6, "lips opened wider: the drawn interior")
        let kept = try WarpCompositor.reenactment(generated: generated, warped: warped, field: field, mouth: layer, mouthOverride: [0])
        let validCore = try core * field.valid
        XCTAssertGreaterThan(try validCore.sum().item(), 0, "the source's own open mouth is visible to itself")
        XCTAssertLessThan(try ((kept - warped).abs() * validCore).sum().item() / (3 * validCore.sum().item()), 1e-6,
                          "same opening: the source's own interior, warped")
    }
}
