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
        assertSecurityHeaders(page, "the page")
        assertSecurityHeaders(try s.request("GET", "/app.js"), "the script")
        assertSecurityHeaders(try s.request("GET", "/v1/jobs/0123456789abcdef0123456789abcdef"), "an API error")

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
        try s.waitForState(longID, "running")
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
            (try s.submit(["driver": "video", "source_sample": "source"], files: [("driving", "v.mp4", png)]), 415, "driving: not a readable audio or video file"),
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
            (try s.request("GET", "/v1/jobs?limit=null"), 400, "limit must be"),
            (try s.request("GET", "/v1/jobs?limit=1.5"), 400, "limit must be"),
            (try s.request("GET", "/v1/jobs?limit="), 400, "limit must be"),
            (try s.request("GET", "/v1/jobs?limit=5&limit=6"), 400, "limit must be"),
            (try s.submit(["driver": "image", "source_sample": "source", "driving_sample": "driving", "seed": NSNull()]), 400, "'seed' must not be null"),
            (try s.submit(["driver": "text", "source_sample": "source"]), 422, "text is required"),
            (try s.submit(["driver": "video", "source_sample": "source"], files: [("driving", "list.m3u8", Self.playlist(naming: "driving.upload"))]),
             415, "driving: not a readable audio or video file"),
            (try s.submit(["driver": "audio", "source_sample": "source"], files: [("driving", "list.txt", Data("ffconcat version 1.0\nfile source.png\n".utf8))]),
             415, "driving: not a readable audio or video file"),
            (try chunkedUpload(s, bytes: 3 << 20), 413, "larger than 1 MiB"),
        ]
        for (i, (r, status, needle)) in cases.enumerated() {
            XCTAssertEqual(r.status, status, "case \(i): \(r.text)")
            XCTAssertTrue(r.error.contains(needle), "case \(i): \(r.error)")
        }
        XCTAssertEqual(try s.request("GET", "/v1/jobs?limit=5").status, 200)
        // Undeclared methods, TRACE and HEAD included, are 405 with the route's methods; an unknown path stays 404.
        let methodCases: [(String, String, String)] = [
            ("TRACE", "/healthz", "GET"), ("TRACE", "/v1/jobs", "GET, POST"), ("PUT", "/v1/jobs", "GET, POST"),
            ("HEAD", "/v1/samples", "GET"), ("TRACE", "/v1/samples/source", "GET"), ("PATCH", "/v1/jobs/0123456789abcdef0123456789abcdef", "GET, DELETE"),
            ("POST", "/v1/jobs/0123456789abcdef0123456789abcdef/result", "GET"), ("DELETE", "/v1/jobs/0123456789abcdef0123456789abcdef/events", "GET"),
            ("OPTIONS", "/", "GET"), ("TRACE", "/app.js", "GET"),
        ]
        for (method, path, allow) in methodCases {
            let r = try s.request(method, path)
            XCTAssertEqual(r.status, 405, "\(method) \(path): \(r.text)")
            XCTAssertEqual(r.headers["allow"], allow, "\(method) \(path)")
        }
        XCTAssertEqual(try s.request("TRACE", "/nothing/here").status, 404)
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
        // The answer is the event; the socket's 60 s timeout is only a safety net.
        let r = try TestHTTP.parse(try TestHTTP.exchange(port: s.port, request: raw, timeout: 60))
        XCTAssertEqual(r.status, 408, r.text)
        XCTAssertTrue(r.error.contains("longer than 1 s"), r.error)
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

    /// 50 concurrent submissions against a queue of 8 while the single worker is busy: exactly 8 are accepted (202)
    /// and 42 refused with 429 and Retry-After; the server keeps answering; every accepted job finishes.
    func testAFullQueueRefusesWith429() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) { $0.queueCapacity = 8 }
        defer { s.stop() }
        let blocker = try s.startBlockingJob()
        let png = try data("source.png"), coeffs = try data("source.coeffs.json")
        let n = 50
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var responses: [TestResponse] = []
            var failures: [String] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: n) { i in
            do {
                let r = try s.submit(self.options(["driver": "image", "driving_sample": "driving", "seed": i]),
                                     files: [("source", "s\(i).png", png), ("source_coeffs", "s.coeffs.json", coeffs)])
                results.lock.lock()
                results.responses.append(r)
                results.lock.unlock()
            } catch {
                results.lock.lock()
                results.failures.append("\(error)")
                results.lock.unlock()
            }
        }
        XCTAssertEqual(results.failures, [])
        let accepted = results.responses.filter { $0.status == 202 }, refused = results.responses.filter { $0.status == 429 }
        XCTAssertEqual(accepted.count, 8, "\(results.responses.map(\.status))")
        XCTAssertEqual(refused.count, n - 8, "\(results.responses.map(\.status))")
        for r in refused {
            XCTAssertEqual(r.headers["retry-after"], "10")
            XCTAssertTrue(r.error.contains("the queue is full (8 jobs waiting)"), r.error)
        }
        let health = try s.request("GET", "/healthz").json()
        XCTAssertEqual(health["queued"] as? Int, 8)
        XCTAssertEqual(health["running"] as? Int, 1)
        // The premise: the blocker ran all along (had it finished, the queue could have drained).
        XCTAssertEqual(try s.request("GET", "/v1/jobs/\(blocker)").json()["state"] as? String, "running")
        XCTAssertEqual(try s.request("DELETE", "/v1/jobs/\(blocker)").status, 202)
        let ids = try accepted.map { try XCTUnwrap(try $0.json()["id"] as? String) }
        for id in ids { XCTAssertEqual(try s.waitForJob(id)["state"] as? String, "succeeded") }
        let listed = Set((try s.request("GET", "/v1/jobs?limit=1000").json()["jobs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        XCTAssertEqual(listed, Set(ids + [blocker]))
    }

    /// With one upload slot, a second upload waits at the gate while the first is still arriving, and is served
    /// once the first one's body is complete. Driven by the gate's own state, not by time.
    func testUploadsBeyondTheGateWait() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) { $0.concurrentUploads = 1 }
        defer { s.stop() }
        let job = options(["driver": "image", "source_sample": "source", "driving_sample": "driving"])
        let (type, body) = Multipart.build([("options", nil, "application/json", try JSONSerialization.data(withJSONObject: job))])
        let raw = TestHTTP.request("POST", port: s.port, path: "/v1/jobs", headers: ["Content-Type": type], body: body)
        let split = raw.count - body.count / 2
        // The first upload sends half its body and holds the only slot.
        let first = try TestHTTP.connect(port: s.port, timeout: 60)
        defer { close(first) }
        TestHTTP.sendAll(first, raw.prefix(split))
        waitUntil("the first upload holds the slot") { s.uploadGateState().holders == 1 }
        // The second, complete upload parks at the gate.
        final class Answer: @unchecked Sendable { var response: TestResponse?; var error: Error? }
        let second = Answer(), answered = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            do { second.response = try s.submit(job) } catch { second.error = error }
            answered.signal()
        }
        waitUntil("the second upload waits at the gate") { s.uploadGateState().waiting == 1 }
        XCTAssertNil(second.response, "answered while waiting for the slot")
        XCTAssertEqual(s.uploadGateState().holders, 1)
        // The first body completes: it is answered, and the second gets the slot and is answered too.
        TestHTTP.sendAll(first, raw.suffix(from: split))
        var head = Data(), buffer = [UInt8](repeating: 0, count: 4096)
        while !head.contains(Data("\r\n\r\n".utf8)) {
            let n = recv(first, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            head.append(contentsOf: buffer[0..<n])
        }
        XCTAssertTrue(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 202"), String(decoding: head, as: UTF8.self))
        answered.wait()
        XCTAssertNil(second.error)
        XCTAssertEqual(second.response?.status, 202, second.response?.text ?? "")
        XCTAssertTrue(s.uploadGateState() == (0, 0))
    }

    /// A job running past --job-timeout fails with the timeout's message and leaves no result. The job is thousands
    /// of UNet evaluations and the timeout 0.2 s: no CPU finishes the one within the other.
    func testAJobPastItsTimeoutFails() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) { $0.jobTimeout = 0.2 }
        defer { s.stop() }
        let r = try s.submit(options(["driver": "video", "source_sample": "source", "driving_sample": "driving_video", "steps": 1000,
                                      "max_frames": 40]))
        XCTAssertEqual(r.status, 202, r.text)
        let id = try XCTUnwrap(try r.json()["id"] as? String)
        let job = try s.waitForJob(id)
        XCTAssertEqual(job["state"] as? String, "failed", "\(job)")
        XCTAssertEqual(job["error"] as? String, "timed out after 0.2 s")
        XCTAssertNil(job["result"])
        XCTAssertEqual(try s.request("GET", "/v1/jobs/\(id)/result").status, 409)
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.server.queue.store.directory(of: JobID(id)!).appendingPathComponent("result.mp4").path))
    }

    /// At most `maxEventStreams` event streams of unfinished jobs: one more is 429; a client that goes away frees its
    /// slot (noticed at the next heartbeat), and a finished job's stream is always served.
    func testEventStreamsAreLimited() throws {
        let s = try RunningServer.start(data: dir.appendingPathComponent("data"), model: model) {
            $0.maxEventStreams = 2
            $0.heartbeatInterval = 0.1
        }
        defer { s.stop() }
        let blocker = try s.startBlockingJob()
        waitUntil("the helper's own stream is closed") { s.server.queue.eventStreamCount == 0 }
        let path = "/v1/jobs/\(blocker)/events"
        let a = try EventStream(port: s.port, path: path), b = try EventStream(port: s.port, path: path)
        XCTAssertTrue(try a.read { $0.contains("event: job") })
        XCTAssertTrue(try b.read { $0.contains("event: job") })
        XCTAssertEqual(a.status, 200)
        XCTAssertEqual(s.server.queue.eventStreamCount, 2)
        let third = try s.request("GET", path)
        XCTAssertEqual(third.status, 429, third.text)
        XCTAssertEqual(third.headers["retry-after"], "10")
        XCTAssertTrue(third.error.contains("too many event streams open (2)"), third.error)
        // A finished job's stream needs no slot.
        let done = try s.submit(options(["driver": "image", "source_sample": "source", "driving_sample": "driving"]))
        let doneID = try XCTUnwrap(try done.json()["id"] as? String)
        XCTAssertEqual(try s.request("DELETE", "/v1/jobs/\(doneID)").status, 200)   // queued behind the blocker: cancelled
        let finished = try s.request("GET", "/v1/jobs/\(doneID)/events")
        XCTAssertEqual(finished.status, 200)
        XCTAssertTrue(finished.text.hasSuffix("event: end\ndata: {}\n\n"), finished.text)
        // One client goes away: its slot comes back and a new stream is served.
        a.close()
        waitUntil("the server frees the slot of a client that went away") { s.server.queue.eventStreamCount == 1 }
        let c = try EventStream(port: s.port, path: path)
        XCTAssertTrue(try c.read { $0.contains("event: job") })
        XCTAssertEqual(c.status, 200)
        XCTAssertEqual(s.server.queue.eventStreamCount, 2)
        XCTAssertEqual(try s.request("DELETE", "/v1/jobs/\(blocker)").status, 202)
        XCTAssertTrue(try b.read { $0.contains("event: end") })
    }

    /// An HLS playlist naming a file of its own folder (on a loopback-only server: the file protocol is all there is).
    static func playlist(naming name: String) -> Data {
        Data("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n\(name)\n#EXT-X-ENDLIST\n".utf8)
    }

    /// A multipart upload of `bytes` sent chunked (no Content-Length), as a browser streaming a file may.
    private func chunkedUpload(_ s: RunningServer, bytes: Int) throws -> TestResponse {
        let boundary = "chunkedBoundary"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"source\"; filename=\"big.png\"\r\n\r\n".utf8)
        body.append(Data(count: bytes))
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        var raw = Data("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:\(s.port)\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary=\(boundary)\r\n\r\n".utf8)
        var offset = 0
        while offset < body.count {
            let piece = body[offset..<min(body.count, offset + 65536)]
            raw.append(Data((String(piece.count, radix: 16) + "\r\n").utf8))
            raw.append(piece)
            raw.append(Data("\r\n".utf8))
            offset += piece.count
        }
        raw.append(Data("0\r\n\r\n".utf8))
        return try TestHTTP.parse(try TestHTTP.exchange(port: s.port, request: raw, timeout: 60))
    }

    private func assertSecurityHeaders(_ r: TestResponse, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.headers["x-content-type-options"], "nosniff", what, file: file, line: line)
        XCTAssertEqual(r.headers["x-frame-options"], "DENY", what, file: file, line: line)
        XCTAssertEqual(r.headers["referrer-policy"], "no-referrer", what, file: file, line: line)
        XCTAssertEqual(r.headers["content-security-policy"],
                       "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
                       what, file: file, line: line)
    }
}

enum RGBImageFixtures {
    /// A plain grey picture: a valid PNG with no face in it.
    static func blankPNG() throws -> Data {
        try RGBImage(width: 64, height: 64, fill: (128, 128, 128)).encoded(as: .png)
    }
}
