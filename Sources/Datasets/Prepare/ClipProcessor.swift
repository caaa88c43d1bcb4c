import FaceModel
import Foundation
import Media
import Torch

/// Prepares one raw video: decode (resampled to `fps`), track the face on scaled-down frames, smooth the
/// boxes into stable crops, cut the tracks into segments, then decode again at full size to crop each
/// frame, estimate its ρ and write it with its MFCC clip and the segment's audio into the shard.
/// Two passes keep memory at one full-size frame, whatever the video's length.
final class ClipProcessor {
    enum Outcome {
        case entries([CorpusEntry])
        case skipped(String)
    }

    struct Stopped: Error {}

    let root: URL
    let config: PrepareConfig
    let tracker: VideoFaceTracker
    let estimator: FrameCoefficientEstimator
    let mfccConfig: MFCCConfig

    init(root: URL, config: PrepareConfig, tracker: VideoFaceTracker, estimator: FrameCoefficientEstimator) {
        self.root = root
        self.config = config
        self.tracker = tracker
        self.estimator = estimator
        var m = MFCCConfig()
        m.sampleRate = config.sampleRate
        m.cepstrumCount = config.mfccCoefficients
        mfccConfig = m
    }

    static func oneLine(_ error: Error) -> String {
        "\(error)".split(separator: "\n").joined(separator: " ")
    }

