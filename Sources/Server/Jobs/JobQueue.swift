import Foundation
import Logging

/// What a subscriber to a job's events receives.
public enum JobEvent: Sendable {
    case update(JobRecord)
    /// Sent every few seconds so proxies and browsers keep the stream open.
    case heartbeat
}

/// The jobs of a server: every record in memory (and on disk through the store), a bounded FIFO of queued jobs,
/// and the subscribers of each job's events. All state sits behind one lock; worker threads block in `take()`.
public final class JobQueue: @unchecked Sendable {
    public enum Outcome: Sendable {
        /// A queued job was cancelled at once.
        case cancelled(JobRecord)
        /// A running job was asked to stop; it becomes `cancelled` at its next progress report.
        case cancelling(JobRecord)
        /// A finished job and its files were removed.
        case removed
        case notFound
    }

    /// A subscription refused because `maxEventStreams` streams are open.
    public struct TooManyEventStreams: Error, CustomStringConvertible, Sendable {
        public let limit: Int
        public var description: String { "too many event streams open (\(limit)); close one or try again later" }
    }

    public let capacity: Int
    /// Event streams (SSE subscribers of unfinished jobs) open at once; more are refused.
    public let maxEventStreams: Int
    let store: JobStore
    private let logger: Logger
    private let condition = NSCondition()
    private var records: [JobID: JobRecord] = [:]
    private var pending: [JobID] = []
    private var subscribers: [JobID: [UUID: AsyncStream<JobEvent>.Continuation]] = [:]
    private var lastBroadcast: [JobID: Date] = [:]
    private var stopping = false

