import Torch
import XCTest
@testable import FaceModel

final class RendererTests: XCTestCase {
    var renderer: FaceRenderer { Shared.renderer }

    func expressionIndex(_ name: String) -> Int { renderer.model.expressionNames.firstIndex(of: name)! }

    /// The Swift renderer against an independent numpy renderer (scripts/fixtures/face_golden.py).
    func testMatchesGoldenRenders() throws {
        let file = try Safetensors.load(fixtureURL("face_golden.safetensors"))
        let size = Int(file.metadata["size"]!)!
        XCTAssertEqual(Int(file.metadata["vertices"]!), renderer.model.vertexCount,
                       "the default model changed: rerun scripts/fixtures/face_golden.py")
        let c = try Coefficients(file.tensors["coefficients"]!)
        let out = try renderer.render(c, width: size, height: size)
        let golden = try file.tensors["images"]!.to(.float32) / 127.5 - 1.0
        debugSave(try Tensor.cat([out.image, golden], dim: 0), "golden")
        // PSNR over the face pixels only (the golden mask): the background is exact in both and would
        // inflate a whole-image figure (the face covers about 39% of the image).
        let mask = try file.tensors["masks"]!.to(.float32).unsqueeze(1).expand(out.image.shape)
        let faceMSE = try ((out.image - golden).square() * mask).sum().item() / mask.sum().item()
        let facePSNR = 10 * log10(4 / faceMSE)
        print("golden renders: face PSNR \(facePSNR) dB, whole image \(try psnr(out.image, golden)) dB, coverage \(try mask.mean().item())")
        // Measured 58.94 dB: the uint8 quantisation of the golden images alone limits it to ≈ 58.9 dB.
        XCTAssertGreaterThanOrEqual(facePSNR, 57, "face PSNR \(facePSNR) dB")
        let maskDiff = try (out.mask.squeeze(1) - file.tensors["masks"]!.to(.float32)).abs().mean().item()
        let landmarkDiff = try (out.landmarks - file.tensors["landmarks"]!).abs().max().item()
        print("golden renders: mask mismatch \(maskDiff), landmarks max diff \(landmarkDiff) px")
        XCTAssertLessThan(maskDiff, 1e-4)          // measured 0: the same pixels are face
        XCTAssertLessThan(landmarkDiff, 1e-4)      // measured 7.6e-6 px
    }

    func testOutputShapesRangeAndBackground() throws {
        let c = try Coefficients.concatenate([coefficients(), coefficients(angles: [0, 0.5, 0])])
        for size in [64, 160] {
            let (image, mask) = try renderer.render(coefficients: c, size: size)
            XCTAssertEqual(image.shape, [2, 3, size, size])
            XCTAssertEqual(mask.shape, [2, 1, size, size])
            XCTAssertGreaterThanOrEqual(try image.min().item(), -1)
            XCTAssertLessThanOrEqual(try image.max().item(), 1)
            let coverage = try mask.mean().item()
            XCTAssertGreaterThan(coverage, 0.2)
            XCTAssertLessThan(coverage, 0.8)
            // Background pixels hold the background value (−1), and the corner is background.
            XCTAssertEqual(try image.select(0, 0).select(0, 0).select(0, 0).select(0, 0).item(), -1)
        }
        let grey = try FaceRenderer(model: renderer.model, options: RenderOptions(background: 0))
        XCTAssertEqual(try grey.render(coefficients: c, size: 32).image.select(0, 1).select(0, 0).select(0, 0).select(0, 0).item(), 0)
        XCTAssertThrowsError(try renderer.render(coefficients: c, size: 0))
        XCTAssertThrowsError(try renderer.render(coefficients: c, size: 100_000))
    }

    func testJawOpenMovesLandmarksAndOpensTheMouth() throws {
        let jaw = expressionIndex("jawOpen")
        let closed = try renderer.landmarks(coefficients: coefficients(), size: 256).squeeze(0)
        let open = try renderer.landmarks(coefficients: coefficients(expression: [jaw: 1]), size: 256).squeeze(0)
        func y(_ lm: Tensor, _ k: Int) throws -> Double { try lm.select(0, k).select(0, 1).item() }
        // Image y grows downwards: the chin (8) and the lower lip (57, 66) go down, the upper lip stays.
        XCTAssertGreaterThan(try y(open, 8) - y(closed, 8), 5)
        XCTAssertGreaterThan(try y(open, 57) - y(closed, 57), 5)
        let gapClosed = try y(closed, 66) - y(closed, 62), gapOpen = try y(open, 66) - y(open, 62)
        XCTAssertGreaterThan(gapOpen - gapClosed, 8, "inner lips part: \(gapClosed) → \(gapOpen) px")
        XCTAssertLessThan(abs(try y(open, 51) - y(closed, 51)), 3)
        // The eyes do not move.
        XCTAssertLessThan(try (open.narrow(0, 36, 12) - closed.narrow(0, 36, 12)).abs().max().item(), 0.5)
        // Landmark layout sanity on the neutral face: eyes above the nose tip above the mouth above the chin.
        XCTAssertLessThan(try y(closed, 37), try y(closed, 30))
        XCTAssertLessThan(try y(closed, 30), try y(closed, 51))
        XCTAssertLessThan(try y(closed, 57), try y(closed, 8))
        XCTAssertLessThan(try closed.select(0, 36).select(0, 0).item(), try closed.select(0, 45).select(0, 0).item())
    }

