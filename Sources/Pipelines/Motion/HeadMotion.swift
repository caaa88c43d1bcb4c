import Foundation
import Media
import Torch

/// Head motion from speech (issue #22 item 2): nods on stressed syllables, the head rising and falling a little with
/// the voice's pitch, and a slow seeded sway that is livelier while the person speaks than in pauses. Talking heads
/// move with the prosody of what they say: head nods come with pitch accents (Graf, Cosatto, Strom and Huang, "Visual
/// prosody: facial movements accompanying speech", FG 2002), and head motion follows F0 and loudness (Munhall, Jones,
/// Callan, Kuratate and Vatikiotis-Bateson, "Visual prosody and speech intelligibility", Psychological Science 2004).
/// Before, the head swayed on two fixed sinusoids, whatever was said.
///
/// All amplitudes are radians at `amplitude` 1 (`--head-motion`), scaled linearly and bounded softly per axis, so a
/// large control saturates instead of turning the head away.
public struct HeadMotion: Sendable {
    /// The head-motion control (0 = still, 1 = the default).
    public var amplitude: Double
    public var seed: UInt64

    /// A nod's depth for a typically stressed syllable (≈ 2.6°, head down and back over `nodLength`).
    public static let nodDepth = 0.045
    public static let nodLength = 0.5
    /// Nods start this long before the stressed syllable's loudness peak, so the head is lowest just after it.
    public static let nodLead = 0.2
    /// Stationary spread of the sway (≈ 2° yaw, 0.9° roll) while speaking; in pauses `pauseSway` of it.
    public static let swayYaw = 0.035
    public static let swayRoll = 0.015
    public static let pauseSway = 0.4
    /// The sway's time constant (an Ornstein–Uhlenbeck process: slow, smooth drifts rather than a rhythm).
    public static let swayTime = 1.6
    /// Head raised by this much per octave the voice rises above the speaker's median pitch.
    public static let pitchFollow = 0.03
    /// Soft bounds per axis (pitch, yaw, roll): `bound · tanh(x / bound)`.
    public static let bounds = (pitch: 0.25, yaw: 0.35, roll: 0.15)

    public init(amplitude: Double, seed: UInt64 = 0) {
        self.amplitude = amplitude
        self.seed = seed
    }

    /// A stressed syllable: its frame (the loudness peak) and its strength (1 = a typical stress).
    public struct Stress: Equatable, Sendable {
        public var frame: Int
        public var strength: Double
    }

    /// Frames where someone speaks: louder than the quietest tenth by 10 dB and within 40 dB of the loudest frame.
    public static func speaking(_ p: Prosody) -> [Bool] {
        guard let loudest = p.energy.max() else { return [] }
        let floor = p.energy.sorted()[p.energy.count / 10]
        return p.energy.map { $0 > max(floor + 10, loudest - 40) }
    }

    /// Stressed syllables: loudness peaks (over ±0.15 s) while speaking whose loudness and pitch, each standardised over
    /// the speech, add up to more than half a standard deviation above the speaker's average.
    public static func stresses(_ p: Prosody) -> [Stress] {
        let n = p.count, talking = speaking(p)
        guard n >= 3 else { return [] }
        // Syllable envelope: loudness smoothed over three frames.
        let e: [Double] = (0..<n).map { i in
            let before = p.energy[max(0, i - 1)], after = p.energy[min(n - 1, i + 1)]
            return (before + 2 * p.energy[i] + after) / 4
        }
        let spoken = (0..<n).filter { talking[$0] }
        let voiced = (0..<n).filter { talking[$0] && p.pitch[$0] > 0 }
        guard spoken.count >= 3 else { return [] }
        func standardiser(_ values: [Double]) -> (Double) -> Double {
            let mean = values.reduce(0, +) / Double(values.count)
            let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            return { sd > 1e-9 ? ($0 - mean) / sd : 0 }
        }
        let loud = standardiser(spoken.map { e[$0] })
        let high = voiced.count >= 3 ? standardiser(voiced.map { log2(p.pitch[$0]) }) : { _ in 0 }
        let reach = max(1, Int((0.15 * p.fps).rounded()))
        var out: [Stress] = []
        for i in spoken {
            let window = max(0, i - reach)...min(n - 1, i + reach)
            guard window.allSatisfy({ e[$0] <= e[i] }), !(out.last.map { i - $0.frame <= reach } ?? false) else { continue }
            let score = loud(e[i]) + (p.pitch[i] > 0 ? 0.5 * high(log2(p.pitch[i])) : 0)
            if score > 0.5 { out.append(Stress(frame: i, strength: min(score, 2.5) / 1.25)) }
        }
        return out
    }

