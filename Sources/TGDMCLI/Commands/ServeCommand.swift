import ArgumentParser
import Foundation
import Logging
import Server
import Torch

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The web studio and HTTP API: a page and /v1/jobs, with a job queue run on the bundled model.",
        discussion: """
        Serves the page at http://HOST:PORT/ and the JSON API documented in docs/openapi.yaml. Loopback only by \
        default; binding any other address needs a bearer token (--token or TGDM_TOKEN). Jobs and results are kept \
        under --data and survive a restart. See docs/SERVER.md.
        """)

    @Option(help: "Address to bind (loopback by default).") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port: Int = 8080
    @Option(help: "Folder for jobs, uploads and results.") var data: String = "out/serve"
    @Option(help: "Worker threads, each with its own copy of the models (one job at a time each).") var workers: Int = 1
    @Option(help: "Bearer token for the API (default: $TGDM_TOKEN); required when --host is not loopback.") var token: String?
    @Option(help: "TGDM model file (default: the bundled model).") var model: String?
    @Option(help: "Folder of sample inputs offered by the page (default: Samples/ of the checkout).") var samples: String?
    @Option(help: "Queued jobs before new submissions get 429.") var queue: Int = 16
    @Option(help: "Largest request body in MiB.") var maxUploadMb: Int = 64
    @Option(help: "Longest driving video, speech or spoken text in seconds.") var maxSeconds: Double = 60
    @Option(help: "Seconds a job may run before it fails.") var jobTimeout: Double = 1800
    @Option(help: "Compute threads per worker (default: all cores / workers).") var threads: Int?
    @Option(help: "Log format: text or json (one JSON object per line on stderr).") var logFormat: String = "text"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    func validate() throws {
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be in 1...64") }
        guard (1...4096).contains(maxUploadMb) else { throw ValidationError("--max-upload-mb must be in 1...4096") }
        if let t = threads, !(1...1024).contains(t) { throw ValidationError("--threads must be in 1...1024") }
    }

    func run() throws {
        try runReportingErrors {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            let json = logFormat == "json"
            LoggingSystem.bootstrap { label in
                var h: LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            var c = ServerConfiguration()
            c.host = host
            c.port = port
            c.dataDirectory = URL(fileURLWithPath: data)
            c.workers = workers
            c.token = token ?? ProcessInfo.processInfo.environment["TGDM_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            c.model = try model.map(inputURL)
            c.samplesDirectory = try samples.map(inputURL)
            c.queueCapacity = queue
            c.limits.maxRequestBytes = maxUploadMb << 20
            c.limits.maxMediaSeconds = maxSeconds
            c.jobTimeout = jobTimeout
            // Workers share the cores: each gets its part unless told otherwise.
            let cores = ProcessInfo.processInfo.activeProcessorCount
            Torch.configureThreads(threads ?? max(1, cores / workers))
            let server = try TGDMServer(configuration: c, logger: Logger(label: "tgdm.serve"))
            let display = c.host.contains(":") ? "[\(c.host)]" : c.host, dataPath = c.dataDirectory.path
            try blockingRun {
                try await server.run { port in
                    print("tgdm serve: http://\(display):\(port)/ (data: \(dataPath); Ctrl-C stops)")
                }
            }
        }
    }
}

/// Runs async work from a synchronous command and waits for it (the command tree is synchronous).
private func blockingRun(_ body: @escaping @Sendable () async throws -> Void) throws {
    final class Box: @unchecked Sendable { var error: Error? }
    let box = Box(), done = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { box.error = error }
        done.signal()
    }
    done.wait()
    if let e = box.error { throw e }
}
