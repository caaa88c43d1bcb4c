import FaceModel
import Foundation
import Logging
import Media
import Pipelines
import Torch

/// One worker: a thread with its own `TalkingFacePipeline` (the pipeline is not thread-safe: it caches the face
/// detector and EmoA2E and runs one job at a time), taking queued jobs until the server stops. The models are
/// loaded once, when the worker starts, and reused by every job it runs.
final class JobWorker: @unchecked Sendable {
    let index: Int
    private let queue: JobQueue
    private let pipeline: TalkingFacePipeline
    private let samples: SampleLibrary
    private let limits: UploadLimits
    private let jobTimeout: Double
    private let logger: Logger
    private let done = DispatchSemaphore(value: 0)

    init(index: Int, queue: JobQueue, pipeline: TalkingFacePipeline, samples: SampleLibrary, limits: UploadLimits, jobTimeout: Double,
         logger: Logger) {
        self.index = index
        self.queue = queue
        self.pipeline = pipeline
        self.samples = samples
        self.limits = limits
        self.jobTimeout = jobTimeout
        self.logger = logger
    }

    func start() {
        let t = Thread { [self] in
            while let job = queue.take() { run(job) }
            done.signal()
        }
        t.name = "tgdm-worker-\(index)"
        t.stackSize = 16 << 20
        t.start()
    }

    /// Waits for the thread to leave its loop (after `JobQueue.shutdown`); false on timeout.
    func join(timeout: Double) -> Bool { done.wait(timeout: .now() + timeout) == .success }

    // MARK: one job

    private func run(_ job: JobRecord) {
        var log = logger
        log[metadataKey: "job"] = "\(job.id)"
        log[metadataKey: "worker"] = "\(index)"
        log.info("job started", metadata: ["driver": "\(job.options.driver.rawValue)"])
        let started = Date()
        let tracker = ProgressTracker(id: job.id, queue: queue, deadline: started.addingTimeInterval(jobTimeout))
        do {
            let result = try execute(job, progress: tracker.handler)
            queue.complete(job.id, state: .succeeded, result: result)
            log.info("job succeeded", metadata: ["seconds": "\(seconds(since: started))", "frames": "\(result.frames)"])
        } catch {
            let (stop, shutdown) = queue.shouldStop(job.id)
            if case PipelineError.cancelled = error, tracker.timedOut {
                queue.complete(job.id, state: .failed, error: "timed out after \(String(format: "%g", jobTimeout)) s")
                log.warning("job timed out", metadata: ["seconds": "\(seconds(since: started))"])
            } else if case PipelineError.cancelled = error, shutdown {
                queue.complete(job.id, state: .failed, error: JobStore.interruptedMessage)
                log.warning("job interrupted by shutdown")
            } else if case PipelineError.cancelled = error, stop {
                queue.complete(job.id, state: .cancelled, error: PipelineCancelledMessage.text)
                log.info("job cancelled", metadata: ["seconds": "\(seconds(since: started))"])
            } else {
                let message = clientMessage(error, job: job.id)
                queue.complete(job.id, state: .failed, error: message)
                log.warning("job failed", metadata: ["error": "\(message)", "seconds": "\(seconds(since: started))"])
            }
        }
    }

    private func seconds(since d: Date) -> String { String(format: "%.2f", Date().timeIntervalSince(d)) }

    /// The CLI's one-line message, with the server's own folders taken out of paths (the client knows the inputs by role).
    func clientMessage(_ error: Error, job: JobID) -> String {
        var m = "\(error)".split(separator: "\n").joined(separator: " ")
        m = m.replacingOccurrences(of: queue.store.inputs(of: job).path + "/", with: "")
        m = m.replacingOccurrences(of: queue.store.directory(of: job).path + "/", with: "")
        if let dir = samples.directory?.standardizedFileURL.path { m = m.replacingOccurrences(of: dir + "/", with: "sample ") }
        return m
    }

    /// A stored input of the job by role ("source", "driving"): the file the server wrote under `inputs/`.
    private func storedInput(_ role: String, of id: JobID) -> URL? {
        let dir = queue.store.inputs(of: id)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().first { $0.hasPrefix(role + ".") && !$0.hasSuffix(".coeffs.json") }.map { dir.appendingPathComponent($0) }
    }

    private func input(_ role: String, sample: String?, of id: JobID) throws -> URL {
        if let name = sample {
            guard let s = samples.sample(named: name) else { throw PipelineError.invalidInput("no sample named \(name)") }
            return s.url
        }
        guard let u = storedInput(role, of: id) else { throw PipelineError.invalidInput("the \(role) file is missing") }
        return u
    }

