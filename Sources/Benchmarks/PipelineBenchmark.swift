import Audio2Expression
import Diffusion
import FaceModel
import Foundation
import Media
import Pipelines
import TGDMModel
import Torch

/// Frames per second of whole jobs (image-, video- and audio-driven) on the bundled model and Samples/, at the
/// model's 64² and at 256² output, beside the pipeline as it was before issue #14 measured in the same run:
/// `legacy` re-creates that path step for step on the model it shipped (`ModelFile.tgdmTexAtt`, the texAtt
/// generator without the warp input) with its sampler (DDIM 50, η = 1, from pure noise).
public enum PipelineBenchmark {
    struct Job {
        let name: String
        let job: GenerationJob
        let frames: Int
    }

    public static func run(options: BenchmarkOptions, log: (String) -> Void) throws {
        let samples = try samplesFolder()
        let pipeline = try TalkingFacePipeline()
        let n = options.quick ? 2 : max(1, options.pipelineFrames)
        var config = PipelineConfiguration()
        let source = try pipeline.portrait(samples.appendingPathComponent("source.png"), configuration: config)
        let driving = try pipeline.portrait(samples.appendingPathComponent("driving.png"), configuration: config)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("speech.wav")
        _ = try SpeechSynthesizer.synthesize("Hi there, how are you?", to: wav)
        let jobs = [
            Job(name: "image", job: .reenact(source: source, driver: .image(driving)), frames: 1),
            Job(name: "video", job: .reenact(source: source, driver: .video(VideoDriver(url: samples.appendingPathComponent("driving_video.mp4"), maxFrames: n))), frames: n),
            Job(name: "audio", job: .reenact(source: source, driver: .speech(SpeechDriver(audio: wav, emotion: "happy", intensity: 2))), frames: 0),
        ]
        let sampler = pipeline.bundle.defaultSampler
        let before = try TGDMModelBundle.load(from: ModelResources.default.url(for: .tgdmTexAtt))
        let startNote = pipeline.bundle.defaultStartStrength.map { String(format: ", from the noised warp at strength %.2f", $0) } ?? ", from noise"
        log("pipeline benchmark: bundled TGDM \(pipeline.modelSize)²\(pipeline.generator.config.sourceWarp ? " (warp input)" : ""), sampler \(sampler.kind.rawValue) \(sampler.steps) steps η \(sampler.eta)\(startNote), batch \(config.batchSize), \(Torch.numThreads) threads")
        log("before: \(ModelFile.tgdmTexAtt.path), \(TGDMModelBundle.standardSampler.kind.rawValue) \(TGDMModelBundle.standardSampler.steps) steps η \(TGDMModelBundle.standardSampler.eta) from noise, conditioning rebuilt every step")
        log("| job | output | frames | fps now | fps before | speed-up |")
        log("|---|---|---|---|---|---|")
        for size in [pipeline.modelSize, 256] {
            config.outputSize = size
            config.framing = size == pipeline.modelSize ? .crop : .fullFrame
            for j in jobs {
                let t0 = Date()
                let sink = CollectingSink()
                try pipeline.run(j.job, configuration: config, into: sink)
                let now = Date().timeIntervalSince(t0)
                let frames = sink.frames.count
                let t1 = Date()
                try legacy(pipeline, model: before, job: j.job, configuration: config)
                let before = Date().timeIntervalSince(t1)
                log(String(format: "| %@ | %d² %@ | %d | %.2f | %.2f | %.1f× |", j.name, size, config.framing.rawValue, frames,
                           Double(frames) / now, Double(frames) / before, before / now))
            }
        }
        try nativeResolutionCost(pipeline, source: source, jobs: jobs, log: log)
        try mouthAndEyelidCost(pipeline, source: source, video: samples.appendingPathComponent("driving_video.mp4"), frames: n, log: log)
    }

    /// What composing the face at the photo's own resolution costs (issue #21): the source picture enlarged to 512², its
    /// face square at its own 512² (the default for whole-picture output) beside a fixed 256² square, same jobs, same run.
    static func nativeResolutionCost(_ pipeline: TalkingFacePipeline, source: Portrait, jobs: [Job], log: (String) -> Void) throws {
        let side = 512
        let frame = try source.frame.resized(width: side * source.frame.width / source.frame.height, height: side)
        let big = Portrait(frame: frame, crop: .centreSquare(width: frame.width, height: frame.height, size: source.crop.cropSize),
                           coefficients: source.coefficients, coefficientSource: source.coefficientSource, name: "source.png at 512²")
        log("| job (512² portrait) | face square | frames | fps | time vs 256² |")
        log("|---|---|---|---|---|")
        for j in jobs {
            guard case .reenact(_, let driver) = j.job else { continue }
            var seconds: [Double] = [], frames = 0
            for size in [nil, 256] as [Int?] {
                var config = PipelineConfiguration()
                config.outputSize = size
                let t0 = Date()
                let sink = CollectingSink()
                try pipeline.run(.reenact(source: big, driver: driver), configuration: config, into: sink)
                seconds.append(Date().timeIntervalSince(t0))
                frames = sink.frames.count
            }
            let native = PipelineConfiguration().compositeSquare(for: big.crop).cropSize
            log(String(format: "| %@ | own %d² | %d | %.2f | %.2f× |", j.name, native, frames, Double(frames) / seconds[0], seconds[0] / seconds[1]))
            log(String(format: "| %@ | fixed 256² | %d | %.2f | 1× |", j.name, frames, Double(frames) / seconds[1]))
        }
    }

