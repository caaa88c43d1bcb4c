import Audio2Expression
import Datasets
import Diffusion
import FaceModel
import Foundation
import Media
import TGDMModel
import Torch
import XCTest

/// `CorpusPreparer` on tiny corpora in every layout: segments, labels, audio/MFCC alignment, skipped clips
/// with reasons, resuming after a stop, and the training readers over the shards.
final class CorpusPreparationTests: XCTestCase {
    override func setUp() { Torch.configureThreads(2) }

    func testEveryLayoutPreparesItsClips() throws {
        for layout in CorpusLayout.allCases {
            let (_, out, expected, summary) = try TestCorpus.preparedCorpus(layout)
            let m = try XCTUnwrap(summary.manifest, "\(layout)")
            let corpus = try PreparedCorpus(url: out)
            XCTAssertEqual(Set(corpus.entries.map(\.clip)).count, expected, "\(layout): \(m.skipped)")
            for (i, e) in corpus.entries.enumerated() {
                XCTAssertEqual(e.frames, TestCorpus.frameCount, "\(layout) \(e.id): the whole video is one face track")
                // The segment's audio covers its frames at 16 kHz (the speech may be shorter than the video).
                XCTAssertLessThanOrEqual(e.audioSamples, TestCorpus.frameCount * 16000 / 25)
                XCTAssertGreaterThan(e.audioSamples, 0, "\(layout) \(e.id)")
                XCTAssertEqual(try corpus.frames(i, [0, e.frames - 1]).shape, [2, 3, 64, 64])
                XCTAssertEqual(try corpus.coefficients(i).shape, [e.frames, Coefficients.count])
                XCTAssertEqual(try corpus.mfcc(i, start: 2, count: 3).shape, [3, 20, 13])
                XCTAssertEqual(try corpus.audio(i).count, e.audioSamples)
                XCTAssertTrue(try corpus.coefficients(i).isFinite())
            }
            switch layout {
            case .mead:
                XCTAssertEqual(corpus.entries.map(\.emotion), ["happy", "sad"])
                XCTAssertEqual(corpus.entries.map(\.intensity), [3, 1])
                XCTAssertEqual(Set(corpus.entries.map(\.speaker)), ["M003"])
            case .voxceleb:
                XCTAssertEqual(Set(corpus.entries.map(\.speaker)), ["id00017"])
            case .hdtf:
                XCTAssertEqual(corpus.entries.map(\.speaker), ["WRA_TestSpeaker"])
            case .folder:
                XCTAssertEqual(corpus.entries.map(\.emotion), ["angry"])
                let reasons = Dictionary(uniqueKeysWithValues: m.skipped.map { ($0.clip, $0.reason) })
                XCTAssertEqual(reasons["bob/silent"], "no audio track")
                XCTAssertEqual(reasons["carol/empty_room"], "no face found")
                XCTAssertTrue(reasons["dave/broken"]?.hasPrefix("unreadable video") ?? false, "\(reasons)")
            }
        }
    }

    /// The crops follow the face: the crop square is centred near the synthetic face's centre.
    func testCropsAreStableAndCentredOnTheFace() throws {
        let (_, out, _, _) = try TestCorpus.preparedCorpus(.hdtf)
        let corpus = try PreparedCorpus(url: out)
        let shard = out.appendingPathComponent("shards").appendingPathComponent(corpus.entries[0].shard)
        let boxes = try XCTUnwrap(Safetensors.load(shard).tensors["boxes"]).floats()
        var centres: [(Double, Double)] = []
        for k in stride(from: 0, to: boxes.count, by: 3) {
            let side = Double(boxes[k + 2])
            centres.append((Double(boxes[k]) + side / 2, Double(boxes[k + 1]) + side / 2))
        }
        for (x, y) in centres {
            XCTAssertEqual(x, Double(TestCorpus.size) / 2, accuracy: 12)
            XCTAssertEqual(y, Double(TestCorpus.size) / 2, accuracy: 16)
        }
        // Smoothed: consecutive crop centres move by at most a few pixels.
        for (a, b) in zip(centres, centres.dropFirst()) { XCTAssertLessThan(abs(a.0 - b.0) + abs(a.1 - b.1), 4) }
    }