    private func execute(_ job: JobRecord, progress: @escaping PipelineProgressHandler) throws -> JobResult {
        let o = job.options
        var config = PipelineConfiguration()
        if let steps = o.steps {
            var s = pipeline.bundle.defaultSampler
            s.steps = steps
            config.sampler = s
        }
        config.seed = o.seed
        config.outputSize = o.size
        config.framing = o.cropOnly ? .crop : .fullFrame
        Torch.manualSeed(o.seed)

        // `portrait` takes no progress handler: the stage is shown before it, and a cancel is honoured after it.
        guard progress(.analyzing(.sourcePortrait, done: 0, total: 1)) else { throw PipelineError.cancelled }
        let source = try pipeline.portrait(input("source", sample: o.sourceSample, of: job.id), configuration: config)
        guard progress(.analyzing(.sourcePortrait, done: 1, total: 1)) else { throw PipelineError.cancelled }
        let driver: Driver
        switch o.driver {
        case .image:
            guard progress(.analyzing(.drivingImage, done: 0, total: 1)) else { throw PipelineError.cancelled }
            driver = .image(try pipeline.portrait(input("driving", sample: o.drivingSample, of: job.id), configuration: config))
        case .video:
            let maxFrames = min(o.maxFrames ?? Int.max, Int(limits.maxMediaSeconds * 60))
            driver = .video(VideoDriver(url: try input("driving", sample: o.drivingSample, of: job.id), maxFrames: maxFrames))
        case .audio:
            driver = .speech(SpeechDriver(audio: try input("driving", sample: nil, of: job.id), emotion: o.emotion,
                                          intensity: o.intensity, headMotion: o.headMotion))
        case .text:
            let wav = queue.store.inputs(of: job.id).appendingPathComponent("speech.wav")
            let speech = try SpeechSynthesizer.synthesize(o.text ?? "", to: wav)
            guard speech.duration <= limits.maxMediaSeconds else {
                throw PipelineError.invalidInput("the text takes \(Int(speech.duration)) s to say, the limit is \(Int(limits.maxMediaSeconds)) s")
            }
            driver = .speech(SpeechDriver(audio: wav, emotion: o.emotion, intensity: o.intensity, headMotion: o.headMotion))
        }

        let dir = queue.store.directory(of: job.id)
        let still = o.driver == .image
        let output = dir.appendingPathComponent(still ? "result.png" : "result.mp4")
        let inner: FrameSink = still ? ImageFileSink(url: output) : VideoFileSink(url: output)
        let sink = ThumbnailSink(inner: inner, thumbnail: queue.store.thumbnailURL(of: job.id))
        let summary = try pipeline.run(.reenact(source: source, driver: driver), configuration: config, into: sink, progress: progress)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int) ?? 0
        return JobResult(file: output.lastPathComponent, mediaType: still ? "image/png" : "video/mp4", bytes: bytes,
                         frames: summary.frames, hasThumbnail: sink.wroteThumbnail)
    }
}

/// Turns the pipeline's typed progress into the job's progress (frames, fraction, ETA) and stops the job when it is
/// cancelled, the server stops, or it runs past its deadline.
final class ProgressTracker: @unchecked Sendable {
    let id: JobID
    let queue: JobQueue
    let deadline: Date
    private(set) var timedOut = false
    private var generationStart: Date?
    private var current = JobProgress(stage: "starting")

    init(id: JobID, queue: JobQueue, deadline: Date) {
        self.id = id
        self.queue = queue
        self.deadline = deadline
    }

    var handler: PipelineProgressHandler {
        { [self] p in
            update(p)
            queue.report(id, progress: current)
            if Date() > deadline { timedOut = true; return false }
            let (cancel, shutdown) = queue.shouldStop(id)
            return !cancel && !shutdown
        }
    }

    private func update(_ p: PipelineProgress) {
        switch p {
        case .analyzing(let what, _, _):
            current.stage = "analyzing \(what.rawValue)"
        case .denoising(let step, let steps, let frames, let total):
            if generationStart == nil { generationStart = Date() }
            current.stage = "denoising"
            current.step = step
            current.steps = steps
            current.framesTotal = total
            current.framesDone = frames.lowerBound
            current.fraction = total > 0 ? (Double(frames.lowerBound) + Double(frames.count) * Double(step) / Double(max(steps, 1))) / Double(total) : 0
        case .frames(let done, let total):
            // `.frames(0, n)` comes once the job is prepared, right before the first denoising step: the ETA's origin.
            if generationStart == nil { generationStart = Date() }
            current.framesDone = done
            current.framesTotal = total
            current.fraction = total > 0 ? Double(done) / Double(total) : 0
        case .writing(let done, let total):
            current.stage = done >= total ? "finishing" : "denoising"
        }
        current.fraction = min(1, max(0, current.fraction))
        if let start = generationStart, current.fraction > 0, Date().timeIntervalSince(start) > 0.1 {
            let elapsed = Date().timeIntervalSince(start)
            current.etaSeconds = (elapsed * (1 - current.fraction) / current.fraction * 10).rounded() / 10
        }
    }
}

/// Passes frames to the real sink and keeps a small JPEG of the first one for the job list.
final class ThumbnailSink: FrameSink {
    let inner: FrameSink
    let thumbnail: URL
    private var first: RGBImage?
    private(set) var wroteThumbnail = false

    init(inner: FrameSink, thumbnail: URL) {
        self.inner = inner
        self.thumbnail = thumbnail
    }

    func begin(_ info: StreamInfo) throws { try inner.begin(info) }

    func write(_ frame: GeneratedFrame) throws {
        if first == nil { first = frame.output }
        try inner.write(frame)
    }

    func finish() throws {
        try inner.finish()
        guard let f = first else { return }
        let h = 160, w = max(2, f.width * h / max(f.height, 1))
        do {
            try f.resized(width: w, height: h).write(to: thumbnail, jpegQuality: 85)
            wroteThumbnail = true
        } catch {
            wroteThumbnail = false   // the job still succeeded; the list shows no picture
        }
    }

    func cancel() {
        inner.cancel()
        try? FileManager.default.removeItem(at: thumbnail)
    }
}
