import FaceModel
import Foundation
import Torch

/// Times the face renderer at 256×256 with the default model: rasterization alone, the full forward
/// render, and forward + backward (gradient of a masked image sum with respect to ρ).
public enum FaceBenchmark {
    public static func run(repeats: Int = 10, log: (String) -> Void) throws {
        Torch.configureThreads()
        let renderer = try FaceRenderer.makeDefault()
        let model = renderer.model
        let size = 256
        let jaw = model.expressionNames.firstIndex(of: "jawOpen") ?? 0
        var row = [Float](repeating: 0, count: Coefficients.count)
        row[CoefficientPart.expression.range.lowerBound + jaw] = 0.4
        row[CoefficientPart.pose.range.lowerBound + 1] = 0.3
        let coefficients = try Coefficients(Tensor(row, shape: [1, Coefficients.count]))
        log("face renderer: \(model.vertexCount) vertices, \(model.triangleCount) triangles, \(size)×\(size), " +
            "\(Torch.numThreads) torch threads, \(ProcessInfo.processInfo.activeProcessorCount) cores")

        let geo = try renderer.geometry(coefficients, camera: .deep3DFaceRecon(size: size))
        let px = try geo.projected.detach().contiguous().floats(), dz = try geo.depth.detach().contiguous().floats()
        func time(_ body: () throws -> Void) throws -> Double {
            try body()  // warm-up
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<repeats { try body() }
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(repeats)
        }
        let raster = try time {
            _ = try Rasterizer.rasterize(pixels: px, depth: dz, triangles: model.triangleIndices, width: size, height: size)
        }
        let forward = try time { _ = try Torch.noGrad { try renderer.render(coefficients: coefficients, size: size) } }
        let backward = try time {
            let rho = try coefficients.tensor.clone().requiresGrad(true)
            let out = try renderer.render(Coefficients(rho), width: size, height: size)
            try (out.image * out.mask).sum().backward()
        }
        let batch = 8
        let many = try Coefficients(coefficients.tensor.expand([batch, Coefficients.count]).contiguous())
        let batched = try time { _ = try Torch.noGrad { try renderer.render(coefficients: many, size: size) } }
        log(String(format: "rasterize            %8.2f ms", raster))
        log(String(format: "forward (render)     %8.2f ms  (rasterize is %.0f%%)", forward, 100 * raster / forward))
        log(String(format: "forward + backward   %8.2f ms  (%.2f× forward)", backward, backward / forward))
        log(String(format: "forward, batch of %d %8.2f ms  (%.2f ms per face)", batch, batched, batched / Double(batch)))
    }
}
