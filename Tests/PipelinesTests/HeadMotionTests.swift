import Foundation
import Media
import XCTest
@testable import Pipelines

/// Head motion from prosody (issue #22 item 2), on prosody whose stresses are known.
final class HeadMotionTests: XCTestCase {
    /// Four seconds at 25 fps: syllables every 0.24 s at −30 dB and 120 Hz; those at 1.0, 2.0 and 3.0 s louder (−18 dB)
    /// and higher (160 Hz), i.e. stressed; a pause from 3.4 s.
    func speech() -> (Prosody, stressed: [Int]) {
        let fps = 25.0, n = 100
        var energy = [Double](repeating: -80, count: n), pitch = [Double](repeating: 0, count: n)
        let stressed = [25, 50, 75]
        for i in 0..<85 {
            let t = Double(i) / fps
            // A syllable envelope: loud in its middle, quieter between syllables.
            let phase = (t.truncatingRemainder(dividingBy: 0.24)) / 0.24
            energy[i] = -30 - 12 * pow(cos(.pi * phase), 2)
            pitch[i] = 120
        }
        for s in stressed {
            for d in -2...2 {
                energy[s + d] = max(energy[s + d], -18 - 3 * Double(abs(d)))
                pitch[s + d] = 160
            }
        }
        return (Prosody(energy: energy, pitch: pitch, fps: fps), stressed)
    }

    /// The stressed syllables are found (each within a frame), the others are not.
    func testStressedSyllablesAreFound() {
        let (p, stressed) = speech()
        let found = HeadMotion.stresses(p)
        XCTAssertEqual(found.map(\.frame), stressed, "found \(found)")
        XCTAssertTrue(found.allSatisfy { $0.strength > 0.4 && $0.strength <= 2 })
    }

    /// The head nods (pitch down, positive) on each stressed syllable, deepest within two frames (0.08 s) of it; it is nearly
    /// motion is bounded; zero amplitude is no motion; the same seed gives the same motion.
    func testTheHeadNodsOnStressAndRestsInPauses() {
        let (p, stressed) = speech()
        let motion = HeadMotion(amplitude: 1, seed: 3).offsets(p)
        XCTAssertEqual(motion.count, p.count)
        for s in stressed {
            let window = (s - 8)...(s + 8)
            let deepest = window.max { motion[$0].pitch < motion[$1].pitch }!
            print("stress at \(s): deepest nod at \(deepest), \(motion[deepest].pitch) rad")
            XCTAssertLessThanOrEqual(abs(deepest - s), 2, "the nod comes with the stress (lowest 0.05 s after it)")
            XCTAssertGreaterThan(motion[deepest].pitch, 0.02, "a visible nod (over 1°)")
        }
        // Between stresses the head is not nodding: well under the nods' depth.
        for i in [38, 62] { XCTAssertLessThan(abs(motion[i].pitch), 0.02, "frame \(i)") }
        XCTAssertTrue(motion.allSatisfy { abs($0.pitch) < 0.25 && abs($0.yaw) < 0.35 && abs($0.roll) < 0.15 })
        let big = HeadMotion(amplitude: 10, seed: 3).offsets(p)
        XCTAssertTrue(big.allSatisfy { abs($0.pitch) < 0.25 && abs($0.yaw) < 0.35 && abs($0.roll) < 0.15 }, "bounded at 10")
        XCTAssertTrue(HeadMotion(amplitude: 0).offsets(p).allSatisfy { $0 == (0, 0, 0) })
        let again = HeadMotion(amplitude: 1, seed: 3).offsets(p), other = HeadMotion(amplitude: 1, seed: 4).offsets(p)
        XCTAssertTrue(zip(motion, again).allSatisfy { $0 == $1 })
        XCTAssertFalse(zip(motion, other).allSatisfy { $0.yaw == $1.yaw }, "another seed, another sway")
    }

    /// Over many seeds the sway's spread is the set one while speaking and `pauseSway` of it in a long pause.
    func testTheSwayIsLivelierWhileSpeaking() {
        let fps = 25.0, n = 1000
        // 20 s of steady speech, then 20 s of silence.
        let energy = (0..<n).map { $0 < 500 ? -25.0 : -90.0 }, pitch = (0..<n).map { $0 < 500 ? 130.0 : 0 }
        let p = Prosody(energy: energy, pitch: pitch, fps: fps)
        var speaking = 0.0, pause = 0.0
        for seed in 0..<20 {
            let m = HeadMotion(amplitude: 1, seed: UInt64(seed)).offsets(p)
            speaking += (100..<480).map { m[$0].yaw * m[$0].yaw }.reduce(0, +) / 380
            pause += (620..<1000).map { m[$0].yaw * m[$0].yaw }.reduce(0, +) / 380
        }
        let sdSpeaking = (speaking / 20).squareRoot(), sdPause = (pause / 20).squareRoot()
        print("yaw spread speaking \(sdSpeaking) rad, pause \(sdPause) rad")
        // 20 seeds × 380 frames with a 1.6 s (40-frame) correlation time: ~190 independent draws, ±10 % on the spread.
        XCTAssertEqual(sdSpeaking, HeadMotion.swayYaw, accuracy: 0.25 * HeadMotion.swayYaw)
        XCTAssertEqual(sdPause / sdSpeaking, HeadMotion.pauseSway, accuracy: 0.15)
    }
}
