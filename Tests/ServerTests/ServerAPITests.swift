import Foundation
import Media
@testable import Server
import XCTest

/// The HTTP API over loopback, with a tiny random model: submit, progress, result, cancel, bad uploads, auth,
/// restart, and a bounded load.
final class ServerAPITests: XCTestCase {
    var dir: URL!
    var model: URL!

    override func setUpWithError() throws {
        dir = try temporaryDirectory()
        model = try tinyModelFile(in: dir)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func data(_ name: String) throws -> Data { try Data(contentsOf: samples.appendingPathComponent(name)) }

    /// Small, fast jobs: a 32 px face crop.
    private let fast: [String: Any] = ["size": 32, "crop_only": true]
    private func options(_ extra: [String: Any]) -> [String: Any] { fast.merging(extra) { $1 } }

    func testSubmitFollowProgressAndFetchTheResult() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model)
        defer { s.stop() }
        // The page and its assets come from the binary.
        let page = try s.request("GET", "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains("TGDM Studio"))
        XCTAssertEqual(try s.request("GET", "/app.js").headers["content-type"], "text/javascript; charset=utf-8")
        XCTAssertEqual(page.headers["x-content-type-options"], "nosniff")

        // Uploaded source (with its coefficients, as a sidecar) driven by a sample image.
        let r = try s.submit(options(["driver": "image", "driving_sample": "driving"]),
                             files: [("source", "me.png", try data("source.png")), ("source_coeffs", "me.coeffs.json", try data("source.coeffs.json"))])
        XCTAssertEqual(r.status, 202, r.text)
        let id = try XCTUnwrap(try r.json()["id"] as? String)
        XCTAssertEqual(r.headers["location"], "/v1/jobs/\(id)")
        XCTAssertEqual((try r.json()["inputs"] as? [String: String])?["source"], "upload me.png")

        // Events: `job` updates until a finished state, then `end`, then the stream closes.
        let events = try s.request("GET", "/v1/jobs/\(id)/events")
        XCTAssertEqual(events.headers["content-type"], "text/event-stream")
        XCTAssertTrue(events.text.contains("event: job\ndata: {"), events.text)
        XCTAssertTrue(events.text.hasSuffix("event: end\ndata: {}\n\n"), events.text)
        let last = events.text.components(separatedBy: "event: job\ndata: ").last!.components(separatedBy: "\n").first!
        let final = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        XCTAssertEqual(final["state"] as? String, "succeeded", "\(final)")
        let progress = try XCTUnwrap(final["progress"] as? [String: Any])
        XCTAssertEqual(progress["frames_done"] as? Int, 1)
        XCTAssertEqual(progress["frames_total"] as? Int, 1)
        XCTAssertEqual(progress["steps"] as? Int, 3)

        let result = try s.request("GET", "/v1/jobs/\(id)/result")
        XCTAssertEqual(result.status, 200)
        XCTAssertEqual(result.headers["content-type"], "image/png")
        XCTAssertEqual(Array(result.body.prefix(8)), ImageHeader.pngMagic)
        XCTAssertEqual(ImageHeader.inspect([UInt8](result.body))?.width, 32)
        let download = try s.request("GET", "/v1/jobs/\(id)/result?download=1")
        XCTAssertEqual(download.headers["content-disposition"], "attachment; filename=\"tgdm-\(id.prefix(8)).png\"")
        let partial = try s.request("GET", "/v1/jobs/\(id)/result", headers: ["Range": "bytes=0-7"])
        XCTAssertEqual(partial.status, 206)
        XCTAssertEqual(Array(partial.body), ImageHeader.pngMagic)
        XCTAssertEqual(try s.request("GET", "/v1/jobs/\(id)/thumbnail").headers["content-type"], "image/jpeg")

        let list = try XCTUnwrap(try s.request("GET", "/v1/jobs").json()["jobs"] as? [[String: Any]])
        XCTAssertEqual(list.map { $0["id"] as? String }, [id])

        // A finished job is removed by DELETE, files and all.
        XCTAssertEqual(try s.request("DELETE", "/v1/jobs/\(id)").status, 204)
        XCTAssertEqual(try s.request("GET", "/v1/jobs/\(id)").status, 404)
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.server.queue.store.directory(of: JobID(id)!).path))
    }

    func testVideoAndSpeechJobsGiveAnMP4() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model)
        defer { s.stop() }
        let video = try s.submit(options(["driver": "video", "source_sample": "source", "driving_sample": "driving_video", "max_frames": 3]))
        XCTAssertEqual(video.status, 202, video.text)
        let wav = dir.appendingPathComponent("speech.wav")
        try WAVWriter.write((0..<8000).map { Float(sin(Double($0) * 0.05)) * 0.3 }, sampleRate: 16000, to: wav)   // half a second
        let audio = try s.submit(options(["driver": "audio", "source_sample": "source", "emotion": "happy", "intensity": 2]),
                                 files: [("driving", "hum.wav", try Data(contentsOf: wav))])
        XCTAssertEqual(audio.status, 202, audio.text)
        for r in [video, audio] {
            let job = try s.waitForJob(try XCTUnwrap(try r.json()["id"] as? String))
            XCTAssertEqual(job["state"] as? String, "succeeded", "\(job)")
            XCTAssertEqual((job["result"] as? [String: Any])?["media_type"] as? String, "video/mp4")
            let mp4 = try s.request("GET", "/v1/jobs/\(job["id"] as! String)/result")
            XCTAssertEqual(String(decoding: mp4.body.dropFirst(4).prefix(4), as: UTF8.self), "ftyp")
        }
        XCTAssertEqual(try s.waitForJob(try video.json()["id"] as! String)["result"].flatMap { ($0 as? [String: Any])?["frames"] as? Int }, 3)
    }

    func testCancelQueuedAndRunningJobs() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model)
        defer { s.stop() }
        // A long job (1000 steps per chunk of a 40-frame video) keeps the single worker busy.
        let long = try s.submit(options(["driver": "video", "source_sample": "source", "driving_sample": "driving_video", "steps": 1000,
                                         "max_frames": 40]))
        let longID = try XCTUnwrap(try long.json()["id"] as? String)
        let queued = try s.submit(options(["driver": "image", "source_sample": "source", "driving_sample": "driving"]))
        let queuedID = try XCTUnwrap(try queued.json()["id"] as? String)
        // The queued job is cancelled at once.
        let c = try s.request("DELETE", "/v1/jobs/\(queuedID)")
        XCTAssertEqual(c.status, 200, c.text)
        XCTAssertEqual(try c.json()["state"] as? String, "cancelled")
        // The running one stops at its next step.
        let deadline = Date().addingTimeInterval(20)
        while try s.request("GET", "/v1/jobs/\(longID)").json()["state"] as? String != "running", Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let d = try s.request("DELETE", "/v1/jobs/\(longID)")
        XCTAssertEqual(d.status, 202, d.text)
        XCTAssertEqual(try d.json()["cancel_requested"] as? Bool, true)
        let job = try s.waitForJob(longID, timeout: 20)
        XCTAssertEqual(job["state"] as? String, "cancelled", "\(job)")
        XCTAssertEqual(job["error"] as? String, "cancelled")
        XCTAssertEqual(try s.request("GET", "/v1/jobs/\(longID)/result").status, 409)
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.server.queue.store.directory(of: JobID(longID)!).appendingPathComponent("result.mp4").path))
    }

    func testBadRequestsGetA4xxWithAMessage() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) { $0.limits.maxRequestBytes = 1 << 20 }
        defer { s.stop() }
        let png = try data("source.png")
        var hugePNG = [UInt8](png)
        hugePNG.replaceSubrange(16..<24, with: [0, 0, 0x9C, 0x40, 0, 0, 0x9C, 0x40])
        let image: [String: Any] = ["driver": "image", "driving_sample": "driving"]
        let cases: [(TestResponse, Int, String)] = [
            (try s.request("POST", "/v1/jobs", headers: ["Content-Type": "application/json"], body: Data("{}".utf8)), 415, "multipart/form-data"),
            (try s.submit(["driver": "image"]), 400, "source portrait is required"),
            (try s.submit(["driver": "image", "bogus": 1]), 400, "unknown key 'bogus'"),
            (try s.submit(["driver": "audio", "source_sample": "source", "intensity": 9]), 422, "intensity must be in 1...3"),
            (try s.submit(image, files: [("source", "x.png", Data("not an image".utf8))]), 415, "source: not a PNG or JPEG image"),
            (try s.submit(image, files: [("source", "x.png", Data(hugePNG))]), 422, "40000x40000"),
            (try s.submit(["driver": "image", "source_sample": "../../etc/passwd", "driving_sample": "driving"]), 422, "no sample picture named"),
            (try s.submit(["driver": "video", "source_sample": "source"], files: [("driving", "v.mp4", png)]), 415, "not accepted"),
            (try s.submit(["driver": "audio", "source_sample": "source"], files: [("driving", "a.wav", Data("RIFF junk".utf8))]), 415, "driving:"),
            (try s.submit(["driver": "image", "source_sample": "source"], files: [("driving", "d.png", png), ("extra", "e", png)]), 400, "unknown field 'extra'"),
            (try s.submit(image, files: [("source", "big.png", Data(count: 2 << 20))]), 413, "larger than 1 MiB"),
            (try s.submit(image, files: [("source", "s.png", png), ("source_coeffs", "c.json", Data("{\"nope\":1}".utf8))]), 422, "source_coeffs:"),
            (try s.request("POST", "/v1/jobs", headers: ["Content-Type": "multipart/form-data; boundary=zz"], body: Data("--zz\r\ngarbage".utf8)),
             400, "malformed multipart body"),
            (try s.request("GET", "/v1/jobs/0123456789abcdef0123456789abcdef"), 404, "no job"),
            (try s.request("GET", "/v1/jobs/..%2F..%2Fjob.json"), 404, "no such job"),
            (try s.request("GET", "/v1/samples/nothing"), 404, "no such sample"),
            (try s.request("GET", "/v1/jobs?limit=0"), 400, "limit must be"),
        ]
        for (i, (r, status, needle)) in cases.enumerated() {
            XCTAssertEqual(r.status, status, "case \(i): \(r.text)")
            XCTAssertTrue(r.error.contains(needle), "case \(i): \(r.error)")
        }
        // A job that fails inside the pipeline reports the CLI's one-line message, without server paths.
        let noFace = try s.submit(["driver": "image", "driving_sample": "driving"],
                                  files: [("source", "blank.png", try RGBImageFixtures.blankPNG())])
        XCTAssertEqual(noFace.status, 202, noFace.text)
        let failed = try s.waitForJob(try noFace.json()["id"] as! String)
        XCTAssertEqual(failed["state"] as? String, "failed")
        XCTAssertEqual(failed["error"] as? String, "no face found in source.png")
        // Nothing of the refused submissions stayed on disk.
        let stored = try FileManager.default.contentsOfDirectory(atPath: s.server.queue.store.root.path)
        XCTAssertEqual(stored, [try noFace.json()["id"] as! String])
    }

    /// An upload that stalls half way is answered 408 after the upload timeout, and the server keeps serving.
    func testStalledUploadTimesOut() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) { $0.limits.uploadTimeout = 1 }
        defer { s.stop() }
        let (type, body) = Multipart.build([("options", nil, "application/json", Data(#"{"driver":"image"}"#.utf8))])
        var raw = TestHTTP.request("POST", port: s.port, path: "/v1/jobs", headers: ["Content-Type": type], body: body)
        raw = raw.prefix(raw.count - body.count / 2)   // Content-Length promises more than is sent
        let start = Date()
        let r = try TestHTTP.parse(try TestHTTP.exchange(port: s.port, request: raw, timeout: 10))
        XCTAssertEqual(r.status, 408, r.text)
        XCTAssertTrue(r.error.contains("longer than 1 s"), r.error)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertEqual(try s.request("GET", "/healthz").status, 200)
    }

    func testTokenHostAndOriginChecks() throws {
        let token = "test-token-0123456789"
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) { $0.token = token }
        defer { s.stop() }
        XCTAssertEqual(try s.request("GET", "/").status, 200)                        // the page itself is public
        XCTAssertEqual(try s.request("GET", "/healthz").status, 200)
        let denied = try s.request("GET", "/v1/jobs")
        XCTAssertEqual(denied.status, 401)
        XCTAssertEqual(denied.headers["www-authenticate"], "Bearer realm=\"tgdm\"")
        XCTAssertEqual(try s.request("GET", "/v1/jobs", headers: ["Authorization": "Bearer wrong-token-0123456789"]).status, 401)
        XCTAssertEqual(try s.request("GET", "/v1/jobs", headers: ["Authorization": "Bearer \(token)"]).status, 200)
        XCTAssertEqual(try s.request("GET", "/v1/jobs", headers: ["Cookie": "a=b; tgdm_token=\(token)"]).status, 200)
        // A page on another origin cannot submit, even with the cookie; a rebinding host name is refused.
        let cross = try s.submit(["driver": "image"], headers: ["Cookie": "tgdm_token=\(token)", "Origin": "http://evil.example"])
        XCTAssertEqual(cross.status, 403, cross.text)
        let sameOrigin = try s.submit(options(["driver": "image", "source_sample": "source", "driving_sample": "driving"]),
                                      headers: ["Authorization": "Bearer \(token)", "Origin": "http://127.0.0.1:\(s.port)"])
        XCTAssertEqual(sameOrigin.status, 202, sameOrigin.text)
        let rebind = try s.request("GET", "/healthz", headers: ["Host": "evil.example:\(s.port)"])
        XCTAssertEqual(rebind.status, 421, rebind.text)
    }

    func testRestartKeepsFinishedJobsAndFailsInterruptedOnes() throws {
        let data = dir.appendingPathComponent("data")
        var s = try RunningServer.start(data: data, model: model)
        let r = try s.submit(options(["driver": "image", "source_sample": "source", "driving_sample": "driving"]))
        let id = try XCTUnwrap(try r.json()["id"] as? String)
        XCTAssertEqual(try s.waitForJob(id)["state"] as? String, "succeeded")
        let before = try s.request("GET", "/v1/jobs/\(id)/result").body
        s.stop()

        // A job a killed server left running, and a stray folder without a record.
        let interrupted = JobID.random()
        var record = JobRecord(id: interrupted, options: JobOptions(driver: .image, sourceSample: "source", drivingSample: "driving"),
                               inputs: ["source": "sample source"])
        record.state = .running
        record.started = Date()
        let store = try JobStore(dataDirectory: data, logger: .init(label: "test"))
        try store.create(interrupted)
        try store.save(record)
        let stray = JobID.random()
        try store.create(stray)

        s = try RunningServer.start(data: data, model: model)
        defer { s.stop() }
        let kept = try s.request("GET", "/v1/jobs/\(id)").json()
        XCTAssertEqual(kept["state"] as? String, "succeeded")
        XCTAssertEqual(try s.request("GET", "/v1/jobs/\(id)/result").body, before)
        let failed = try s.request("GET", "/v1/jobs/\(interrupted)").json()
        XCTAssertEqual(failed["state"] as? String, "failed")
        XCTAssertEqual(failed["error"] as? String, JobStore.interruptedMessage)
        XCTAssertEqual(try s.request("GET", "/v1/jobs/\(stray)").status, 404)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.directory(of: stray).path))
    }

    /// 50 concurrent submissions against a queue of 8: each is accepted (202) or refused (429), every accepted job
    /// finishes, and the server keeps answering meanwhile.
    func testBoundedLoad() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) { $0.queueCapacity = 8 }
        defer { s.stop() }
        let png = try data("source.png"), coeffs = try data("source.coeffs.json")
        let n = 50
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var statuses: [Int] = []
            var ids: [String] = []
        }
        let results = Results()
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: n) { i in
            do {
                let r = try s.submit(self.options(["driver": "image", "driving_sample": "driving", "seed": i]),
                                     files: [("source", "s\(i).png", png), ("source_coeffs", "s.coeffs.json", coeffs)])
                results.lock.lock()
                results.statuses.append(r.status)
                if r.status == 202, let id = try? r.json()["id"] as? String { results.ids.append(id) }
                results.lock.unlock()
            } catch {
                results.lock.lock()
                results.statuses.append(-1)
                results.lock.unlock()
            }
        }
        let submitSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(results.statuses.count, n)
        XCTAssertTrue(results.statuses.allSatisfy { $0 == 202 || $0 == 429 }, "\(results.statuses)")
        let accepted = results.statuses.filter { $0 == 202 }.count
        XCTAssertGreaterThanOrEqual(accepted, 8)
        XCTAssertEqual(results.ids.count, accepted)
        XCTAssertEqual(try s.request("GET", "/healthz").status, 200)
        for id in results.ids { XCTAssertEqual(try s.waitForJob(id, timeout: 60)["state"] as? String, "succeeded") }
        let listed = Set((try s.request("GET", "/v1/jobs?limit=1000").json()["jobs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        XCTAssertEqual(listed, Set(results.ids))
        print("load: \(n) submissions in \(String(format: "%.2f", submitSeconds)) s, \(accepted) accepted, \(n - accepted) refused with 429; all accepted finished in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }
}

enum RGBImageFixtures {
    /// A plain grey picture: a valid PNG with no face in it.
    static func blankPNG() throws -> Data {
        try RGBImage(width: 64, height: 64, fill: (128, 128, 128)).encoded(as: .png)
    }
}
