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

    /// The FaceAnalysis tracker through the seam: Face Mesh follows the synthetic face on every frame.
    func testMediaPipeTrackerPreparesTheClip() throws {
        let (root, _, _, _) = try TestCorpus.preparedCorpus(.hdtf)
        let out = try TestCorpus.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        var c = TestCorpus.config
        c.tracker = .mediapipe
        let summary = try CorpusPreparer(input: root, output: out, layout: .hdtf, config: c, workers: 1).run()
        XCTAssertEqual(summary.manifest?.skipped, [])
        let corpus = try PreparedCorpus(url: out)
        XCTAssertEqual(corpus.entries.map(\.frames), [TestCorpus.frameCount])
        let boxes = try XCTUnwrap(Safetensors.load(out.appendingPathComponent("shards").appendingPathComponent(corpus.entries[0].shard)).tensors["boxes"]).floats()
        let centreX = Double(boxes[0] + boxes[2] / 2), centreY = Double(boxes[1] + boxes[2] / 2)
        XCTAssertEqual(centreX, Double(TestCorpus.size) / 2, accuracy: 12)
        XCTAssertEqual(centreY, Double(TestCorpus.size) / 2, accuracy: 16)
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
