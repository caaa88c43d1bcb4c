import Foundation

/// Measures the denoiser's cost per configuration (parameters, forward, forward + backward) and prints the
/// figures with their ratio to the first configuration. For the CLI and docs, never for tests.
public enum TGDMBenchmark {
    public struct Result: Sendable {
        public let name: String
        public let parameters: Int
        public let forwardSeconds: Double
        public let trainStepSeconds: Double
    }

    public static let defaultConfigs: [(String, TGDMConfig)] = [("small64", .small64), ("small128", .small128), ("paper256", .paper256)]

    @discardableResult
    public static func run(configs: [(String, TGDMConfig)] = defaultConfigs, batch: Int = 1, repeats: Int = 3,
                           device: Device = .cpu, log: (String) -> Void = { print($0) }) throws -> [Result] {
        guard batch >= 1, repeats >= 1 else { throw TGDMError.invalidInput("batch and repeats must be positive") }
        var results: [Result] = []
        log("TGDM denoiser benchmark: batch \(batch), \(repeats) repeats, device \(device), \(Torch.numThreads) libtorch threads")
        for (name, config) in configs {
            let model = try TGDMUNet(config: config, generator: Generator(seed: 0))
            try model.to(device)
            let s = config.imageSize
            let g = Generator(seed: 1)
            let x = try Tensor.randn([batch, config.imageChannels, s, s], generator: g).to(device)
            let rho = try Tensor.randn([batch, config.coefficientDim], generator: g).to(device)
            let t = try Tensor.full([batch], 500, dtype: .int64, device: device)
            func timed(_ body: () throws -> Void) throws -> Double {
                try body() // warm-up
                let start = Date()
                for _ in 0..<repeats { try body() }
                return Date().timeIntervalSince(start) / Double(repeats)
            }
            let forward = try timed {
                _ = try Torch.noGrad { try model(noisy: x, timesteps: t, source: x, render: x, coefficients: rho).sum().item() }
            }
            let trainStep = try timed {
                let eps = try model(noisy: x, timesteps: t, source: x, render: x, coefficients: rho)
                try eps.square().mean().backward()
                for p in model.parameters() { try p.zeroGrad() }
            }
            let r = Result(name: name, parameters: model.parameterCount, forwardSeconds: forward, trainStepSeconds: trainStep)
            results.append(r)
            let base = results[0]
            log(String(format: "%@: %.2fM parameters | forward %.3f s (×%.1f) | forward+backward %.3f s (×%.1f)",
                       name, Double(r.parameters) / 1e6, forward, forward / base.forwardSeconds, trainStep, trainStep / base.trainStepSeconds))
        }
        return results
    }
}
