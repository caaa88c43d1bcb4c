import Diffusion
import FaceModel
import Foundation
import Logging
import Pipelines
@testable import Server
import TGDMModel
import Torch
import XCTest

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let samples = repository.appendingPathComponent("Samples")

func temporaryDirectory(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-serve-\(name.filter(\.isLetter))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A tiny random TGDM (16 px, 3 DDIM steps) as a model file, so jobs run in a fraction of a second.
func tinyModelFile(in dir: URL) throws -> URL {
    let config = TGDMConfig(imageSize: 16, baseChannels: 8, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                            textureEncoderBlocks: 1, coefficientDim: Coefficients.count, normGroups: 4, temporalRadius: 0)
    let bundle = TGDMModelBundle(model: try TGDMUNet(config: config, generator: Generator(seed: 1)), schedule: try NoiseSchedule(.paper),
                                 defaultSampler: SamplerConfiguration(kind: .ddim, steps: 3, eta: 1))
    let url = dir.appendingPathComponent("tiny.safetensors")
    try bundle.save(to: url)
    return url
}

/// A `TGDMServer` running on a free loopback port inside the test process, stopped by cancelling its task.
final class RunningServer: @unchecked Sendable {
    let server: TGDMServer
    let port: Int
    private let task: Task<Void, Error>

    static func start(data: URL, model: URL, configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> RunningServer {
        Torch.configureThreads(1)
        var c = ServerConfiguration()
        c.port = 0
        c.dataDirectory = data
        c.model = model
        c.samplesDirectory = samples
        configure(&c)
        var logger = Logger(label: "tgdm.serve.test")
        logger.logLevel = ProcessInfo.processInfo.environment["TGDM_SERVE_TEST_LOG"] == nil ? .critical : .debug
        let server = try TGDMServer(configuration: c, logger: logger)
        final class Port: @unchecked Sendable { var value = 0 }
        let port = Port(), started = DispatchSemaphore(value: 0)
        let task = Task { try await server.run(handleSignals: false) { p in port.value = p; started.signal() } }
        guard started.wait(timeout: .now() + 20) == .success, port.value > 0 else {
            task.cancel()
            throw TestHTTP.Failure("the server did not start within 20 s")
        }
        return RunningServer(server: server, port: port.value, task: task)
    }

    private init(server: TGDMServer, port: Int, task: Task<Void, Error>) {
        self.server = server
        self.port = port
        self.task = task
    }

    /// Cancels the server task and waits until it returned (workers stopped).
    func stop() {
        task.cancel()
        let done = DispatchSemaphore(value: 0)
        Task { _ = await task.result; done.signal() }
        _ = done.wait(timeout: .now() + 30)
    }

    func request(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil, timeout: Double = 30) throws -> TestResponse {
        try TestHTTP.send(method, port: port, path: path, headers: headers, body: body, timeout: timeout)
    }

    /// POSTs a job: options as JSON plus files by field name.
    func submit(_ options: [String: Any], files: [(field: String, filename: String, data: Data)] = [], headers: [String: String] = [:]) throws -> TestResponse {
        var parts: [Multipart.TestPart] = [("options", "options.json", "application/json", try JSONSerialization.data(withJSONObject: options))]
        for f in files { parts.append((f.field, f.filename, "application/octet-stream", f.data)) }
        let (type, body) = Multipart.build(parts)
        var h = headers
        h["Content-Type"] = type
        return try request("POST", "/v1/jobs", headers: h, body: body)
    }

    /// Follows the job's event stream until it ends (a finished state: the server closes it) and returns the job.
    /// Event driven: no polling, no sleeps; `timeout` only bounds a stalled stream (it fails the test).
    func waitForJob(_ id: String, timeout: Double = 120) throws -> [String: Any] {
        let stream = try EventStream(port: port, path: "/v1/jobs/\(id)/events", timeout: timeout)
        try stream.read { $0.contains("event: end\n") }
        stream.close()
        let json = try request("GET", "/v1/jobs/\(id)").json()
        if let s = json["state"] as? String, !["succeeded", "failed", "cancelled"].contains(s) { XCTFail("job \(id) is still \(s): \(json)") }
        return json
    }

    /// Follows the job's event stream until its state is `state` (true), or it ends in another state (false).
    @discardableResult
    func waitForState(_ id: String, _ state: String, timeout: Double = 120) throws -> Bool {
        let stream = try EventStream(port: port, path: "/v1/jobs/\(id)/events", timeout: timeout)
        defer { stream.close() }
        let reached = try stream.read { $0.contains("\"state\":\"\(state)\"") }
        if !reached { XCTFail("job \(id) never became \(state): \(stream.text.suffix(400))") }
        return reached
    }

    /// A video job of 1000 denoising steps for each chunk of 40 frames (thousands of UNet evaluations): it keeps the
    /// single worker busy until it is cancelled. Returns once it is running.
    func startBlockingJob() throws -> String {
        let r = try submit(["driver": "video", "source_sample": "source", "driving_sample": "driving_video", "steps": 1000,
                            "max_frames": 40, "size": 32, "crop_only": true])
        guard r.status == 202, let id = try r.json()["id"] as? String else { throw TestHTTP.Failure("the blocking job was refused: \(r.text)") }
        try waitForState(id, "running")
        return id
    }

    /// Bodies being received and uploads waiting at the server's upload gate.
    func uploadGateState() -> (holders: Int, waiting: Int) {
        final class Box: @unchecked Sendable { var value = (holders: 0, waiting: 0) }
        let box = Box(), done = DispatchSemaphore(value: 0), gate = server.uploads
        Task {
            box.value = await gate.state
            done.signal()
        }
        done.wait()
        return box.value
    }
}

/// Waits for a condition the server reaches by itself (a slot freed, an upload parked), checking every 10 ms.
/// The deadline is only a safety net; reaching it fails the test with `what`.
@discardableResult
func waitUntil(_ what: String, timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while try !condition() {
        if Date() > deadline {
            XCTFail("\(what): not reached within \(Int(timeout)) s", file: file, line: line)
            return false
        }
        usleep(10_000)
    }
    return true
}

extension Multipart {
    typealias TestPart = (name: String, filename: String?, contentType: String?, data: Data)

    /// A multipart/form-data body as browsers and curl write it.
    static func build(_ parts: [TestPart], boundary: String = "----tgdmTestBoundary7MA4YWxkTrZu0gW") -> (String, Data) {
        var body = Data()
        for p in parts {
            body.append(Data("--\(boundary)\r\n".utf8))
            var disposition = "Content-Disposition: form-data; name=\"\(p.name)\""
            if let f = p.filename { disposition += "; filename=\"\(f.replacingOccurrences(of: "\"", with: "\\\""))\"" }   // as curl escapes
            body.append(Data("\(disposition)\r\n".utf8))
            if let t = p.contentType { body.append(Data("Content-Type: \(t)\r\n".utf8)) }
            body.append(Data("\r\n".utf8))
            body.append(p.data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return ("multipart/form-data; boundary=\(boundary)", body)
    }
}
