import Foundation
import Torch

/// Spontaneous blinks for talking faces (issue #22): when each blink starts, how long it lasts, and how far the lids are
/// closed at every frame. Seeded, so the same seed gives the same blinks.
///
/// The numbers are from the literature on spontaneous blinking:
/// - Rate: 17 blinks a minute at rest and 26 in conversation, 4.5 while reading (Bentivoglio et al., "Analysis of blink
///   rate patterns in normal subjects", Movement Disorders 12(6), 1997). The default is the resting 17 a minute, one
///   every 3.5 s, inside the 3–5 s users expect; `--blink-rate` sets it.
/// - Intervals: highly variable and right-skewed, with a refractory minimum; modelled as 0.8 s plus a gamma variate of
///   shape 2 (the sum of two exponentials) with the rate's mean.
/// - Duration and profile: 100–400 ms in all (Caffier et al., "Experimental evaluation of eye-blink parameters as a
///   drowsiness measure", Eur. J. Appl. Physiol. 89, 2003); the lid closes fast and reopens about twice as slowly
///   (closing ≈ 1/3 of the blink), with a brief full closure, so here 0.2–0.3 s drawn uniformly, a third of it to close
///   (ease-in), a hold of at least one frame (every blink reaches full closure at any frame rate), the rest to reopen
///   (ease-out).
public struct BlinkModel: Sendable, Equatable {
    /// Blinks per minute (0: none).
    public var ratePerMinute: Double
    /// The shortest time between the starts of two blinks, seconds.
    public var refractory = 0.8
    /// Duration of a blink (closing, hold, reopening), seconds.
    public var duration: ClosedRange<Double> = 0.2...0.3
    /// The share of a blink's duration spent closing.
    public var closingShare = 1.0 / 3
    /// Time fully closed, seconds (at least one frame).
    public var hold = 0.03

    public static let restingRate = 17.0
    public static let rateRange: ClosedRange<Double> = 0...60

    public init(ratePerMinute: Double = BlinkModel.restingRate) { self.ratePerMinute = ratePerMinute }

    /// One blink: when it starts and how long it takes, seconds.
    public struct Blink: Equatable, Sendable {
        public let start: Double
        public let closing: Double
        public let hold: Double
        public let opening: Double
        public var end: Double { start + closing + hold + opening }

        /// How far the lids are closed at time t (0 open, 1 closed).
        public func closure(at t: Double) -> Double {
            let u = t - start
            guard u > 0, t < end else { return 0 }
            if u < closing { let x = u / closing; return x * x * (3 - 2 * x) }
            if u < closing + hold { return 1 }
            let x = (u - closing - hold) / opening
            return 1 - x * x * (3 - 2 * x)
        }
    }

    /// The blinks in the first `seconds` seconds at `fps` frames a second.
    public func blinks(seconds: Double, fps: Double, seed: UInt64) throws -> [Blink] {
        guard ratePerMinute.isFinite, Self.rateRange.contains(ratePerMinute) else {
            throw PipelineError.invalidInput("blink rate must be in \(Self.rateRange.lowerBound)...\(Self.rateRange.upperBound) a minute, got \(ratePerMinute)")
        }
        guard fps > 0, seconds.isFinite else { throw PipelineError.invalidInput("blinks need a positive frame rate") }
        guard ratePerMinute > 0 else { return [] }
        var rng = SplitMix64(seed: seed ^ 0xB11C_4B11_C4B1_1C4B)
        let mean = 60 / ratePerMinute
        // Gamma(2, θ) has mean 2θ: the interval's mean is the rate's (the refractory part included, where it fits).
        let theta = max(mean - refractory, 0.05 * mean) / 2
        func interval() -> Double { min(refractory, mean) + rng.gamma2(scale: theta) }
        let frame = 1 / fps
        var out: [Blink] = []
        // The first blink comes after a uniform share of one interval, so a clip does not open on a blink's schedule.
        var t = Double.random(in: 0..<1, using: &rng) * interval()
        while t < seconds {
            let total = Double.random(in: duration, using: &rng)
            // A little over a frame, so a frame always falls in it whatever the rounding.
            let hold = max(self.hold, frame * 1.001)
            let closing = max(frame, closingShare * total), opening = max(frame, total - closing - min(hold, total / 3))
            let blink = Blink(start: t, closing: closing, hold: hold, opening: opening)
            out.append(blink)
            t = max(t + interval(), blink.end + frame)
        }
        return out
    }

    /// Lid closure at every frame t = i / fps, i < frames.
    public func closures(frames: Int, fps: Double, seed: UInt64) throws -> [Double] {
        let blinks = try blinks(seconds: Double(frames) / fps, fps: fps, seed: seed)
        var out = [Double](repeating: 0, count: frames)
        for b in blinks {
            let first = max(0, Int((b.start * fps).rounded(.down))), last = min(frames - 1, Int((b.end * fps).rounded(.up)))
            guard first <= last else { continue }
            for i in first...last { out[i] = max(out[i], b.closure(at: Double(i) / fps)) }
        }
        return out
    }
}
