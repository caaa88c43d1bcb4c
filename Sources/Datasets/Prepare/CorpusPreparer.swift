import FaceModel
import Foundation
import Torch

/// Where a preparation run stands (reported after every clip).
public struct PrepareProgress: Sendable {
    public var clipsDone: Int
    public var clipsTotal: Int
    public var shardsDone: Int
    public var shardsTotal: Int
    public var frames: Int
    public var skipped: Int
}

/// The outcome of `CorpusPreparer.run`.
public struct PrepareSummary: Sendable {
    /// nil when the run stopped early (finished shards are kept; run again to resume).
    public var manifest: CorpusManifest?
    public var shardsTotal: Int
    /// Shards found complete from an earlier run, and shards made now.
    public var shardsReused: Int
    public var shardsPrepared: Int
    public var seconds: Double
    public var complete: Bool { manifest != nil }
}

/// Turns a raw corpus into training shards (`tgdm dataset prepare`):
/// - the clips are listed (by layout, sorted) and split into shards of `clipsPerShard` clips; the plan is
///   written first, so a killed run resumes with the same shards, and shards found complete are kept;
/// - `workers` threads take shards from the queue; each prepares its clips (`ClipProcessor`) into a
///   shard file written atomically plus a small JSON record, the shard's completion mark;
/// - at the end `index.json` (every segment) and `manifest.json` (settings, shards, totals, skipped clips
///   with reasons) are written.
public final class CorpusPreparer {
    public let input: URL
    public let output: URL
    public let layout: CorpusLayout
    public let config: PrepareConfig
    /// Parallel workers (each with its own tracker, estimator and share of the compute threads).
    public var workers: Int
    /// Use only the first N clips (quick trials).
    public var clipLimit: Int?
    /// The face tracker of each worker (the seam for FaceAnalysis's tracker).
    public var makeTracker: (PrepareConfig) throws -> VideoFaceTracker = { c in
        switch c.tracker {
        case .haar: return try HaarFaceTracker(every: c.detectEvery, maxSide: c.detectionMaxSide)
        case .mediapipe: return try MediaPipeFaceTracker(maxSide: c.detectionMaxSide)
        }
    }
    /// The ρ estimator of each worker (the seam for a landmark fitter).
    public var makeEstimator: (PrepareConfig) throws -> FrameCoefficientEstimator = {
        try FittingCoefficientEstimator(model: MorphableModel.loadDefault(), size: $0.fitSize, firstIterations: $0.fitIterationsFirst,
                                        iterations: $0.fitIterations)
    }

    public init(input: URL, output: URL, layout: CorpusLayout, config: PrepareConfig = PrepareConfig(),
                workers: Int = min(4, ProcessInfo.processInfo.activeProcessorCount)) {
        self.input = input
        self.output = output
        self.layout = layout
        self.config = config
        self.workers = max(1, workers)
    }

    var shardsFolder: URL { output.appendingPathComponent(CorpusFiles.shards) }

