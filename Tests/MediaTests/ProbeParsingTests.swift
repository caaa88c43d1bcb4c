import Foundation
import XCTest
@testable import Media

/// The ffprobe output parsers on their own (the fuzz target `probe` feeds them arbitrary bytes).
final class ProbeParsingTests: XCTestCase {
    func json(_ s: String) -> Data { Data(s.utf8) }

    func testParsesTypicalOutput() throws {
        let info = try VideoProbe.parse(ffprobeJSON: json("""
        {"programs": [], "streams": [
          {"codec_type": "video", "width": 256, "height": 192, "r_frame_rate": "25/1", "avg_frame_rate": "30000/1001",
           "nb_frames": "50", "duration": "2.000000"},
          {"codec_type": "audio", "r_frame_rate": "0/0", "avg_frame_rate": "0/0", "duration": "2.01"}],
         "format": {"duration": "2.010000"}}
        """), path: "v.mp4")
        XCTAssertEqual(info, VideoInfo(width: 256, height: 192, fps: 30000.0 / 1001, frameCount: 50, duration: 2, hasAudio: true))
    }

    func testMissingAndAbsurdFieldsFallBack() throws {
        let info = try VideoProbe.parse(ffprobeJSON: json("""
        {"streams": [{"codec_type": "video", "width": 64, "height": 64, "r_frame_rate": "1e308/1e-308",
                      "avg_frame_rate": "nan/1", "nb_frames": "N/A", "duration": "inf"}], "format": {"duration": "-4"}}
        """), path: "v.mkv")
        XCTAssertEqual(info.fps, 25, "no usable rate: the default")
        XCTAssertEqual(info.frameCount, 0, "unknown: probe counts packets")
        XCTAssertEqual(info.duration, 0, "unknown: probe derives it from the frame count")
        XCTAssertEqual(VideoProbe.parseRate("5000/1"), nil)
        XCTAssertEqual(VideoProbe.parseRate("24"), 24)
        XCTAssertEqual(VideoProbe.parseRate("/"), nil)
        XCTAssertEqual(VideoProbe.parseSeconds("nan"), nil)
        XCTAssertEqual(VideoProbe.parseCount(Data("-7\n".utf8)), 0)
        XCTAssertEqual(VideoProbe.parseCount(Data(" 120\n".utf8)), 120)
    }

    func testBadOutputIsAClearError() {
        for (text, check) in [
            ("not json", { (e: MediaError) -> Bool in if case .noFrames = e { return true }; return false }),
            (#"{"streams": [{"codec_type": "audio"}]}"#, { if case .noFrames = $0 { return true }; return false }),
            (#"{"streams": [{"codec_type": "video", "width": 100000, "height": 2}]}"#, { if case .invalidDimensions = $0 { return true }; return false }),
            (#"{"streams": [{"codec_type": "video", "width": 0, "height": 2}]}"#, { if case .invalidDimensions = $0 { return true }; return false }),
            (#"{"streams": [{"codec_type": "video", "width": 1.5e300, "height": 2}]}"#, { if case .invalidDimensions = $0 { return true }; return false }),
        ] as [(String, (MediaError) -> Bool)] {
            assertThrowsMediaError(try VideoProbe.parse(ffprobeJSON: json(text), path: "x"), check)
        }
    }

    func testAudioDurationOutput() throws {
        XCTAssertEqual(try AudioDecoder.parseDuration(Data("N/A\n1.500000\n".utf8), path: "a.wav"), 1.5)
        XCTAssertThrowsError(try AudioDecoder.parseDuration(Data("inf\nnan\n".utf8), path: "a.wav"))
        XCTAssertThrowsError(try AudioDecoder.parseDuration(Data(), path: "a.wav"))
    }
}