    /// d(Σ image·mask·w)/dρ from autograd against central finite differences, with visibility fixed
    /// (the rasterization does not carry gradients by design).
    func testGradientsMatchFiniteDifferences() throws {
        let jaw = expressionIndex("jawOpen"), smile = expressionIndex("mouthSmileLeft")
        let base = try coefficients(expression: [jaw: 0.3, smile: 0.2], angles: [0.05, 0.2, 0.02], translation: [0.02, -0.03, 0.1],
                                    light: SphericalHarmonics.frontalLight(strength: 0.05, fromAbove: 0.02))
        let size = 96
        let raster = try renderer.render(base, width: size, height: size).rasterizations
        let weights = try Tensor.rand([1, 3, size, size], generator: Generator(seed: 7))
        func loss(_ rho: Tensor) throws -> Tensor {
            let out = try renderer.render(Coefficients(rho), width: size, height: size, rasterizations: raster)
            return try (out.image * out.mask * weights).sum()
        }
        let rho = try base.tensor.clone().requiresGrad(true)
        try loss(rho).backward()
        let grad = try rho.grad!.floats()
        let expressionColumn = CoefficientPart.expression.range.lowerBound
        let poseColumn = CoefficientPart.pose.range.lowerBound
        let lightColumn = CoefficientPart.illumination.range.lowerBound
        let checks: [(String, Int, Float)] = [
            ("jawOpen", expressionColumn + jaw, 1e-2), ("smile", expressionColumn + smile, 1e-2),
            ("pitch", poseColumn, 2e-3), ("yaw", poseColumn + 1, 2e-3), ("tx", poseColumn + 3, 2e-3),
            ("tz", poseColumn + 5, 1e-2), ("light R0", lightColumn, 1e-2), ("light G2", lightColumn + 11, 1e-2),
        ]
        for (name, column, h) in checks {
            var plus = try base.tensor.floats(), minus = plus
            plus[column] += h
            minus[column] -= h
            let fd = try (Torch.noGrad { try loss(Tensor(plus, shape: [1, 261])).item() -
                                         loss(Tensor(minus, shape: [1, 261])).item() }) / Double(2 * h)
            let g = Double(grad[column])
            XCTAssertGreaterThan(abs(fd), 1, "\(name) has a noticeable effect")
            // Central differences of a float32 loss: truncation O(h²) and rasterisation steps (pixels entering or
            // leaving the mask) make fd good to a few percent; 0.5 absorbs the float32 loss's rounding ÷ 2h.
            XCTAssertEqual(g, fd, accuracy: 0.03 * abs(fd) + 0.5, "\(name): autograd \(g) vs finite difference \(fd)")
        }
    }

    func testGazeRotatesTheEyeballsOnlyWhenAsked() throws {
        let ahead = try coefficients(), aside = try coefficients(gaze: [0.5, 0, 0.5, 0])
        let plain = try renderer.render(coefficients: aside, size: 128).image
        XCTAssertEqual(try (plain - renderer.render(coefficients: ahead, size: 128).image).abs().max().item(), 0,
                       "gaze is not rendered by default (paper Sec. 4.3)")
        let withGaze = try FaceRenderer(model: renderer.model, options: RenderOptions(renderGaze: true))
        let a = try withGaze.render(coefficients: ahead, size: 128).image
        let b = try withGaze.render(coefficients: aside, size: 128).image
        let changed = try (a - b).abs().sum(dim: 1).gt(0.1).to(.float32).sum().item()
        XCTAssertGreaterThan(changed, 5)
        XCTAssertLessThan(changed, 400, "only the eyes change")
    }

    func testFaceGridLaysOutExpressionModes() throws {
        let rows = [expressionIndex("jawOpen"), expressionIndex("mouthSmileLeft")]
        let grid = try FaceGrid.expressionGrid(renderer: renderer, components: rows, amplitudes: [0, 0.5, 1], size: 48)
        XCTAssertEqual(grid.shape, [6, 3, 48, 48])
        // Column 0 has amplitude 0 in both rows: identical faces; amplitude 1 differs between rows.
        XCTAssertEqual(try (grid.select(0, 0) - grid.select(0, 3)).abs().max().item(), 0)
        XCTAssertGreaterThan(try (grid.select(0, 2) - grid.select(0, 5)).abs().mean().item(), 0.005)
        let tiled = try FaceGrid.tile(grid, columns: 3, padding: 2)
        XCTAssertEqual(tiled.shape, [3, 2 * 48 + 3 * 2, 3 * 48 + 4 * 2])
        let random = try FaceGrid.randomFaces(renderer: renderer, count: 2, seed: 5, size: 48)
        XCTAssertEqual(random.images.shape, [2, 3, 48, 48])
        XCTAssertGreaterThan(try (random.images.select(0, 0) - random.images.select(0, 1)).abs().mean().item(), 0.01)
        XCTAssertThrowsError(try FaceGrid.expressionGrid(renderer: renderer, components: [64], amplitudes: [1], size: 48))
    }
}
