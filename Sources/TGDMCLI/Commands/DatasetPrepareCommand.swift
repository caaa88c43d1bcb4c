import ArgumentParser
import Datasets
import Foundation
import Torch

extension CorpusLayout: ExpressibleByArgument {}
extension FaceTrackerKind: ExpressibleByArgument {}

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Prepare a raw talking-head corpus for training: face crops, per-frame ρ, 16 kHz audio and MFCC clips, in shards.",
        discussion: """
        Layouts: voxceleb (idNNNNN/VIDEO/00001.mp4), hdtf (a folder of videos), mead (M003/video/front/EMOTION/level_N/001.mp4 \
        with M003/audio/...), folder (any videos; optional NAME.labels.json). Interrupt at any time: finished shards are kept \
        and running the same command again resumes. OUT gets shards/, index.json and manifest.json (docs/TRAINING.md).
        """)

    @Option(help: "voxceleb | hdtf | mead | folder") var layout: CorpusLayout
    @Argument(help: "The raw corpus folder.") var input: String
    @Argument(help: "The output folder.") var output: String
    @Option(help: "Parallel workers (default: up to 4, one per core).") var workers: Int?
    @Option(help: "Only the first N clips (quick trials).") var limit: Int?
    @Option(help: "Side of the stored face crops.") var cropSize: Int = 256
    @Option(help: "Frame rate the videos are resampled to.") var fps: Double = 25
    @Option(help: "haar (Viola-Jones every --detect-every frames) or mediapipe (BlazeFace + Face Mesh tracking on every frame).")
    var tracker: FaceTrackerKind = .haar
    @Option(help: "Run the Haar detector every N frames (the track is interpolated in between).") var detectEvery: Int = 5
    @Option(help: "Frames over which face boxes are smoothed.") var smoothing: Int = 9
    @Option(help: "Shortest face track kept, in frames.") var minFrames: Int = 8
    @Option(help: "Longest segment; longer tracks are split.") var maxFrames: Int = 250
    @Option(help: "Crop size of the ρ fit.") var fitSize: Int = 64
    @Option(help: "Fit iterations on a track's first frame.") var fitIterationsFirst: Int = 60
    @Option(help: "Fit iterations on later frames (warm-started).") var fitIterations: Int = 10
    @Option(help: "Clips per shard (the unit of work and of resuming).") var clipsPerShard: Int = 16
    @Flag(help: "Keep clips without audio (zero MFCCs); by default they are skipped.") var allowSilent = false
    @Flag(help: "Discard an earlier, unfinished or finished preparation in OUT and start over.") var fresh = false

    func run() throws {
        try runReportingErrors {
            installStopHandler()
            var c = PrepareConfig()
            c.tracker = tracker
            c.cropSize = cropSize; c.fps = fps; c.detectEvery = detectEvery; c.smoothingFrames = smoothing
            c.minSegmentFrames = minFrames; c.maxSegmentFrames = maxFrames; c.fitSize = fitSize
            c.fitIterationsFirst = fitIterationsFirst; c.fitIterations = fitIterations; c.clipsPerShard = clipsPerShard
            c.requireAudio = !allowSilent
            try c.validate()
            let preparer = CorpusPreparer(input: try inputURL(input), output: outputURL(output), layout: layout, config: c)
            if let w = workers {
                guard (1...256).contains(w) else { throw ValidationError("--workers must be in 1...256") }
                preparer.workers = w
            }
            preparer.clipLimit = limit
            var bar: ProgressBar?
            let summary = try preparer.run(fresh: fresh, progress: { p in
                if bar == nil {
                    if p.shardsDone > 0 { print("resuming: \(p.shardsDone) of \(p.shardsTotal) shards already prepared") }
                    bar = ProgressBar("prepare", total: p.clipsTotal)
                }
                bar?.update(p.clipsDone, status: "\(p.frames) frames, \(p.skipped) skipped, shards \(p.shardsDone)/\(p.shardsTotal)")
            }, shouldStop: { stopRequested != 0 })
            guard let m = summary.manifest else {
                throw CommandError("stopped: \(summary.shardsReused + summary.shardsPrepared) of \(summary.shardsTotal) shards are finished and kept; run the same command again to resume")
            }
            print(String(format: "prepared %d clips into %d segments, %d frames, %d shard files in %@ (%.0f s, %.2f frames/s; %d of %d shards from an earlier run)",
                         m.clips - m.skipped.count, m.entries, m.frames, m.shards.count, output, summary.seconds,
                         Double(m.frames) / max(summary.seconds, 1e-9), summary.shardsReused, summary.shardsTotal))
            if !m.skipped.isEmpty {
                print("skipped \(m.skipped.count) clip\(m.skipped.count == 1 ? "" : "s"):")
                let byReason = Dictionary(grouping: m.skipped) { Self.reasonKind($0.reason) }
                for (kind, list) in byReason.sorted(by: { $0.value.count > $1.value.count }) {
                    let examples = list.prefix(3).map(\.clip).joined(separator: ", ")
                    print("  \(list.count) × \(kind)  (e.g. \(examples)\(list.count > 3 ? ", …" : ""))")
                }
                print("  (every clip and its full reason: \(output)/manifest.json)")
            }
        }
    }

    /// A reason without its file-specific detail, to group the summary.
    static func reasonKind(_ reason: String) -> String {
        if let colon = reason.firstIndex(of: ":") { return String(reason[..<colon]) }
        if let paren = reason.firstIndex(of: "(") { return reason[..<paren].trimmingCharacters(in: .whitespaces) }
        return reason
    }
}
