import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// The page and the JSON API (docs/openapi.yaml describes every route).
struct Routes: Sendable {
    let queue: JobQueue
    let samples: SampleLibrary
    let validator: UploadValidator
    let assets: PageAssets
    let workers: Int
    let heartbeat: Double
    let logger: Logger
    let files = FileResponder()
    /// Bodies being received at once (each up to the request limit in memory); later uploads wait their turn.
    let uploads: UploadGate

    /// Every route and the methods it answers (docs/openapi.yaml says the same); `:name` matches one path segment.
    /// Any other method on these paths is answered 405 with `Allow` by `MethodCheckMiddleware`.
    static let table: [(path: [Substring], methods: [HTTPRequest.Method])] = {
        let page = ["/"] + PageAssets.names.map { "/\($0.file)" }.filter { $0 != "/index.html" }
        let routes: [(String, [HTTPRequest.Method])] = page.map { ($0, [.get]) } + [
            ("/healthz", [.get]), ("/v1/samples", [.get]), ("/v1/samples/:name", [.get]), ("/v1/jobs", [.get, .post]),
            ("/v1/jobs/:id", [.get, .delete]), ("/v1/jobs/:id/result", [.get]), ("/v1/jobs/:id/thumbnail", [.get]),
            ("/v1/jobs/:id/events", [.get]),
        ]
        return routes.map { ($0.0.split(separator: "/"), $0.1) }
    }()