    func process(_ clip: CorpusClip, shard: String, into writer: ShardWriter, shouldStop: () -> Bool) throws -> Outcome {
        let videoURL = root.appendingPathComponent(clip.video)
        let info: VideoInfo
        do { info = try VideoProbe.probe(videoURL) } catch { return .skipped("unreadable video: \(Self.oneLine(error))") }

        // Audio: the layout's separate file, else the video's own track.
        var samples: [Float] = []
        if clip.audio != nil || info.hasAudio {
            let audioURL = clip.audio.map { root.appendingPathComponent($0) } ?? videoURL
            do { samples = try AudioDecoder.decode(audioURL, sampleRate: config.sampleRate) } catch {
                if config.requireAudio { return .skipped("unreadable audio: \(Self.oneLine(error))") }
            }
        } else if config.requireAudio {
            return .skipped("no audio track")
        }

        // Pass 1: track on small frames.
        var observations: [FaceObservation] = []
        let side = max(info.width, info.height)
        let limit = tracker.preferredMaxSide ?? side
        let factor = side > limit ? Double(limit) / Double(side) : 1
        let detectionSize = factor < 1 ? (width: max(1, Int((Double(info.width) * factor).rounded())),
                                          height: max(1, Int((Double(info.height) * factor).rounded()))) : nil
        tracker.reset()
        do {
            let reader = try VideoReader(url: videoURL, size: detectionSize, fps: config.fps)
            let back = Double(info.width) / Double(reader.frameWidth)
            try reader.forEachFrame { i, frame in
                if shouldStop() { throw Stopped() }
                var o = try tracker.observe(frame, index: i)
                if case .face(let b, let lm) = o, back != 1 {
                    o = .face(FaceBox(x: b.x * back, y: b.y * back, width: b.width * back, height: b.height * back),
                              landmarks: lm?.map { $0 * back })
                }
                observations.append(o)
                return true
            }
        } catch let s as Stopped { throw s } catch {
            return .skipped("decoding failed: \(Self.oneLine(error))")
        }
        let frameCount = observations.count
        guard frameCount > 0 else { return .skipped("no frames") }

        let tracks = FaceTrackSmoother.tracks(observations, maxGap: config.maxGapFrames, smoothing: config.smoothingFrames)
        guard !tracks.isEmpty else { return .skipped("no face found") }
        var segments: [(start: Int, boxes: ArraySlice<FaceBox>, track: Int)] = []
        for (t, track) in tracks.enumerated() where track.boxes.count >= config.minSegmentFrames {
            // Nearly equal pieces of at most maxSegmentFrames (each at least minSegmentFrames long).
            let pieces = (track.boxes.count + config.maxSegmentFrames - 1) / config.maxSegmentFrames
            for p in 0..<pieces {
                let lo = p * track.boxes.count / pieces, hi = (p + 1) * track.boxes.count / pieces
                segments.append((track.start + lo, track.boxes[lo..<hi], t))
            }
        }
        guard !segments.isEmpty else {
            let longest = tracks.map(\.boxes.count).max() ?? 0
            return .skipped("face tracks too short (longest \(longest) frames, need \(config.minSegmentFrames))")
        }

        // MFCC clips aligned to the resampled frames (zeros when the clip has no audio).
        let rows = config.mfccRowsPerFrame, cc = config.mfccCoefficients
        var mfcc = [Float](repeating: 0, count: frameCount * rows * cc)
        if !samples.isEmpty {
            let features = try MFCC(config: mfccConfig).compute(samples)
            mfcc = try MFCCClips(rowsPerClip: rows, fps: config.fps).clips(from: features, config: mfccConfig, frameCount: frameCount).floats()
        }

        // Pass 2: crop, estimate ρ, write.
        var entries: [CorpusEntry] = []
        var segmentIndex = 0
        var previous: (track: Int, rho: Coefficients)? = nil
        var rowStart = writer.frameCount
        do {
            let reader = try VideoReader(url: videoURL, fps: config.fps)
            try reader.forEachFrame { i, frame in
                if shouldStop() { throw Stopped() }
                guard segmentIndex < segments.count else { return false }
                let seg = segments[segmentIndex]
                guard i >= seg.start else { return true }
                let box = seg.boxes[seg.boxes.startIndex + (i - seg.start)]
                let t = try FaceCropper.transform(for: box, imageWidth: frame.width, imageHeight: frame.height,
                                                  size: config.cropSize, enlarge: config.enlarge)
                let crop = try FaceCropper.crop(frame, transform: t)
                let fitTransform = t.resized(to: estimator.inputSize)
                let fitCrop = try FaceCropper.crop(frame, transform: fitTransform).toTensor()
                var landmarks: Tensor? = nil
                if case .face(_, let lm?) = observations[i], lm.count == 136 {
                    var points: [Float] = []
                    for k in 0..<68 {
                        let (u, v) = fitTransform.toCrop(x: lm[2 * k], y: lm[2 * k + 1])
                        points += [Float(u), Float(v)]
                    }
                    landmarks = try Tensor(points, shape: [1, 68, 2])
                }
                let warm = previous?.track == seg.track ? previous?.rho : nil
                let rho = try estimator.estimate(crop: fitCrop, landmarks: landmarks, previous: warm)
                previous = (seg.track, rho)
                let clipRows = Array(mfcc[(i * rows * cc)..<((i + 1) * rows * cc)])
                try writer.append(pixels: crop.pixels, coefficients: try rho.tensor.reshape([-1]).floats(),
                                  box: (t.originX, t.originY, t.side), mfcc: clipRows)
                if i == seg.start + seg.boxes.count - 1 {
                    let sr = Double(config.sampleRate)
                    let a0 = min(samples.count, Int((Double(seg.start) / config.fps * sr).rounded()))
                    let a1 = min(samples.count, Int((Double(seg.start + seg.boxes.count) / config.fps * sr).rounded()))
                    let audioOffset = writer.audio.count
                    writer.appendAudio(samples[a0..<max(a0, a1)])
                    entries.append(CorpusEntry(id: "\(clip.id)#\(entries.count)", clip: clip.id, video: clip.video, speaker: clip.speaker,
                                               emotion: clip.emotion, intensity: clip.intensity, shard: shard, row: rowStart,
                                               frames: seg.boxes.count, audioOffset: audioOffset, audioSamples: max(0, a1 - a0),
                                               firstFrame: seg.start))
                    segmentIndex += 1
                    rowStart = writer.frameCount
                }
                return true
            }
        } catch let s as Stopped { throw s } catch {
            if entries.isEmpty { return .skipped("cropping or fitting failed: \(Self.oneLine(error))") }
            return .entries(entries)   // finished segments stay; the partial one's rows are unreferenced
        }
        guard !entries.isEmpty else { return .skipped("the video ended before its face track (decoding differed between passes)") }
        return .entries(entries)
    }
}
