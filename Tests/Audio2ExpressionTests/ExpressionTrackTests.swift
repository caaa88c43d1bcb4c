import XCTest
@testable import Audio2Expression

final class ExpressionTrackTests: XCTestCase {
    /// Every blendshape the tables use, in a fixed order, plus two unused names.
    static let names: [String] = {
        let used = Set(Viseme.allCases.flatMap { $0.blendshapes.keys } + MEADEmotion.allCases.flatMap { $0.blendshapes.keys })
        return used.sorted() + ["unusedA", "unusedB"]
    }()

    func builder() throws -> ExpressionTrackBuilder { ExpressionTrackBuilder(vocabulary: try ExpressionVocabulary(names: Self.names)) }
    func column(_ name: String) -> Int { Self.names.firstIndex(of: name)! }

    func testPhonemesMapToPlausibleVisemes() {
        XCTAssertEqual(PhonemeVisemes.visemes(for: "p"), [.bilabial])
        XCTAssertEqual(PhonemeVisemes.visemes(for: "'m"), [.bilabial])
        XCTAssertEqual(PhonemeVisemes.visemes(for: "v"), [.labiodental])
        XCTAssertEqual(PhonemeVisemes.visemes(for: "aI"), [.open, .spread])
        XCTAssertEqual(PhonemeVisemes.visemes(for: "u:"), [.rounded])
        XCTAssertEqual(PhonemeVisemes.visemes(for: "_:"), [.silence])
        XCTAssertEqual(PhonemeVisemes.visemes(for: ""), [.silence])
        XCTAssertFalse(PhonemeVisemes.visemes(for: "Qz%").isEmpty)   // unknown mnemonics still map
    }

    func testMissingBlendshapesAreReported() {
        XCTAssertThrowsError(try ExpressionVocabulary(names: ["jawOpen"])) { XCTAssertTrue("\($0)".contains("mouthPucker"), "\($0)") }
        XCTAssertThrowsError(try ExpressionVocabulary(names: []))
    }

    func testBilabialsCloseTheJawAndOpenVowelsOpenIt() throws {
        // "_ m a m a _" at 25 fps, 0.12 s per phoneme.
        let seq = ["_", "m", "a", "m", "a", "_"].enumerated().map { (phoneme: $0.element, start: Double($0.offset) * 0.12, end: Double($0.offset + 1) * 0.12) }
        let track = try builder().speechTrack(phonemes: seq, frames: 18)
        let jaw = track.map { $0[column("jawOpen")] }, press = track.map { $0[column("mouthPressLeft")] }
        let midM = 11, midA = 14   // frame centres inside the second "m" (0.36-0.48 s) and the second "a" (0.48-0.60 s)
        XCTAssertGreaterThan(press[midM], 0.3)
        XCTAssertLessThan(jaw[midM], 0.2)
        XCTAssertGreaterThan(jaw[midA], 0.3)
        XCTAssertGreaterThan(jaw[midA], 2 * jaw[midM])
        XCTAssertGreaterThan(press[midM], 3 * press[midA])
        XCTAssertLessThan(jaw[0], 0.05, "silence at the start keeps the mouth shut")
        for row in track { for v in row { XCTAssertTrue(v.isFinite && v >= 0 && v <= 1) } }
    }

    func testEmotionOffsetScalesWithIntensity() throws {
        let b = try builder()
        let speech = try b.speechTrack(phonemes: [("a", 0, 0.4)], frames: 10)
        let neutral = try b.expression(speech: speech, emotion: .neutral, intensity: 3)
        let smile = column("mouthSmileLeft")
        var previous = try neutral.select(1, smile).mean().item()
        for eta in [1.0, 2.0, 3.0] {
            let happy = try b.expression(speech: speech, emotion: .happy, intensity: eta)
            XCTAssertEqual(happy.shape, [10, Self.names.count])
            let s = try happy.select(1, smile).mean().item()
            XCTAssertGreaterThan(s, previous)
            previous = s
        }
        XCTAssertThrowsError(try b.expression(speech: speech, emotion: .happy, intensity: 5))
        // Sad speech is smaller: its jaw opening is below neutral's.
        let sad = try b.expression(speech: speech, emotion: .sad, intensity: 3)
        XCTAssertLessThan(try sad.select(1, column("jawOpen")).sum().item(), try neutral.select(1, column("jawOpen")).sum().item())
    }

    func testHeldOutWordsNeverAppearInTrainingPrompts() {
        let training = Set(MEADEmotion.allCases.flatMap { $0.trainingWords })
        let heldOut = MEADEmotion.allCases.flatMap { $0.heldOutWords }
        XCTAssertEqual(heldOut.count, 16)
        XCTAssertTrue(training.isDisjoint(with: heldOut))
    }
}