    init(store: JobStore, capacity: Int, maxEventStreams: Int = 64, logger: Logger) {
        self.store = store
        self.capacity = capacity
        self.maxEventStreams = maxEventStreams
        self.logger = logger
        for r in store.loadAll() { records[r.id] = r }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    // MARK: API side

    /// Whether a new job would fit now (checked again, atomically, by `submit`).
    public var hasRoom: Bool { locked { !stopping && pending.count < capacity } }

    public var counts: (queued: Int, running: Int, total: Int) {
        locked { (pending.count, records.values.filter { $0.state == .running }.count, records.count) }
    }

    /// Queues a job whose inputs are stored; false when the queue is full (the caller removes the inputs).
    func submit(_ record: JobRecord) throws -> Bool {
        try locked {
            guard !stopping, pending.count < capacity else { return false }
            try store.save(record)
            records[record.id] = record
            pending.append(record.id)
            condition.signal()
            return true
        }
    }

    public func record(_ id: JobID) -> JobRecord? { locked { records[id] } }

    /// Every job, newest first.
    public func list(limit: Int = 100) -> [JobRecord] {
        locked { Array(records.values.sorted { ($0.created, $0.id) > ($1.created, $1.id) }.prefix(limit)) }
    }

    /// DELETE: cancels a queued job, asks a running one to stop, removes a finished one.
    public func cancelOrRemove(_ id: JobID) -> Outcome {
        condition.lock()
        guard var r = records[id] else { condition.unlock(); return .notFound }
        switch r.state {
        case .queued:
            pending.removeAll { $0 == id }
            r.state = .cancelled
            r.cancelRequested = true
            r.finished = Date()
            r.error = PipelineCancelledMessage.text
            records[id] = r
            try? store.save(r)
            broadcast(r, force: true)
            condition.unlock()
            return .cancelled(r)
        case .running:
            r.cancelRequested = true
            records[id] = r
            broadcast(r, force: true)
            condition.unlock()
            return .cancelling(r)
        case .succeeded, .failed, .cancelled:
            records[id] = nil
            finishSubscribers(of: id)
            condition.unlock()
            store.remove(id)
            return .removed
        }
    }

    /// Open event streams (subscribers of unfinished jobs), for `/healthz`-style checks and tests.
    public var eventStreamCount: Int { locked { subscribers.values.reduce(0) { $0 + $1.count } } }

    /// The job's events: its current record at once, then every change; the stream ends after a finished state, when
    /// the server stops, or when `end` is called (the HTTP layer ends streams on graceful shutdown). Nil for an
    /// unknown job; throws `TooManyEventStreams` when `maxEventStreams` are open (a finished job's one-event stream
    /// is always served: it holds no slot).
    public func subscribe(_ id: JobID, heartbeat: Double = 15) throws -> JobSubscription? {
        let token = UUID()
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream(bufferingPolicy: .bufferingNewest(32))
        let found: Bool = try locked {
            guard let r = records[id] else { return false }
            if r.state.isFinished || stopping {
                continuation.yield(.update(r))
                continuation.finish()
            } else {
                guard subscribers.values.reduce(0, { $0 + $1.count }) < maxEventStreams else { throw TooManyEventStreams(limit: maxEventStreams) }
                continuation.yield(.update(r))
                subscribers[id, default: [:]][token] = continuation
            }
            return true
        }
        guard found else { return nil }
        let beat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(heartbeat * 1e9))
                if Task.isCancelled { break }
                continuation.yield(.heartbeat)
            }
        }
        continuation.onTermination = { [weak self] _ in
            beat.cancel()
            // Termination may run inside `finish()` while the lock is held: unsubscribe later, not here.
            guard let queue = self else { return }
            DispatchQueue.global().async { queue.unsubscribe(id, token) }
        }
        return JobSubscription(events: stream, end: { continuation.finish() })
    }

    private func unsubscribe(_ id: JobID, _ token: UUID) {
        locked {
            subscribers[id]?[token] = nil
            if subscribers[id]?.isEmpty == true { subscribers[id] = nil }
        }
    }

    // MARK: worker side

    /// The next queued job, marked running; blocks until there is one. Nil once the server stops.
    func take() -> JobRecord? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !stopping { condition.wait() }
        guard !stopping else { return nil }
        let id = pending.removeFirst()
        guard var r = records[id] else { return nil }
        r.state = .running
        r.started = Date()
        r.progress = JobProgress(stage: "starting")
        records[id] = r
        try? store.save(r)
        broadcast(r, force: true)
        return r
    }

    /// Whether the job should stop (cancel requested, or the server is stopping).
    func shouldStop(_ id: JobID) -> (cancel: Bool, shutdown: Bool) {
        locked { (records[id]?.cancelRequested ?? true, stopping) }
    }

    func report(_ id: JobID, progress: JobProgress) {
        locked {
            guard var r = records[id], r.state == .running else { return }
            let stageChanged = r.progress?.stage != progress.stage
            r.progress = progress
            records[id] = r
            broadcast(r, force: stageChanged)
        }
    }

    /// Records the end of a job (saved, broadcast, subscribers finished).
    func complete(_ id: JobID, state: JobState, error: String? = nil, result: JobResult? = nil) {
        locked {
            guard var r = records[id] else { return }
            r.state = state
            r.error = error
            r.result = result
            r.finished = Date()
            if state == .succeeded, var p = r.progress {
                p.stage = "done"
                p.fraction = 1
                p.etaSeconds = 0
                r.progress = p
            }
            records[id] = r
            do { try store.save(r) } catch { logger.error("cannot save a finished job", metadata: ["job": "\(id)", "error": "\(error)"]) }
            broadcast(r, force: true)
            finishSubscribers(of: id)
        }
    }

    /// Stops handing out jobs and wakes the workers; running jobs stop at their next progress report. Event streams
    /// end, so no HTTP response waits for a job that will not finish in this process.
    func shutdown() {
        locked {
            stopping = true
            condition.broadcast()
            for id in Array(subscribers.keys) { finishSubscribers(of: id) }
        }
    }

    // MARK: events (lock held)

    /// Sends `r` to the job's subscribers; progress-only changes at most 5 times a second.
    private func broadcast(_ r: JobRecord, force: Bool) {
        let now = Date()
        if !force, let last = lastBroadcast[r.id], now.timeIntervalSince(last) < 0.2 { return }
        lastBroadcast[r.id] = now
        if let subs = subscribers[r.id] { for c in subs.values { c.yield(.update(r)) } }
    }

    private func finishSubscribers(of id: JobID) {
        if let subs = subscribers[id] { for c in subs.values { c.finish() } }
        subscribers[id] = nil
        lastBroadcast[id] = nil
    }
}

/// A subscriber's stream of events and a way to end it early.
public struct JobSubscription: Sendable {
    public let events: AsyncStream<JobEvent>
    public let end: @Sendable () -> Void
}

/// The message of a cancelled job (the CLI's `PipelineError.cancelled` text).
enum PipelineCancelledMessage {
    static let text = "cancelled"
}