    /// What the drawn mouth interior and the stretched eyelids (issue #20) add per frame at 256², timed side by side
    /// with the warp field they extend: the field with and without the eyelid map, the mouth layer at 256² and at the
    /// generator's size, and the palette (once per job).
    static func mouthAndEyelidCost(_ pipeline: TalkingFacePipeline, source: Portrait, video: URL, frames n: Int, log: (String) -> Void) throws {
        let stream = try pipeline.frames(for: .reenact(source: source, driver: .video(VideoDriver(url: video, maxFrames: n))))
        let rho = stream.rho
        let warper = try FaceWarper(model: pipeline.renderer.model), interior = try pipeline.mouthInterior()
        let image = try source.image(size: 256)
        func time(_ body: () throws -> Void) rethrows -> Double {
            let t0 = Date()
            try body()
            return Date().timeIntervalSince(t0) * 1000 / Double(rho.batch)
        }
        let prepared = try warper.prepare(source: source.coefficients, size: 256, image: image)
        let withLids = try time { _ = try warper.field(source: prepared, target: rho) }
        warper.options.stretchEyelids = false
        let without = try time { _ = try warper.field(source: prepared, target: rho) }
        let palette = try interior.palette(image: image, coefficients: source.coefficients)
        let paletteMs = try time { _ = try interior.palette(image: image, coefficients: source.coefficients) } * Double(rho.batch)
        let layer = try time { _ = try interior.layer(rho, size: 256, palette: palette) }
        let small = try time { _ = try interior.layer(rho, size: pipeline.modelSize, palette: palette) }
        log(String(format: "issue #20 stages, %d frames at 256²: warp field %.1f ms/frame without the eyelid map, %.1f with it (+%.1f); "
                   + "mouth layer %.1f ms at 256² + %.1f at %d²; palette %.1f ms once per job", rho.batch, without, withLids,
                   withLids - without, layer, small, pipeline.modelSize, paletteMs))
    }

    /// The job through the earlier sampling path: Φ_E over b copies of the source in every chunk, and every
    /// step validating its inputs (two host synchronisations), recomputing Linear(ρ̂), then a third
    /// synchronisation for the sampler's finiteness check; outputs brought to the output size.
    static func legacy(_ p: TalkingFacePipeline, model bundle: TGDMModelBundle, job: GenerationJob, configuration: PipelineConfiguration) throws {
        guard case .reenact(let source, let driver) = job else { return }
        let motion = try p.motion(for: driver, source: source, configuration: configuration)
        let rho = try Coefficients.reenact(source: source.coefficients, driver: motion.coefficients)
        let model = bundle.model
        let cond = try model.config.conditionInput(rho.tensor, isSequence: motion.isSequence)
        let image = try source.image(size: p.modelSize)
        let s = TGDMModelBundle.standardSampler
        var start = 0
        while start < rho.batch {
            let b = min(configuration.batchSize, rho.batch - start)
            let render = try p.renderGeometry(rho.frames(start, b))
            try Torch.noGrad {
                let features = try model.encodeSource(image.expand([b, 3, p.modelSize, p.modelSize]).contiguous())
                let scheduler = try s.makeScheduler(schedule: bundle.schedule)
                let noise = NoiseSource(Generator(seed: UInt64(start)))
                var x = try noise.draw([b, 3, p.modelSize, p.modelSize])
                for t in scheduler.timesteps {
                    let ts = try Tensor.full([b], Double(t), dtype: .int64)
                    let eps = try model.predictNoise(noisy: x, timesteps: ts, source: features, render: render,
                                                     coefficients: cond.narrow(0, start, b)).noise
                    _ = try eps.isFinite()
                    x = try scheduler.step(modelOutput: eps, timestep: t, sample: x, noise: noise)
                }
                for i in 0..<b {
                    let face = try x.clamp(min: -1, max: 1).select(0, i).unsqueeze(0)
                    _ = try RGBImage(tensor: F.interpolate(face, size: (configuration.outputSize ?? 256, configuration.outputSize ?? 256),
                                                           mode: .bilinear(alignCorners: false)).squeeze(0))
                }
            }
            start += b
        }
    }

    /// `Samples/` of the checkout (searched upwards from the working directory and this source file).
    static func samplesFolder(callerFile: String = #filePath) throws -> URL {
        let fm = FileManager.default
        for start in [URL(fileURLWithPath: fm.currentDirectoryPath), URL(fileURLWithPath: callerFile).deletingLastPathComponent()] {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let c = dir.appendingPathComponent("Samples/source.png")
                if fm.fileExists(atPath: c.path) { return c.deletingLastPathComponent() }
                dir = dir.deletingLastPathComponent()
            }
        }
        throw MediaError.fileNotFound("Samples/source.png (run from the repository)")
    }
}