    /// Per frame (pitch, yaw, roll) in radians, to add to the pose's angles.
    public func offsets(_ p: Prosody) -> [(pitch: Double, yaw: Double, roll: Double)] {
        let n = p.count
        guard amplitude > 0, n > 0 else { return Array(repeating: (0, 0, 0), count: n) }
        let dt = 1 / p.fps, talking = Self.speaking(p)
        // How much the person is speaking around each frame, smoothed forwards and backwards over 0.5 s.
        var activity = talking.map { $0 ? 1.0 : 0.0 }
        let k = 1 - exp(-dt / 0.5)
        for i in 1..<max(1, n) { activity[i] += (activity[i - 1] - activity[i]) * (1 - k) }
        for i in stride(from: n - 2, through: 0, by: -1) { activity[i] = max(activity[i], activity[i + 1] * (1 - k)) }

        // Nods: a raised-cosine dip of the head per stressed syllable.
        var pitch = [Double](repeating: 0, count: n)
        for s in Self.stresses(p) {
            let start = Double(s.frame) * dt - Self.nodLead
            for i in max(0, Int((start / dt).rounded(.down)))..<min(n, Int(((start + Self.nodLength) / dt).rounded(.up)) + 1) {
                let phase = (Double(i) * dt - start) / Self.nodLength
                guard phase > 0, phase < 1 else { continue }
                pitch[i] += Self.nodDepth * s.strength * pow(sin(.pi * phase), 2)
            }
        }
        // Intonation: the head rises with the voice (negative pitch is up), held through unvoiced frames, smoothed.
        let voiced = (0..<n).filter { talking[$0] && p.pitch[$0] > 0 }.map { log2(p.pitch[$0]) }.sorted()
        if !voiced.isEmpty {
            let median = voiced[voiced.count / 2]
            var follow = 0.0, level = 0.0
            let a = 1 - exp(-dt / 0.3)
            for i in 0..<n {
                if talking[i], p.pitch[i] > 0 { level = log2(p.pitch[i]) - median } else if !talking[i] { level *= 1 - a }
                follow += (level - follow) * a
                pitch[i] -= Self.pitchFollow * max(-1, min(1, follow))
            }
        }
        // Sway: seeded Ornstein–Uhlenbeck drifts of yaw and roll, quieter in pauses.
        var rng = SplitMix64(seed: seed ^ 0x4845_4144)   // "HEAD": not the blinks' or glances' draws
        let decay = exp(-dt / Self.swayTime), kick = (1 - decay * decay).squareRoot()
        var yaw = 0.0, roll = 0.0
        var out: [(pitch: Double, yaw: Double, roll: Double)] = []
        out.reserveCapacity(n)
        func bounded(_ x: Double, _ b: Double) -> Double { b * tanh(x / b) }
        for i in 0..<n {
            yaw = yaw * decay + kick * Double(rng.normal())
            roll = roll * decay + kick * Double(rng.normal())
            let liveliness = Self.pauseSway + (1 - Self.pauseSway) * activity[i]
            out.append((bounded(amplitude * pitch[i], Self.bounds.pitch),
                        bounded(amplitude * Self.swayYaw * liveliness * yaw, Self.bounds.yaw),
                        bounded(amplitude * Self.swayRoll * liveliness * roll, Self.bounds.roll)))
        }
        return out
    }
}