    /// The methods the route at `path` answers, or nil when no route has that shape (404).
    static func allowedMethods(path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        return table.first { route in
            route.path.count == segments.count && zip(route.path, segments).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
        }?.methods
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in assets.response("index.html") }
        for (name, _) in PageAssets.names where name != "index.html" {
            router.get(RouterPath(stringLiteral: "/\(name)")) { _, _ in assets.response(name) }
        }
        router.get("/healthz") { _, _ in
            let c = queue.counts
            return JSONBody.response(Health(status: "ok", queued: c.queued, running: c.running, capacity: queue.capacity, workers: workers))
        }
        router.get("/v1/samples") { _, _ in JSONBody.response(["samples": samples.samples]) }
        router.get("/v1/samples/:name") { request, context in
            guard let name = context.parameters.get("name"), let s = samples.sample(named: name) else {
                throw APIError(.notFound, "no such sample")
            }
            return try await files.respond(s.url, mediaType: s.mediaType, request: request, context: context, cache: "max-age=3600")
        }
        router.post("/v1/jobs") { request, context in try await submit(request, context: context) }
        router.get("/v1/jobs") { request, _ in
            let limit = try Self.integerQuery(request, "limit", default: 100, range: 1...1000)
            return JSONBody.response(["jobs": queue.list(limit: limit)])
        }
        router.get("/v1/jobs/:id") { _, context in JSONBody.response(try job(context)) }
        router.delete("/v1/jobs/:id") { _, context in
            let id = try jobID(context)
            switch queue.cancelOrRemove(id) {
            case .cancelled(let r): return JSONBody.response(r)
            case .cancelling(let r): return JSONBody.response(r, status: .accepted)
            case .removed: return Response(status: .noContent)
            case .notFound: throw APIError(.notFound, "no job \(id)")
            }
        }
        router.get("/v1/jobs/:id/result") { request, context in
            let r = try job(context)
            guard r.state == .succeeded, let url = queue.store.resultURL(of: r), let result = r.result else {
                throw APIError(.conflict, r.state.isFinished ? "job \(r.id) has no result (\(r.state.rawValue))" : "job \(r.id) is \(r.state.rawValue)")
            }
            let download = request.uri.queryParameters.get("download") != nil
            let name = "tgdm-\(r.id.rawValue.prefix(8)).\(url.pathExtension)"
            return try await files.respond(url, mediaType: result.mediaType, request: request, context: context,
                                           downloadName: download ? name : nil)
        }
        router.get("/v1/jobs/:id/thumbnail") { request, context in
            let r = try job(context)
            guard r.result?.hasThumbnail == true else { throw APIError(.notFound, "job \(r.id) has no thumbnail") }
            return try await files.respond(queue.store.thumbnailURL(of: r.id), mediaType: "image/jpeg", request: request, context: context,
                                           cache: "max-age=86400")
        }
        router.get("/v1/jobs/:id/events") { _, context in try events(context) }
    }

    /// An integer query parameter: absent gives the default; anything but one decimal integer in range is a 400
    /// (`limit=null`, `limit=1.5`, `limit=` and a repeated parameter are refused, not read as the default).
    static func integerQuery(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        let values = request.uri.queryParameters.getAll(name)
        guard !values.isEmpty else { return value }
        let text = values.count == 1 ? values[0] : ""
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), range.contains(n) else {
            throw APIError(.badRequest, "\(name) must be one integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    struct Health: Encodable {
        let status: String
        let queued, running, capacity, workers: Int
    }

    private func jobID(_ context: BasicRequestContext) throws -> JobID {
        guard let s = context.parameters.get("id"), let id = JobID(s) else { throw APIError(.notFound, "no such job") }
        return id
    }

    private func job(_ context: BasicRequestContext) throws -> JobRecord {
        let id = try jobID(context)
        guard let r = queue.record(id) else { throw APIError(.notFound, "no job \(id)") }
        return r
    }

    // MARK: submit

    private func submit(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let limits = validator.limits
        guard queue.hasRoom else { throw full() }
        guard let contentType = request.headers[.contentType] else {
            throw APIError(.unsupportedMediaType, "send the job as multipart/form-data")
        }
        let boundary: String
        do { boundary = try Multipart.boundary(contentType: contentType) } catch {
            throw APIError(contentType.lowercased().hasPrefix("multipart/form-data") ? .badRequest : .unsupportedMediaType, "\(error)")
        }
        if let n = request.headers[.contentLength].flatMap({ Int($0) }), n > limits.maxRequestBytes { throw tooLarge(limits) }
        await uploads.enter()
        let collected: Result<ByteBuffer, Error>
        do { collected = .success(try await collect(request.body, limits: limits)) } catch { collected = .failure(error) }
        await uploads.leave()
        let body = try collected.get()
        let submission: JobSubmission
        do {
            let parts = try Multipart.parse(Array(body.readableBytesView), boundary: boundary)
            submission = try JobSubmission(parts: parts, limits: limits)
        } catch let e as MultipartError {
            throw APIError(.badRequest, e.description)
        } catch let e as UploadError {
            throw APIError(e)
        }
        let id = JobID.random()
        let store = queue.store
        do {
            try store.create(id)
        } catch {
            logger.error("cannot create a job folder", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "cannot store the job")
        }
        do {
            let dir = store.inputs(of: id), library = samples, check = validator
            let shown = try await Blocking.run { try submission.store(in: dir, samples: library, validator: check) }
            let record = JobRecord(id: id, options: submission.options, inputs: shown)
            guard try queue.submit(record) else { throw full() }
            logger.info("job queued", metadata: ["job": "\(id)", "driver": "\(record.options.driver.rawValue)"])
            return JSONBody.response(record, status: .accepted, headers: [.location: "/v1/jobs/\(id)"])
        } catch {
            store.remove(id)
            if let e = error as? UploadError { throw APIError(e) }
            if let e = error as? APIError { throw e }
            logger.error("cannot queue a job", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "cannot store the job")
        }
    }

    private func full() -> APIError {
        APIError(.tooManyRequests, "the queue is full (\(queue.capacity) jobs waiting); try again later", headers: [.retryAfter: "10"])
    }

    private func tooLarge(_ limits: UploadLimits) -> APIError {
        APIError(.contentTooLarge, "the upload is larger than \(limits.maxRequestBytes >> 20) MiB")
    }

    /// The whole body, bounded in size and in time (a stalled upload does not hold a connection forever).
    private func collect(_ body: RequestBody, limits: UploadLimits) async throws -> ByteBuffer {
        let timeout = limits.uploadTimeout
        do {
            return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await body.collect(upTo: limits.maxRequestBytes) }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let buffer = first else {
                    throw APIError(.requestTimeout, "the upload took longer than \(Int(timeout)) s")
                }
                return buffer
            }
        } catch let e as APIError {
            throw e
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            // Hummingbird's NIOTooManyBytesError: a body without Content-Length (chunked) that grew past the limit.
            throw tooLarge(limits)
        } catch {
            throw APIError(.badRequest, "the upload was cut off")
        }
    }

    // MARK: events

    /// Server-sent events: `event: job` with the job's JSON on every change, `: heartbeat` comments while it runs,
    /// then `event: end` after a finished state, and the stream closes.
    private func events(_ context: BasicRequestContext) throws -> Response {
        let id = try jobID(context)
        let subscription: JobSubscription
        do {
            guard let s = try queue.subscribe(id, heartbeat: heartbeat) else { throw APIError(.notFound, "no job \(id)") }
            subscription = s
        } catch let e as JobQueue.TooManyEventStreams {
            throw APIError(.tooManyRequests, "\(e)", headers: [.retryAfter: "10"])
        }
        let body = ResponseBody { writer in
            // However the stream ends (finished job, shutdown, or a client gone when a write fails), its slot is freed.
            defer { subscription.end() }
            // On graceful shutdown (Ctrl-C) the stream ends, so the server does not wait for the job.
            try await withGracefulShutdownHandler {
                for await event in subscription.events {
                    switch event {
                    case .update(let r):
                        let json = (try? JSONCoding.encoder.encode(r)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                        try await writer.write(ByteBuffer(string: "event: job\ndata: \(json)\n\n"))
                    case .heartbeat:
                        try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                    }
                }
            } onGracefulShutdown: {
                subscription.end()
            }
            try await writer.write(ByteBuffer(string: "event: end\ndata: {}\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store",
                                               HTTPField.Name("X-Accel-Buffering")!: "no"], body: body)
    }
}

/// Runs blocking work (file writes, ffprobe) on a small pool instead of the event loops, at most 4 at a time.
enum Blocking {
    private static let queue = DispatchQueue(label: "tgdm.serve.blocking", attributes: .concurrent)
    private static let slots = DispatchSemaphore(value: 4)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            queue.async {
                slots.wait()
                defer { slots.signal() }
                c.resume(with: Result { try body() })
            }
        }
    }
}

/// An async counting semaphore: at most `limit` holders; others wait in order.
actor UploadGate {
    private let limit: Int
    private var holders = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    /// Bodies being received and uploads waiting for a slot.
    var state: (holders: Int, waiting: Int) { (holders, waiting.count) }

    func enter() async {
        if holders < limit {
            holders += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }   // the slot is handed over by `leave`
    }

    func leave() {
        if waiting.isEmpty {
            holders -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
