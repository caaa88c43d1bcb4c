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

    /// Polls the job until it is finished (or the time is up) and returns its last JSON.
    func waitForJob(_ id: String, timeout: Double = 30) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let r = try request("GET", "/v1/jobs/\(id)")
            let json = try r.json()
            if let s = json["state"] as? String, ["succeeded", "failed", "cancelled"].contains(s) { return json }
            if Date() > deadline { XCTFail("job \(id) did not finish in \(timeout) s: \(json)"); return json }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
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
