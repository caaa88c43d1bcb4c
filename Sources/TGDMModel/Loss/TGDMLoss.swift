import Diffusion
import Foundation
import Torch

/// Weights and switches of the TGDM objective (Eq. 18-21, Sec. 5.1).
public struct TGDMLossConfig: Codable, Equatable, Sendable {
    public var lambdaSimple: Double = 10
    public var lambdaReconstruction: Double = 1
    public var lambdaPerceptual: Double = 1
    /// The image losses start once the running average of L_simple drops below this (Sec. 5.1: 0.05).
    /// Finite (the config is stored as JSON); a huge value switches them on from the start.
    public var gateThreshold: Double = 0.05
    /// Decay of the running average (an exponential moving average with bias correction, ~100-step memory).
    public var gateDecay: Double = 0.99
    /// Steps before the gate may open, so one lucky early batch cannot switch it on.
    public var gateMinimumSteps: Int = 50
    /// Clamp x̂_0 to [-1, 1] before the image losses. x̂_0 = (x_t − √(1-ᾱ_t) ε_θ)/√ᾱ_t amplifies the noise
    /// error by up to √((1-ᾱ)/ᾱ) ≈ 157 at t = T, which would let the noisiest timesteps dominate; the clamp
    /// bounds them (and gives saturated pixels no gradient).
    public var clampPredictedImage: Bool = true
    public var perceptualNetwork: PerceptualNetwork = .offlineDefault

    public init() {}

    public func validate() throws {
        guard [lambdaSimple, lambdaReconstruction, lambdaPerceptual].allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw TGDMError.invalidConfig("loss weights must be finite and non-negative")
        }
        guard gateThreshold.isFinite, gateDecay >= 0, gateDecay < 1, gateMinimumSteps >= 0 else {
            throw TGDMError.invalidConfig("gate threshold/decay/minimum steps out of range")
        }
    }
}

/// Switches the image losses on once the denoising loss is low enough, and keeps them on (latched).
public struct ImageLossGate: Equatable, Sendable {
    public let threshold: Double
    public let decay: Double
    public let minimumSteps: Int
    public private(set) var average: Double = 0
    public private(set) var observations: Int = 0
    public private(set) var isOpen = false

    public init(threshold: Double, decay: Double, minimumSteps: Int) {
        self.threshold = threshold
        self.decay = decay
        self.minimumSteps = minimumSteps
    }

    /// The bias-corrected running average of L_simple (nil before the first observation).
    public var runningAverage: Double? {
        observations == 0 ? nil : average / (1 - Foundation.pow(decay, Double(observations)))
    }

    public mutating func observe(_ simpleLoss: Double) {
        guard simpleLoss.isFinite else { return }
        average = decay * average + (1 - decay) * simpleLoss
        observations += 1
        if !isOpen, observations >= minimumSteps, let avg = runningAverage, avg < threshold { isOpen = true }
    }

    /// [average, observations, open] for checkpoints.
    var state: [Double] { [average, Double(observations), isOpen ? 1 : 0] }

    mutating func restore(_ s: [Double]) throws {
        guard s.count == 3, s[0].isFinite, s[1] >= 0 else { throw TGDMError.checkpoint("bad image-loss gate state \(s)") }
        average = s[0]
        observations = Int(s[1])
        isOpen = s[2] != 0
    }
}

/// One evaluation of the objective: the differentiable total and the terms as numbers.
public struct TGDMLossTerms {
    public let total: Tensor
    public let simple: Double
    public let reconstruction: Double?
    public let perceptual: Double?
    public var imageLossesActive: Bool { reconstruction != nil }
}

/// L = λ_simple L_simple + λ_rec L_rec + λ_p L_p (Eq. 21) with L_simple = MSE(ε, ε_θ) (Eq. 18), and, once the
/// gate is open, L_rec = MSE(x̂_0, I_d) (Eq. 19) and L_p the LPIPS-style distance (Eq. 20), x̂_0 from Eq. 5.
public final class TGDMLoss {
    public let config: TGDMLossConfig
    public let schedule: NoiseSchedule
    public private(set) var gate: ImageLossGate
    /// Built on first use, so runs whose gate never opens never pay for it.
    private var perceptual: PerceptualLoss?
    /// The mean perceptual distance of a batch when `config.perceptualNetwork` is `.lpips` (the network lives in
    /// the Metrics target, which this one does not depend on).
    public var perceptualProvider: ((Tensor, Tensor) throws -> Tensor)?

    public init(config: TGDMLossConfig = TGDMLossConfig(), schedule: NoiseSchedule) throws {
        try config.validate()
        self.config = config
        self.schedule = schedule
        gate = ImageLossGate(threshold: config.gateThreshold, decay: config.gateDecay, minimumSteps: config.gateMinimumSteps)
    }

    /// L_p of a batch: the provider for `.lpips`, else the VGG16-feature loss built on first use.
    func perceptualDistance(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        if case .lpips = config.perceptualNetwork {
            guard let provider = perceptualProvider else {
                throw TGDMError.invalidConfig("this run's perceptual loss is LPIPS, but no LPIPS network was provided (TGDMLoss.perceptualProvider)")
            }
            return try provider(a, b)
        }
        if perceptual == nil { perceptual = try PerceptualLoss(config.perceptualNetwork) }
        return try perceptual!(a, b)
    }

    /// Evaluates the loss for one batch and then feeds L_simple to the gate (the gate decides for the next batch).
    /// Data-parallel training passes `observeGate: false` and feeds the gate the mean over all ranks
    /// (`observeGate(simple:)`), so every rank opens it at the same step.
    public func callAsFunction(predictedNoise: Tensor, noise: Tensor, noisy: Tensor, target: Tensor, timesteps: Tensor,
                               observeGate: Bool = true) throws -> TGDMLossTerms {
        guard predictedNoise.shape == noise.shape, noisy.shape == noise.shape, target.shape == noise.shape else {
            throw TGDMError.invalidInput("loss inputs must share one shape: \(predictedNoise.shape), \(noise.shape), \(noisy.shape), \(target.shape)")
        }
        let simple = try F.mseLoss(predictedNoise, noise)
        let simpleValue = try simple.item()
        guard simpleValue.isFinite else { throw TGDMError.invalidInput("the denoising loss is not finite (\(simpleValue))") }
        var total = try simple * config.lambdaSimple
        var rec: Double? = nil, lp: Double? = nil
        if gate.isOpen {
            var x0 = try schedule.predictX0(xt: noisy, eps: predictedNoise, timesteps: timesteps)
            if config.clampPredictedImage { x0 = try x0.clamp(min: -1, max: 1) }
            let recLoss = try F.mseLoss(x0, target)
            total = try total + recLoss * config.lambdaReconstruction
            rec = try recLoss.item()
            if config.lambdaPerceptual > 0 {
                let pLoss = try perceptualDistance(x0, target)
                total = try total + pLoss * config.lambdaPerceptual
                lp = try pLoss.item()
            } else {
                lp = 0
            }
        }
        if observeGate { gate.observe(simpleValue) }
        return TGDMLossTerms(total: total, simple: simpleValue, reconstruction: rec, perceptual: lp)
    }

    /// Feeds one step's L_simple to the gate (when the loss was evaluated with `observeGate: false`).
    public func observeGate(simple: Double) { gate.observe(simple) }

    func restoreGate(_ state: [Double]) throws { try gate.restore(state) }
}
