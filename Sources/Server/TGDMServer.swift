import Foundation
import Hummingbird
import Logging
import Pipelines

/// The web studio and HTTP API of `tgdm serve`: one process serving the page, the JSON API and a queue of
/// generation jobs run by worker threads on `TalkingFacePipeline`.
///
/// ```swift
/// var c = ServerConfiguration()
/// c.port = 8080
/// let server = try TGDMServer(configuration: c)          // loads the models (once per worker) and the stored jobs
/// try await server.run { port in print("listening on \(port)") }   // until SIGINT/SIGTERM or task cancellation
/// ```
public final class TGDMServer: @unchecked Sendable {
    public let configuration: ServerConfiguration
    public let queue: JobQueue
    public let samples: SampleLibrary
    /// Request bodies being received at once (`concurrentUploads`); later uploads wait here.
    let uploads: UploadGate
    private let workers: [JobWorker]
    private let assets: PageAssets
    private let logger: Logger

    /// Loads the stored jobs and one pipeline per worker. `makePipeline` (default: `TalkingFacePipeline(model:)`)
    /// lets tests pass a small model; a model that cannot load is an error here, before anything listens.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "tgdm.serve"),
                makePipeline: (() throws -> TalkingFacePipeline)? = nil) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        assets = try PageAssets.load()
        samples = SampleLibrary(directory: configuration.samplesDirectory ?? SampleLibrary.locate())
        let store = try JobStore(dataDirectory: configuration.dataDirectory, logger: logger)
        queue = JobQueue(store: store, capacity: configuration.queueCapacity, maxEventStreams: configuration.maxEventStreams, logger: logger)
        uploads = UploadGate(limit: configuration.concurrentUploads)
        let make = makePipeline ?? { [model = configuration.model] in try TalkingFacePipeline(model: model) }
        var list: [JobWorker] = []
        for i in 0..<configuration.workers {
            let pipeline: TalkingFacePipeline
            do { pipeline = try make() } catch { throw ServerError("cannot load the model: \(error)") }
            list.append(JobWorker(index: i, queue: queue, pipeline: pipeline, samples: samples, limits: configuration.limits,
                                  jobTimeout: configuration.jobTimeout, logger: logger))
        }
        workers = list
        let c = queue.counts
        logger.info("server ready", metadata: ["jobs": "\(c.total)", "workers": "\(list.count)", "samples": "\(samples.samples.count)",
                                               "data": "\(store.root.path)"])
    }

    /// The router with every route and middleware (exposed for tests that drive it without a socket).
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestLogMiddleware(logger: logger))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: SecurityMiddleware(token: configuration.token, loopbackOnly: configuration.isLoopback))
        router.add(middleware: MethodCheckMiddleware())
        Routes(queue: queue, samples: samples, validator: UploadValidator(limits: configuration.limits), assets: assets,
               workers: workers.count, heartbeat: configuration.heartbeatInterval, logger: logger,
               uploads: uploads).register(on: router)
        return router
    }

    /// Starts the workers and serves until SIGINT/SIGTERM (or until the calling task is cancelled), then stops the
    /// workers: a running job stops at its next step and is recorded as interrupted. `onStarted` gets the bound port.
    public func run(handleSignals: Bool = true, onStarted: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        for w in workers { w.start() }
        defer { stopWorkers() }
        let idle = configuration.idleTimeout
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(idle * 1000)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tgdm"),
            onServerRunning: { [logger] channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
                onStarted(port)
            },
            logger: logger
        )
        if handleSignals {
            try await app.runService()
        } else {
            try await app.run()
        }
    }

    /// Stops handing out jobs and waits (a bounded time) for the workers to finish their current step.
    public func stopWorkers() {
        queue.shutdown()
        for w in workers where !w.join(timeout: 30) {
            logger.warning("a worker did not stop within 30 s", metadata: ["worker": "\(w.index)"])
        }
    }
}