    /// Prepares (or resumes preparing) the corpus. `shouldStop` is polled between frames (Ctrl-C): the
    /// shards in progress are dropped and the summary says the run is incomplete.
    public func run(fresh: Bool = false, progress: @escaping (PrepareProgress) -> Void = { _ in },
                    shouldStop: @escaping () -> Bool = { false }) throws -> PrepareSummary {
        let start = Date()
        try config.validate()
        guard (1...256).contains(workers) else { throw DatasetError("workers must be 1...256") }
        var clips = try CorpusScanner.clips(in: input, layout: layout)
        if let n = clipLimit { clips = Array(clips.prefix(max(0, n))) }
        guard !clips.isEmpty else {
            throw DatasetError("no videos found in \(input.path) for the \(layout.rawValue) layout (\(CorpusScanner.videoExtensions.sorted().joined(separator: ", ")))")
        }
        let plan = try loadOrWritePlan(clips: clips, fresh: fresh)
        let total = plan.shards.count
        var records = [ShardRecord?](repeating: nil, count: total)
        for k in 0..<total { records[k] = completedRecord(k) }
        removePartials()
        let reused = records.compactMap { $0 }.count
        let pending = (0..<total).filter { records[$0] == nil }

        var initial = PrepareProgress(clipsDone: 0, clipsTotal: clips.count, shardsDone: reused, shardsTotal: total, frames: 0, skipped: 0)
        for r in records.compactMap({ $0 }) {
            initial.clipsDone += r.entries.map(\.clip).uniqued().count + r.skipped.count
            initial.frames += r.entries.reduce(0) { $0 + $1.frames }
            initial.skipped += r.skipped.count
        }
        progress(initial)
        let shared = WorkQueue(pending: pending, records: records, progress: initial, report: progress, shouldStop: shouldStop)
        let workerCount = min(workers, max(1, pending.count))
        Torch.configureThreads(max(1, ProcessInfo.processInfo.activeProcessorCount / workerCount))
        let group = DispatchGroup()
        for _ in 0..<workerCount {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                do {
                    let processor = ClipProcessor(root: input, config: config, tracker: try makeTracker(config), estimator: try makeEstimator(config))
                    while let k = shared.take() {
                        let record = try prepareShard(k, clips: plan.shards[k], processor: processor, shouldStop: { shared.shouldStop() }) {
                            shared.clipDone(skipped: $0, frames: $1)
                        }
                        if let record { shared.finished(k, record) }
                    }
                } catch {
                    shared.fail(error)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        if let failure = shared.failure { throw failure }
        records = shared.records
        let stopped = shared.stopped
        let seconds = Date().timeIntervalSince(start)
        let made = records.compactMap { $0 }.count - reused
        guard !stopped, records.allSatisfy({ $0 != nil }) else {
            return PrepareSummary(manifest: nil, shardsTotal: total, shardsReused: reused, shardsPrepared: made, seconds: seconds)
        }
        let manifest = try writeIndexAndManifest(records.map { $0! }, clipCount: clips.count)
        return PrepareSummary(manifest: manifest, shardsTotal: total, shardsReused: reused, shardsPrepared: made, seconds: seconds)
    }

    // MARK: plan and resume

    func loadOrWritePlan(clips: [CorpusClip], fresh: Bool) throws -> PreparePlan {
        let fm = FileManager.default
        let planURL = output.appendingPathComponent(CorpusFiles.plan)
        let shards = stride(from: 0, to: clips.count, by: config.clipsPerShard).map { Array(clips[$0..<min(clips.count, $0 + config.clipsPerShard)]) }
        let plan = PreparePlan(layout: layout, config: config, shards: shards)
        if fresh {
            for name in [CorpusFiles.plan, CorpusFiles.index, CorpusFiles.manifest, CorpusFiles.shards] {
                try? fm.removeItem(at: output.appendingPathComponent(name))
            }
        } else if fm.fileExists(atPath: planURL.path) {
            let old: PreparePlan
            do { old = try JSONDecoder().decode(PreparePlan.self, from: Data(contentsOf: planURL)) } catch {
                throw DatasetError("\(planURL.path) is unreadable (\(error)); use --fresh to start over")
            }
            guard old == plan else {
                let what = old.config != plan.config ? "other settings" : old.layout != plan.layout ? "another layout" : "another list of clips"
                throw DatasetError("\(output.path) holds a preparation with \(what); run with --fresh to start over, or choose another output folder")
            }
            return old
        }
        try fm.createDirectory(at: shardsFolder, withIntermediateDirectories: true)
        try writeAtomically(CorpusFiles.encoder().encode(plan), to: planURL)
        return plan
    }

    /// The record of shard `k` when both its JSON and its file (if it has one) are there.
    func completedRecord(_ k: Int) -> ShardRecord? {
        let json = shardsFolder.appendingPathComponent(CorpusFiles.shardName(k) + ".json")
        guard let data = try? Data(contentsOf: json), let r = try? JSONDecoder().decode(ShardRecord.self, from: data),
              r.format == ShardRecord.format, r.shard == k else { return nil }
        if let file = r.file {
            let attributes = try? FileManager.default.attributesOfItem(atPath: shardsFolder.appendingPathComponent(file).path)
            guard (attributes?[.size] as? NSNumber)?.intValue == r.bytes else { return nil }
        }
        return r
    }

    /// Deletes temporary files of shards that a killed run left half-written.
    func removePartials() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: shardsFolder.path)) ?? []
        for n in names where n.hasPrefix(".") && n.contains(".partial-") {
            try? FileManager.default.removeItem(at: shardsFolder.appendingPathComponent(n))
        }
    }

    // MARK: work

    /// Prepares shard `k`; nil when stopped (nothing is kept). `clipDone(skipped, frames)` after each clip.
    func prepareShard(_ k: Int, clips: [CorpusClip], processor: ClipProcessor, shouldStop: @escaping () -> Bool,
                      clipDone: (Bool, Int) -> Void) throws -> ShardRecord? {
        let start = Date()
        let name = CorpusFiles.shardName(k)
        let writer = try ShardWriter(url: shardsFolder.appendingPathComponent(name + ".safetensors"), cropSize: config.cropSize,
                                     coefficientCount: Coefficients.count, mfccShape: (config.mfccRowsPerFrame, config.mfccCoefficients))
        var entries: [CorpusEntry] = [], skipped: [SkippedClip] = []
        do {
            for clip in clips {
                switch try processor.process(clip, shard: name + ".safetensors", into: writer, shouldStop: shouldStop) {
                case .entries(let e):
                    entries += e
                    clipDone(false, e.reduce(0) { $0 + $1.frames })
                case .skipped(let reason):
                    skipped.append(SkippedClip(clip: clip.id, reason: reason))
                    clipDone(true, 0)
                }
            }
        } catch is ClipProcessor.Stopped {
            writer.abandon()
            return nil
        } catch {
            writer.abandon()
            throw error
        }
        var file: String? = nil, bytes = 0
        if entries.isEmpty {
            writer.abandon()
        } else {
            bytes = try writer.finish()
            file = name + ".safetensors"
        }
        let record = ShardRecord(shard: k, file: file, bytes: bytes, entries: entries, skipped: skipped, seconds: Date().timeIntervalSince(start))
        try writeAtomically(CorpusFiles.encoder().encode(record), to: shardsFolder.appendingPathComponent(name + ".json"))
        return record
    }

    func writeIndexAndManifest(_ records: [ShardRecord], clipCount: Int) throws -> CorpusManifest {
        let entries = records.flatMap(\.entries)
        let shards = records.compactMap { r -> CorpusManifest.ShardSummary? in
            r.file.map { .init(file: $0, entries: r.entries.count, frames: r.entries.reduce(0) { $0 + $1.frames }, bytes: r.bytes) }
        }
        let formatter = ISO8601DateFormatter()
        let manifest = CorpusManifest(layout: layout, input: input.standardizedFileURL.path, config: config, coefficients: Coefficients.count,
                                      shards: shards, clips: clipCount, entries: entries.count, frames: entries.reduce(0) { $0 + $1.frames },
                                      skipped: records.flatMap(\.skipped), created: formatter.string(from: Date()))
        try writeAtomically(CorpusFiles.encoder().encode(CorpusIndex(entries: entries)), to: output.appendingPathComponent(CorpusFiles.index))
        try writeAtomically(CorpusFiles.encoder().encode(manifest), to: output.appendingPathComponent(CorpusFiles.manifest))
        return manifest
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

/// The state the workers share, behind one lock: the queue of pending shards, the finished records, the
/// progress counts, and whether to stop (asked to, or a worker failed).
final class WorkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [Int]
    private(set) var records: [ShardRecord?]
    private var progress: PrepareProgress
    private let report: (PrepareProgress) -> Void
    private let stopRequested: () -> Bool
    private(set) var failure: Error?
    private(set) var stopped = false

    init(pending: [Int], records: [ShardRecord?], progress: PrepareProgress, report: @escaping (PrepareProgress) -> Void,
         shouldStop: @escaping () -> Bool) {
        self.pending = pending.reversed()
        self.records = records
        self.progress = progress
        self.report = report
        stopRequested = shouldStop
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }

    /// The next shard to prepare, or nil when none is left or the run stops.
    func take() -> Int? { locked { failure == nil && !stopped ? pending.popLast() : nil } }

    func shouldStop() -> Bool {
        locked {
            if failure == nil, !stopped, stopRequested() { stopped = true }
            return failure != nil || stopped
        }
    }

    func clipDone(skipped: Bool, frames: Int) {
        locked {
            progress.clipsDone += 1
            progress.frames += frames
            if skipped { progress.skipped += 1 }
            report(progress)
        }
    }

    func finished(_ k: Int, _ record: ShardRecord) {
        locked {
            records[k] = record
            progress.shardsDone += 1
            report(progress)
        }
    }

    func fail(_ error: Error) { locked { if failure == nil { failure = error } } }
}
