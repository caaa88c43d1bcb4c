import Foundation

/// Everything `tgdm serve` can be told.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests); the bound port is reported by `TGDMServer.run(onStarted:)`.
    public var port = 8080
    /// Jobs, inputs and results live under `<dataDirectory>/jobs/`.
    public var dataDirectory = URL(fileURLWithPath: "out/serve")
    /// Worker threads, each with its own pipeline (one job at a time each).
    public var workers = 1
    /// Bearer token required on every API request when set; required whenever `host` is not a loopback address.
    public var token: String?
    /// Queued jobs (not counting running ones) before `POST /v1/jobs` answers 429.
    public var queueCapacity = 16
    public var limits = UploadLimits()
    /// Seconds a job may run before it fails as timed out.
    public var jobTimeout = 1800.0
    /// Seconds a keep-alive connection may stay idle.
    public var idleTimeout = 60.0
    /// The TGDM model file (nil: the bundled model).
    public var model: URL?
    /// Sample inputs offered by the page (nil: `Samples/` found upwards from the working directory).
    public var samplesDirectory: URL?
    /// Request bodies received at once (memory: this many times `limits.maxRequestBytes` at most); more wait.
    public var concurrentUploads = 8
    /// Event streams (`GET /v1/jobs/{id}/events` of unfinished jobs) open at once; more are answered 429.
    public var maxEventStreams = 64
    /// Seconds between SSE heartbeats.
    public var heartbeatInterval = 15.0

    public init() {}

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool { Self.isLoopback(host) }

    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Refuses unsafe or impossible settings with a one-line reason.
    public func validate() throws {
        func bad(_ m: String) -> ServerError { ServerError(m) }
        guard !host.isEmpty else { throw bad("--host must not be empty") }
        guard (0...65535).contains(port) else { throw bad("--port must be in 0...65535") }
        guard (1...64).contains(workers) else { throw bad("--workers must be in 1...64") }
        guard (1...10_000).contains(queueCapacity) else { throw bad("--queue must be in 1...10000") }
        guard (1...1024).contains(concurrentUploads) else { throw bad("concurrent uploads must be in 1...1024") }
        guard (1...10_000).contains(maxEventStreams) else { throw bad("event streams must be in 1...10000") }
        guard jobTimeout.isFinite, jobTimeout > 0 else { throw bad("--job-timeout must be positive") }
        guard limits.maxRequestBytes >= 1 << 20 else { throw bad("--max-upload-mb must be at least 1") }
        guard limits.maxMediaSeconds.isFinite, limits.maxMediaSeconds > 0 else { throw bad("--max-seconds must be positive") }
        if let t = token {
            guard t.count >= 16 else { throw bad("the token must be at least 16 characters") }
            guard t.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != ";" && $0 != "," && $0 != "\"" && $0 != "\\" }),
                  t.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
                throw bad("the token must be printable ASCII without spaces, quotes, commas or semicolons")
            }
        } else if !isLoopback {
            throw bad("binding \(host) (not a loopback address) needs a token: pass --token or set TGDM_TOKEN")
        }
    }
}
