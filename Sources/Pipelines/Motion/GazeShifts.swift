import Foundation
import Torch

/// Small gaze shifts for talking faces (issue #22): a speaker's eyes do not hold the camera all the time. The eyes rest
/// on the camera, now and then glance a few degrees away and come back; each move is a saccade, which lasts tens of
/// milliseconds (Carpenter's main sequence: about 20–30 ms plus 2–3 ms per degree), so at video rates a shift takes one
/// frame. The look-away share (a quarter of the time), the dwell times (gamma-distributed, 2.4 s at the camera and 0.8 s
/// away on average, neither under 0.3 s) and the amplitude (up to `maxDegrees`, mostly sideways) are choices for a face
/// that addresses the viewer, not measurements. Seeded, so the same seed gives the same shifts.
public struct GazeShifts: Sendable, Equatable {
    /// The largest shift from the resting gaze, degrees (0: none).
    public var maxDegrees: Double
    /// Mean dwell at the camera and away from it, seconds.
    public var meanAtCamera = 2.4
    public var meanAway = 0.8
    public var shortestDwell = 0.3

    public static let defaultDegrees = 4.0
    public static let degreeRange: ClosedRange<Double> = 0...15

    public init(maxDegrees: Double = GazeShifts.defaultDegrees) { self.maxDegrees = maxDegrees }

    /// Per frame, the gaze's offset from rest in radians (yaw to the image's right, pitch up), the same for both eyes.
    public func offsets(frames: Int, fps: Double, seed: UInt64) throws -> [(yaw: Double, pitch: Double)] {
        guard maxDegrees.isFinite, Self.degreeRange.contains(maxDegrees) else {
            throw PipelineError.invalidInput("gaze shift must be in \(Self.degreeRange.lowerBound)...\(Self.degreeRange.upperBound) degrees, got \(maxDegrees)")
        }
        guard fps > 0 else { throw PipelineError.invalidInput("gaze shifts need a positive frame rate") }
        var out = [(yaw: Double, pitch: Double)](repeating: (0, 0), count: max(0, frames))
        guard maxDegrees > 0, frames > 0 else { return out }
        var rng = SplitMix64(seed: seed ^ 0x6A2E_5A1F_7E00_D1CE)
        // Gamma(2) shifted by the shortest dwell, with the mean asked.
        func dwell(_ mean: Double) -> Double { shortestDwell + rng.gamma2(scale: max(mean - shortestDwell, 0.01) / 2) }
        let limit = maxDegrees * .pi / 180
        var t = 0.0, away = false
        while t * fps < Double(frames) {
            let length = dwell(away ? meanAway : meanAtCamera)
            var offset = (yaw: 0.0, pitch: 0.0)
            if away {
                // Mostly sideways: the direction's vertical part is squeezed to a half, the size between a third and all.
                let angle = Double.random(in: 0..<(2 * .pi), using: &rng), size = Double.random(in: (limit / 3)...limit, using: &rng)
                offset = (size * cos(angle), 0.5 * size * sin(angle))
            }
            let first = Int((t * fps).rounded(.up)), last = min(frames, Int(((t + length) * fps).rounded(.up)))
            if first < last { for i in first..<last { out[i] = offset } }
            t += length
            away.toggle()
        }
        return out
    }
}
