import Foundation
import Media
@testable import Server
import XCTest

/// Content sniffing and limits, before anything is decoded.
final class UploadCheckTests: XCTestCase {
    func testImageHeadersGiveKindAndSizeWithoutDecoding() throws {
        let png = [UInt8](try Data(contentsOf: samples.appendingPathComponent("astronaut.png")))
        XCTAssertEqual(ImageHeader.inspect(png).map { "\($0.kind) \($0.width)x\($0.height)" }, "png 512x512")
        let jpeg = [UInt8](try RGBImage(width: 40, height: 24, fill: (10, 20, 30)).encoded(as: .jpeg(quality: 90)))
        XCTAssertEqual(ImageHeader.inspect(jpeg).map { "\($0.kind) \($0.width)x\($0.height)" }, "jpeg 40x24")
        XCTAssertNil(ImageHeader.inspect(Array("GIF89a".utf8)))
        XCTAssertNil(ImageHeader.inspect(Array(png.prefix(20))))            // truncated before the size
        XCTAssertNil(ImageHeader.inspect([0xFF, 0xD8, 0xFF, 0xD9]))          // JPEG without a frame header
        XCTAssertNil(ImageHeader.inspect([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01]))   // a segment length below 2
    }

    func testOversizedImagesAreRefusedFromTheirHeader() throws {
        let v = UploadValidator(limits: UploadLimits())
        var huge = [UInt8](try Data(contentsOf: samples.appendingPathComponent("source.png")))
        huge.replaceSubrange(16..<24, with: [0, 0, 0x9C, 0x40, 0, 0, 0x9C, 0x40])   // IHDR says 40000 x 40000
        XCTAssertThrowsError(try v.checkImage(huge, field: "source")) { e in
            XCTAssertEqual((e as? UploadError)?.kind, .unprocessable)
            XCTAssertTrue("\(e)".contains("40000x40000"), "\(e)")
        }
        XCTAssertThrowsError(try v.checkImage(Array("<html>".utf8), field: "source")) { e in
            XCTAssertEqual((e as? UploadError)?.kind, .unsupportedMedia)
            XCTAssertEqual("\(e)", "source: not a PNG or JPEG image")
        }
        XCTAssertEqual(try v.checkImage([UInt8](try Data(contentsOf: samples.appendingPathComponent("source.png"))), field: "source"), "png")
    }