    /// Stopped after the first shard: that shard is kept, the partial one is dropped; the rerun reuses it
    /// and ends with the same index as an uninterrupted run.
    func testStoppedPreparationResumesWithFinishedShards() throws {
        let (root, whole, _, _) = try TestCorpus.preparedCorpus(.voxceleb)
        let out = try TestCorpus.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let c = TestCorpus.config
        let p = CorpusPreparer(input: root, output: out, layout: .voxceleb, config: c, workers: 1)
        var shardsDone = 0
        let first = try p.run(progress: { shardsDone = $0.shardsDone }, shouldStop: { shardsDone >= 1 })
        XCTAssertFalse(first.complete)
        XCTAssertEqual(first.shardsPrepared, 1)
        let shards = out.appendingPathComponent("shards")
        XCTAssertTrue(FileManager.default.fileExists(atPath: shards.appendingPathComponent("shard-00000.json").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: shards.appendingPathComponent("shard-00001.json").path))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: shards.path).contains { $0.contains(".partial-") })
        XCTAssertThrowsError(try PreparedCorpus(url: out)) { XCTAssertTrue("\($0)".contains("unfinished preparation"), "\($0)") }

        let second = try p.run()
        XCTAssertEqual(second.shardsReused, 1)
        XCTAssertEqual(second.shardsPrepared, 1)
        XCTAssertEqual(try PreparedCorpus(url: out).entries, try PreparedCorpus(url: whole).entries)

        // Other settings on the same folder are refused (the plan would not match), unless fresh.
        var other = c
        other.cropSize = 32
        XCTAssertThrowsError(try CorpusPreparer(input: root, output: out, layout: .voxceleb, config: other, workers: 1).run()) {
            XCTAssertTrue("\($0)".contains("--fresh"), "\($0)")
        }
        let fresh = CorpusPreparer(input: root, output: out, layout: .voxceleb, config: other, workers: 1)
        fresh.clipLimit = 1
        let redone = try fresh.run(fresh: true)
        XCTAssertEqual(redone.shardsReused, 0)
        XCTAssertEqual(try PreparedCorpus(url: out).cropSize, 32)
    }

    /// The FaceAnalysis tracker through the seam, with the product's fit settings (`PrepareConfig()`'s 64² fit,
    /// 60 iterations on the first frame, 10 on the others): Face Mesh follows the synthetic face on every frame,
    /// and the prepared ρ agrees with the ρ the video was rendered from, frame by frame.
    ///
    /// The fitter itself reaches 0.002 rad and 0.07 px on a plain render with exact landmarks (FitterTests);
    /// here it sees a 96² H.264 composite (hair, glasses, skin detail that the model cannot render) through a
    /// 64² crop, with Face Mesh's points mapped to the 68, so the gates are this path's measured errors
    /// (2026-12, x86-64) with a margin of about 1.5×. They still reject a wrong fit: the Haar tracker's
    /// landmark-free fit of the same clip measured errors up to 0.8 rad pitch, 1.1 rad yaw
    /// and 23–29 px landmark error: that path, the default tracker, is not gated here because its ρ is wrong.
    func testMediaPipeTrackerPreparesTheClip() throws {
        let (root, _, _, _) = try TestCorpus.preparedCorpus(.hdtf)
        let out = try TestCorpus.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        var c = TestCorpus.config
        c.tracker = .mediapipe
        let product = PrepareConfig()
        (c.fitSize, c.fitIterationsFirst, c.fitIterations) = (product.fitSize, product.fitIterationsFirst, product.fitIterations)
        let summary = try CorpusPreparer(input: root, output: out, layout: .hdtf, config: c, workers: 1).run()
        XCTAssertEqual(summary.manifest?.skipped, [])
        let corpus = try PreparedCorpus(url: out)
        XCTAssertEqual(corpus.entries.map(\.frames), [TestCorpus.frameCount])
        let boxes = try XCTUnwrap(Safetensors.load(out.appendingPathComponent("shards").appendingPathComponent(corpus.entries[0].shard)).tensors["boxes"]).floats()
        let centreX = Double(boxes[0] + boxes[2] / 2), centreY = Double(boxes[1] + boxes[2] / 2)
        XCTAssertEqual(centreX, Double(TestCorpus.size) / 2, accuracy: 12)
        XCTAssertEqual(centreY, Double(TestCorpus.size) / 2, accuracy: 16)

        // The truth: ρ of each frame in the camera of the whole 96² frame; the prepared ρ is in the camera of
        // its fit crop, whose square (origin, side) the shard records. Both go through Camera.deep3DFaceRecon.
        let model = try MorphableModel.loadDefault()
        let truth = try TestCorpus.truthCoefficients()
        let renderer = try FaceRenderer(model: model)
        let n = TestCorpus.frameCount, w = Double(TestCorpus.size), fit = Double(c.fitSize)
        let truthLandmarks = try renderer.render(Coefficients(Tensor(truth.flatMap { $0 }, shape: [n, Coefficients.count])),
                                                 width: TestCorpus.size, height: TestCorpus.size).landmarks.floats()
        let prepared = try Coefficients(corpus.coefficients(0))
        let fittedLandmarks = try renderer.render(prepared, width: c.fitSize, height: c.fitSize).landmarks.floats()
        let rho = try prepared.tensor.floats()
        let pose = CoefficientPart.pose.range.lowerBound, jaw = CoefficientPart.expression.range.lowerBound + model.expressionNames.firstIndex(of: "jawOpen")!
        var fittedJaw: [Double] = [], truthJaw: [Double] = []
        for f in 0..<n {
            let r = Array(rho[(f * Coefficients.count)..<((f + 1) * Coefficients.count)]), t = truth[f]
            let (ox, oy, side) = (Double(boxes[3 * f]), Double(boxes[3 * f + 1]), Double(boxes[3 * f + 2]))
            let toFrame = side / fit
            // Rotation is the same in both cameras. Measured worst: pitch 0.089, yaw 0.165, roll 0.116.
            XCTAssertEqual(Double(r[pose]), Double(t[pose]), accuracy: 0.15, "frame \(f) pitch")
            XCTAssertEqual(Double(r[pose + 1]), Double(t[pose + 1]), accuracy: 0.25, "frame \(f) yaw")
            XCTAssertEqual(Double(r[pose + 2]), Double(t[pose + 2]), accuracy: 0.17, "frame \(f) roll")
            // Translation, as where it puts the head's origin in the frame and how large (focal / depth) it
            // draws the head, against the truth's (tx = ty = tz = 0: the frame's centre, focal / 10).
            // Measured worst: 3.9 px, 7 % (the 96² frame's face is about 45 px tall).
            let focal = 1015.0 * fit / 224, depth = 10 - Double(r[pose + 5])
            let u = ox + (fit / 2 + focal * Double(r[pose + 3]) / depth) * toFrame
            let v = oy + (fit / 2 - focal * Double(r[pose + 4]) / depth) * toFrame
            let truthU = w / 2 + 1015.0 * w / 224 * Double(t[pose + 3]) / (10 - Double(t[pose + 5]))
            let truthV = w / 2 - 1015.0 * w / 224 * Double(t[pose + 4]) / (10 - Double(t[pose + 5]))
            XCTAssertLessThan(hypot(u - truthU, v - truthV), 6, "frame \(f) head position")
            let scale = (focal / depth * toFrame) / (1015.0 * w / 224 / (10 - Double(t[pose + 5])))
            XCTAssertEqual(scale, 1, accuracy: 0.11, "frame \(f) head size")
            // All of ρ together: the mean distance of the 68 landmarks in frame pixels. Measured worst 6.0 px.
            var distance = 0.0
            for k in 0..<68 {
                let fu = ox + Double(fittedLandmarks[f * 136 + 2 * k]) * toFrame, fv = oy + Double(fittedLandmarks[f * 136 + 2 * k + 1]) * toFrame
                distance += hypot(fu - Double(truthLandmarks[f * 136 + 2 * k]), fv - Double(truthLandmarks[f * 136 + 2 * k + 1])) / 68
            }
            XCTAssertLessThan(distance, 9, "frame \(f) landmarks")
            fittedJaw.append(Double(r[jaw])); truthJaw.append(Double(t[jaw]))
        }
        // Expression: the jaw opens and closes with the truth's (0 to 0.55 at 3 Hz). Its level is not
        // recovered (an offset of about +0.45 that the identity fit of the first frame leaves), nor is the
        // smile, so the check is the correlation over the 12 frames: measured 0.73.
        XCTAssertGreaterThan(pearson(fittedJaw, truthJaw), 0.5, "jawOpen \(fittedJaw) vs \(truthJaw)")
    }

    private func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        let cov = zip(a, b).map { ($0 - ma) * ($1 - mb) }.reduce(0, +)
        return cov / (a.map { ($0 - ma) * ($0 - ma) }.reduce(0, +) * b.map { ($0 - mb) * ($0 - mb) }.reduce(0, +)).squareRoot()
    }

    func testCorruptShardIsAClearError() throws {
        let (_, prepared, _, _) = try TestCorpus.preparedCorpus(.hdtf)
        let out = try TestCorpus.temporaryDirectory()
        try FileManager.default.removeItem(at: out)
        try FileManager.default.copyItem(at: prepared, to: out)
        defer { try? FileManager.default.removeItem(at: out) }
        let corpus = try PreparedCorpus(url: out)
        let shard = out.appendingPathComponent("shards").appendingPathComponent(corpus.entries[0].shard)
        let data = try Data(contentsOf: shard)
        try data.prefix(data.count / 2).write(to: shard)
        XCTAssertThrowsError(try PreparedCorpus(url: out).frames(0, [0])) { XCTAssertTrue("\($0)".contains(corpus.entries[0].shard), "\($0)") }
        XCTAssertThrowsError(try PreparedCorpus(url: out.appendingPathComponent("shards"))) { XCTAssertTrue("\($0)".contains("dataset prepare"), "\($0)") }
    }

    /// TGDM pairs and EmoA2E windows read from the shards, and a few training steps on each.
    func testTrainingReadersServePairsAndWindows() throws {
        let (_, out, _, _) = try TestCorpus.preparedCorpus(.mead)
        let corpus = try PreparedCorpus(url: out)
        let model = try MorphableModel.loadDefault()
        let pairs = try CorpusPairDataset(corpus: corpus, imageSize: 32, temporalRadius: 1, seed: 3, renderer: FaceRenderer(model: model))
        XCTAssertEqual(pairs.count, corpus.totalFrames)
        for k in 0..<pairs.count {
            let (segment, s, t) = try pairs.pair(at: k)
            XCTAssertNotEqual(s, t)
            XCTAssertLessThan(s, corpus.entries[segment].frames)
        }
        let b = try pairs.batch(indices: [0, 5, 13])
        XCTAssertEqual(b.source.shape, [3, 3, 32, 32])
        XCTAssertEqual(b.render.shape, [3, 3, 32, 32])
        XCTAssertEqual(b.coefficients.shape, [3, 3 * Coefficients.count])
        XCTAssertLessThanOrEqual(try b.target.abs().max().item(), 1)
        let swap = try CorpusPairDataset(corpus: corpus, imageSize: 32, temporalRadius: 0, seed: 3, renderer: FaceRenderer(model: model), swap: true)
        XCTAssertEqual(try swap.batch(indices: [4]).source.abs().sum().item() < (try swap.batch(indices: [4]).target.abs().sum().item()), true)

        var config = TGDMConfig(imageSize: 32, baseChannels: 16, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                                textureEncoderBlocks: 1, coefficientDim: Coefficients.count, normGroups: 4, temporalRadius: 1)
        config.temporalRadius = 1
        var tc = TGDMTrainingConfig()
        tc.batchSize = 2; tc.logEvery = 0; tc.checkpointEvery = 0; tc.artifactEvery = 0
        let trainer = try TGDMTrainer(model: TGDMUNet(config: config, generator: Generator(seed: 1)), dataset: pairs, config: tc,
                                      schedule: NoiseSchedule(.paper))
        try trainer.train(until: 2)
        XCTAssertEqual(trainer.history.count, 2)

        var ac = EmoA2EConfig(windowFrames: 8, emotionDim: 4, hiddenDim: 16, layers: 1, heads: 2, dropout: 0, backbone: .mlp)
        ac.emotionConditioned = true
        let words = ["happy": Float(1), "sad": -1]
        let sequences = try CorpusSequences(corpus: corpus, config: ac) { w in try Tensor([words[w] ?? 0, 0, 0, 1]) }
        XCTAssertEqual(sequences.sequenceCount, 2)
        let w = try sequences.window(sequence: 0, start: 2)
        XCTAssertEqual(w.mfcc.shape, [8, 20, 13])
        XCTAssertEqual(w.expression.shape, [8, 64])
        XCTAssertEqual(w.identity.shape, [80])
        XCTAssertEqual(w.intensity, 3)
        XCTAssertEqual(try w.emotion?.floats(), [1, 0, 0, 1])
        let a2e = try EmoA2EModel(config: ac, generator: Generator(seed: 2))
        try a2e.setMFCCStatistics(from: sequences.mfccSample())
        let at = try EmoA2ETrainer(model: a2e, source: sequences, config: EmoA2ETrainingConfig(steps: 2, batchSize: 4, logEvery: 0))
        try at.run()
        XCTAssertEqual(at.step, 2)
        XCTAssertThrowsError(try CorpusSequences(corpus: corpus, config: EmoA2EConfig(windowFrames: 40), emotionEmbedding: { _ in try Tensor.zeros([384]) })) {
            XCTAssertTrue("\($0)".contains("40 frames"), "\($0)")
        }
    }
}
