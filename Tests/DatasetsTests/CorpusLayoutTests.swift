import Datasets
import Foundation
import XCTest

/// Clip discovery per layout, on empty files in the layouts' folder structures.
final class CorpusLayoutTests: XCTestCase {
    func touch(_ root: URL, _ paths: [String]) throws {
        for p in paths {
            let u = root.appendingPathComponent(p)
            try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
            XCTAssertTrue(FileManager.default.createFile(atPath: u.path, contents: Data()))
        }
    }

    func temporary() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-layout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: u) }
        return u
    }

    func testVoxCelebSpeakersAndAudioMirror() throws {
        let root = try temporary()
        try touch(root, ["dev/mp4/id00012/abcDEF/00001.mp4", "dev/mp4/id00012/abcDEF/00002.mp4", "dev/aac/id00012/abcDEF/00001.m4a",
                         "dev/mp4/id00999/xyz/00001.mp4", "dev/mp4/README.txt", "stray.mp4"])
        let clips = try CorpusScanner.clips(in: root, layout: .voxceleb)
        XCTAssertEqual(clips.map(\.id), ["dev/mp4/id00012/abcDEF/00001", "dev/mp4/id00012/abcDEF/00002", "dev/mp4/id00999/xyz/00001"])
        XCTAssertEqual(clips.map(\.speaker), ["id00012", "id00012", "id00999"])
        XCTAssertEqual(clips[0].audio, "dev/aac/id00012/abcDEF/00001.m4a")
        XCTAssertNil(clips[1].audio)
    }

    func testMEADLabelsFromThePath() throws {
        let root = try temporary()
        try touch(root, ["M003/video/front/angry/level_2/001.mp4", "M003/audio/angry/level_2/001.m4a",
                         "M003/video/left_30/angry/level_2/001.mp4", "W011/video/front/neutral/level_1/004.mp4",
                         "W011/video/front/bored/level_1/001.mp4"])
        let clips = try CorpusScanner.clips(in: root, layout: .mead)
        XCTAssertEqual(clips.count, 2)
        XCTAssertEqual(clips[0].speaker, "M003")
        XCTAssertEqual(clips[0].emotion, "angry")
        XCTAssertEqual(clips[0].intensity, 2)
        XCTAssertEqual(clips[0].audio, "M003/audio/angry/level_2/001.m4a")
        XCTAssertEqual(clips[1].emotion, "neutral")
        XCTAssertNil(clips[1].audio)
    }

    func testHDTFAndFolderLayouts() throws {
        let root = try temporary()
        try touch(root, ["WRA_KellyAyotte_000.mp4", "RD_Radio1_001.mov"])
        XCTAssertEqual(try CorpusScanner.clips(in: root, layout: .hdtf).map(\.speaker), ["RD_Radio1", "WRA_KellyAyotte"])
        let folder = try temporary()
        try touch(folder, ["alice/a.mp4", "bob/talk/b.mp4"])
        try Data(#"{"emotion": "Happy", "intensity": 3}"#.utf8).write(to: folder.appendingPathComponent("alice/a.labels.json"))
        let clips = try CorpusScanner.clips(in: folder, layout: .folder)
        XCTAssertEqual(clips.map(\.speaker), ["alice", "talk"])
        XCTAssertEqual(clips[0].emotion, "happy")
        XCTAssertEqual(clips[0].intensity, 3)
        try Data(#"{"emotion": "bored"}"#.utf8).write(to: folder.appendingPathComponent("alice/a.labels.json"))
        XCTAssertThrowsError(try CorpusScanner.clips(in: folder, layout: .folder)) { XCTAssertTrue("\($0)".contains("unknown emotion 'bored'")) }
        XCTAssertThrowsError(try CorpusScanner.clips(in: folder.appendingPathComponent("missing"), layout: .folder))
    }

    func testTrackSmoothingInterpolatesAndSplitsOnLongGaps() {
        func face(_ x: Double) -> FaceObservation { .face(.init(x: x, y: 0, width: 10, height: 10), landmarks: nil) }
        var obs: [FaceObservation] = [face(0), .skipped, .skipped, face(30), .noFace, .noFace, .noFace, face(100), .skipped, face(120), .skipped]
        var tracks = FaceTrackSmoother.tracks(obs, maxGap: 2, smoothing: 1)
        XCTAssertEqual(tracks.count, 2)
        XCTAssertEqual(tracks[0].start, 0)
        XCTAssertEqual(tracks[0].boxes.map(\.x), [0, 10, 20, 30])
        XCTAssertEqual(tracks[1].start, 7)
        XCTAssertEqual(tracks[1].boxes.map(\.x), [100, 110, 120, 120], "trailing unexamined frames hold the last box")
        obs = [face(0), face(10), face(0), face(10), face(0)]
        tracks = FaceTrackSmoother.tracks(obs, maxGap: 2, smoothing: 3)
        XCTAssertEqual(tracks[0].boxes[2].x, 20.0 / 3, accuracy: 1e-9)   // jitter is averaged away
        XCTAssertTrue(FaceTrackSmoother.tracks([.noFace, .skipped], maxGap: 5, smoothing: 3).isEmpty)
    }
}