    func testMediaIsProbedByContentAndLimitedInLength() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var limits = UploadLimits()
        limits.maxMediaSeconds = 1
        let v = UploadValidator(limits: limits)
        let video = samples.appendingPathComponent("driving_video.mp4")
        let probe = try MediaProbe.probe(video)
        XCTAssertTrue(probe.hasVideo)
        XCTAssertEqual(probe.fileExtension, "mp4")
        XCTAssertThrowsError(try v.checkVideo(at: video, field: "driving")) { e in
            XCTAssertEqual((e as? UploadError)?.kind, .unprocessable)
            XCTAssertTrue("\(e)".contains("the limit is 1 s"), "\(e)")
        }
        // A PNG renamed .mp4 is not a video container the server accepts.
        let fake = dir.appendingPathComponent("fake.mp4")
        try FileManager.default.copyItem(at: samples.appendingPathComponent("source.png"), to: fake)
        XCTAssertThrowsError(try v.checkVideo(at: fake, field: "driving")) { XCTAssertEqual(($0 as? UploadError)?.kind, .unsupportedMedia) }
        let junk = dir.appendingPathComponent("junk")
        try Data("definitely not audio".utf8).write(to: junk)
        XCTAssertThrowsError(try v.checkAudio(at: junk, field: "driving")) { XCTAssertEqual(($0 as? UploadError)?.kind, .unsupportedMedia) }
        // Half a second of speech fits.
        let wav = dir.appendingPathComponent("a.wav")
        try WAVWriter.write((0..<8000).map { Float(sin(Double($0) * 0.1)) * 0.3 }, sampleRate: 16000, to: wav)
        XCTAssertEqual(try v.checkAudio(at: wav, field: "driving").ext, "wav")
    }

    /// Playlists and concat lists name other files; ffprobe must refuse their demuxers before opening anything they
    /// name. The named file is a FIFO: following the reference would block ffprobe on it until it is killed (a
    /// `.timeout`), so `.unsupportedMedia` shows the reference was never opened.
    func testPlaylistUploadsAreRefusedWithoutFollowingThem() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trap = dir.appendingPathComponent("trap.wav")   // an extension the HLS demuxer allows for segments
        XCTAssertEqual(mkfifo(trap.path, 0o600), 0)
        let lists = [("hls.upload", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n\(trap.path)\n#EXT-X-ENDLIST\n"),
                     ("concat.upload", "ffconcat version 1.0\nfile trap.wav\n")]
        for (name, text) in lists {
            let url = dir.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            XCTAssertThrowsError(try MediaProbe.probe(url, timeout: 30)) { e in
                XCTAssertEqual((e as? UploadError)?.kind, .unsupportedMedia, "\(name): \(e)")
            }
        }
        XCTAssertEqual(MediaProbe.inputRestrictions, ["-protocol_whitelist", "file", "-format_whitelist", "mov,matroska,avi,wav,mp3,ogg,flac,aac,mpeg"])
    }

    /// An accepted upload is stored as ffmpeg rewrites it: the same stream (every sample kept), a file of the server's making.
    func testAcceptedMediaIsRewrittenByFFmpeg() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let upload = dir.appendingPathComponent("driving.upload"), stored = dir.appendingPathComponent("driving.wav")
        try WAVWriter.write((0..<8000).map { Float(sin(Double($0) * 0.1)) * 0.3 }, sampleRate: 16000, to: upload)
        var bytes = [UInt8](try Data(contentsOf: upload))
        bytes += Array("trailing bytes the client added".utf8)
        try Data(bytes).write(to: upload)
        let (ext, probe) = try UploadValidator(limits: UploadLimits()).checkAudio(at: upload, field: "driving")
        XCTAssertEqual(ext, "wav")
        try probe.rewrite(upload, to: stored)
        let again = try MediaProbe.probe(stored)
        XCTAssertEqual(again.format, "wav")
        // Stream copy keeps every sample: the durations agree to one sample (1/16000 s).
        XCTAssertEqual(again.duration, 0.5, accuracy: 1.0 / 16000)
        XCTAssertNotEqual(try Data(contentsOf: stored), Data(bytes))
    }

    func testOptionsAreStrict() throws {
        let limits = UploadLimits()
        func parse(_ s: String) throws -> JobOptions { try JobOptions.parse(Array(s.utf8), limits: limits) }
        let o = try parse(#"{"driver":"text","text":"hi","emotion":"happy","intensity":2.5,"steps":7,"seed":3,"source_sample":"source"}"#)
        XCTAssertEqual(o.driver, .text)
        XCTAssertEqual(o.steps, 7)
        XCTAssertEqual(o.intensity, 2.5)
        let cases: [(String, String)] = [
            ("[1]", "not a JSON object"),
            ("{}", "'driver' is required"),
            (#"{"driver":"image","colour":1}"#, "unknown key 'colour'"),
            (#"{"driver":"smell"}"#, "bad value for 'driver'"),
            (#"{"driver":"image","seed":"x"}"#, "'seed' has the wrong type"),
            (#"{"driver":"audio","intensity":5}"#, "intensity must be in 1...3"),
            (#"{"driver":"image","steps":0}"#, "steps must be in 1...1000"),
            (#"{"driver":"image","size":8}"#, "size must be in 16...1024"),
            (#"{"driver":"text"}"#, "text is required"),
            (#"{"driver":"image","text":"x"}"#, "only used by the text driver"),
            (#"{"driver":"audio","emotion":"a\u0007b"}"#, "control characters"),
            (#"{"driver":"text","text":null}"#, "'text' must not be null"),
            (#"{"driver":"image","steps":null}"#, "'steps' must not be null"),
        ]
        for (json, needle) in cases {
            XCTAssertThrowsError(try parse(json), json) { XCTAssertTrue("\($0)".contains(needle), "\(json): \($0)") }
        }
    }

    func testJobIDsAreRandomHexAndParsedStrictly() {
        let ids = Set((0..<1000).map { _ in JobID.random() })
        XCTAssertEqual(ids.count, 1000)
        XCTAssertTrue(ids.allSatisfy { $0.rawValue.count == 32 })
        for bad in ["../../etc/passwd", "ABCDEF0123456789abcdef0123456789", "abc", String(repeating: "g", count: 32), "0123456789abcdef0123456789abcde/"] {
            XCTAssertNil(JobID(bad), bad)
        }
    }

    func testSettingsThatWouldExposeTheServerAreRefused() {
        var c = ServerConfiguration()
        c.host = "0.0.0.0"
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("needs a token")) }
        c.token = "short"
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("at least 16")) }
        c.token = "0123456789abcdef-token"
        XCTAssertNoThrow(try c.validate())
        for h in ["127.0.0.1", "127.1.2.3", "localhost", "::1"] { XCTAssertTrue(ServerConfiguration.isLoopback(h), h) }
        for h in ["0.0.0.0", "192.168.1.2", "127.0.0.1.evil.com", "::"] { XCTAssertFalse(ServerConfiguration.isLoopback(h), h) }
    }

    /// The methods each API path answers (and so the 405s and `Allow` lists) are the ones docs/openapi.yaml lists.
    func testRouteTableMatchesTheSpec() throws {
        let yaml = try String(contentsOf: repository.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        var spec: [String: Set<String>] = [:], path: String?
        for line in yaml.components(separatedBy: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast()).replacingOccurrences(of: #"\{(\w+)\}"#, with: ":$1", options: .regularExpression)
            } else if line.hasPrefix("components:") {
                path = nil
            } else if let p = path, let m = ["get", "put", "post", "delete", "patch", "head", "options", "trace"].first(where: { line == "    \($0):" }) {
                spec[p, default: []].insert(m.uppercased())
            }
        }
        let server = Dictionary(uniqueKeysWithValues: Routes.table.filter { $0.path.first.map { ["v1", "healthz"].contains($0) } ?? false }
            .map { ("/" + $0.path.joined(separator: "/"), Set($0.methods.map(\.rawValue))) })
        XCTAssertEqual(server, spec)
        XCTAssertEqual(spec.count, 8)   // every path of the spec was read
    }

    func testSingleByteRanges() {
        XCTAssertEqual(FileResponder.range("bytes=0-99", size: 1000), 0...99)
        XCTAssertEqual(FileResponder.range("bytes=900-", size: 1000), 900...999)
        XCTAssertEqual(FileResponder.range("bytes=-100", size: 1000), 900...999)
        XCTAssertEqual(FileResponder.range("bytes=10-5000", size: 1000), 10...999)
        for bad in ["bytes=1000-", "bytes=5-2", "bytes=0-1,4-5", "items=0-1", "bytes=-0", "bytes=x-"] {
            XCTAssertNil(FileResponder.range(bad, size: 1000), bad)
        }
    }
}
