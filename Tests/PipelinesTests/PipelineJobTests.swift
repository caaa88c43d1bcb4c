import Diffusion
import FaceModel
import Foundation
import Media
@testable import Pipelines
import TGDMModel
import Torch
import XCTest

/// End to end through the per-call API on a tiny random generator: every driver, swapping, framing, files,
/// progress and cancellation.
final class PipelineJobTests: XCTestCase {
    func testImageDrivenReenactmentPastesTheFaceBackIntoTheFrame() throws {
        let p = try tinyPipeline()
        var config = PipelineConfiguration()
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let driver = try p.portrait(samples.appendingPathComponent("driving.png"))
        XCTAssertTrue(source.coefficientSource.hasPrefix("sidecar"))
        var events: [PipelineProgress] = []
        let full = try p.generate(.reenact(source: source, driver: .image(driver)), configuration: config) { events.append($0); return true }
        XCTAssertEqual(full.frames.count, 1)
        let frame = full.frames[0]
        XCTAssertEqual(frame.output.width, source.frame.width)
        XCTAssertEqual(frame.face.shape, [3, 16, 16])
        XCTAssertEqual(frame.render.shape, [3, 16, 16])
        XCTAssertNotNil(frame.driver)
        // ρ̂ = {α_s, β_d, δ_s, γ_s, p_d, ω_d}.
        XCTAssertEqual(try full.coefficients.expression.floats(), try driver.coefficients.expression.floats())
        XCTAssertEqual(try full.coefficients.identity.floats(), try source.coefficients.identity.floats())
        XCTAssertTrue(events.contains(.denoising(step: 3, steps: 3, frames: 0..<1, totalFrames: 1)), "\(events)")
        XCTAssertEqual(events.last, .frames(done: 1, total: 1))

        config.framing = .crop
        config.outputSize = 40
        let crop = try p.generate(.reenact(source: source, driver: .image(driver)), configuration: config)
        XCTAssertEqual(crop.frames[0].output.width, 40)
        XCTAssertEqual(crop.frames[0].output.height, 40)
        // Same seed, same picture.
        XCTAssertEqual(try maxAbsDiff(crop.frames[0].face, frame.face), 0)
    }

    func testVideoDrivingStreamsChunksAndWritesAnMP4() throws {
        let p = try tinyPipeline()
        var config = PipelineConfiguration()
        config.batchSize = 2
        config.outputSize = 32
        config.framing = .crop
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let video = VideoDriver(url: samples.appendingPathComponent("driving_video.mp4"), maxFrames: 5)
        let stream = try p.frames(for: .reenact(source: source, driver: .video(video)), configuration: config)
        XCTAssertEqual(stream.count, 5)
        XCTAssertEqual(stream.motion.origin, "coefficients driving_video.coeffs.json")
        var sizes: [Int] = []
        while let chunk = try stream.next() { sizes.append(chunk.count); XCTAssertNotNil(chunk.first?.driver) }
        XCTAssertEqual(sizes, [2, 2, 1])

        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("video.mp4")
        let summary = try p.run(.reenact(source: source, driver: .video(video)), configuration: config,
                                into: VideoFileSink(url: out, layout: .sideBySide, height: 32))
        XCTAssertEqual(summary.frames, 5)
        let info = try VideoProbe.probe(out)
        XCTAssertEqual(info.frameCount, 5)
        XCTAssertEqual(info.height, 32)
        XCTAssertGreaterThan(info.width, 3 * 32)   // source | driver | I_3d | result
    }

    func testSpeechDrivingMatchesTheAudioLengthAndMuxesIt() throws {
        let p = try tinyPipeline()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("hi.wav")
        let speech = try SpeechSynthesizer.synthesize("Hi.", to: wav)
        var config = PipelineConfiguration()
        config.framing = .crop
        config.outputSize = 16
        config.batchSize = 16
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let out = dir.appendingPathComponent("talk.mp4")
        let summary = try p.run(.reenact(source: source, driver: .speech(SpeechDriver(audio: wav, emotion: "happy", intensity: 2))),
                                configuration: config, into: VideoFileSink(url: out))
        XCTAssertEqual(summary.frames, Int((speech.duration * 25).rounded(.up)))
        XCTAssertTrue(try VideoProbe.probe(out).hasAudio)
        // Expressions come from EmoA2E (they vary over time); identity stays the source's.
        let beta = try summary.coefficients.expression
        XCTAssertGreaterThan(try (beta.select(0, 0) - beta.select(0, summary.frames / 2)).abs().max().item(), 1e-3)
        XCTAssertEqual(try summary.coefficients.identity.select(0, 3).floats(), try source.coefficients.identity.select(0, 0).floats())
    }

    func testSwapKeepsTheTargetFrameAndTakesTheSourceIdentity() throws {
        let p = try tinyPipeline()
        let identity = try p.portrait(samples.appendingPathComponent("source.png"))
        let target = try p.portrait(samples.appendingPathComponent("target.png"))
        for masked in [false, true] {
            let r = try p.generate(.swap(identity: identity, target: target, maskedTexture: masked))
            XCTAssertEqual(r.frames.count, 1)
            XCTAssertEqual(try r.coefficients.identity.floats(), try identity.coefficients.identity.floats())
            XCTAssertEqual(try r.coefficients.expression.floats(), try target.coefficients.expression.floats())
            XCTAssertEqual(r.frames[0].output.width, target.frame.width)
        }
    }

    /// The warp composition (issue #10): driven by its own coefficients the source comes back as it is (the
    /// correspondence is the identity and valid everywhere); driven by a head turn, the crop's border — the
    /// background far from the face — stays still, while the generator alone gives a different picture.
    func testWarpCompositionKeepsThePersonAndTheBackground() throws {
        let p = try tinyPipeline()
        var config = PipelineConfiguration()
        config.framing = .crop
        config.outputSize = 128
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let crop = try source.image(size: 128).squeeze(0)
        func psnr(_ a: Tensor, _ b: Tensor) throws -> Double { 10 * log10(4 / max(try (a - b).square().mean().item(), 1e-12)) }
        var turned = try source.coefficients.tensor.floats()
        turned[CoefficientPart.pose.range.lowerBound + 1] += 0.25
        let motion = try Coefficients.concatenate([source.coefficients, Coefficients(Tensor(turned, shape: [1, Coefficients.count]))])
        let r = try p.generate(.reenact(source: source, driver: .motion(motion, fps: 25)), configuration: config)
        let same = try r.frames[0].output.toTensor().squeeze(0)
        XCTAssertGreaterThan(try psnr(same, crop), 40, "own coefficients: the source itself")
        let moved = try r.frames[1].output.toTensor().squeeze(0)
        // Beyond the fade-out distance from the face the background does not move.
        let faceMask = try Torch.noGrad { try p.renderer.render(motion.frame(1), width: 128, height: 128).mask }
        let reach = Int((try p.warper().options.fadeEnd * 128).rounded(.up)) + 2
        let far = try (1.0 - F.maxPool2d(F.pad(faceMask, [reach, reach, reach, reach]), kernel: 2 * reach + 1, stride: 1)).squeeze(0)
        XCTAssertGreaterThan(try far.sum().item(), 100, "the test needs background far from the face")
        let farError = try ((moved - crop).abs() * far).sum().item() / (3 * far.sum().item())
        XCTAssertLessThan(farError, 1.0 / 255, "the background far from the face stays still")
        XCTAssertGreaterThan(try (moved - crop).abs().mean().item(), 0.01, "the head turned")
        config.composition = .generator
        let alone = try p.generate(.reenact(source: source, driver: .motion(source.coefficients, fps: 25)), configuration: config)
        XCTAssertLessThan(try psnr(alone.frames[0].output.toTensor().squeeze(0), crop), 20, "a random generator alone is not the source")
    }

    /// Swapping through the warp changes only the face: far from it, the target crop is untouched.
    /// A 128² swap of Samples/source.png onto Samples/target.png: the output crop, the target crop, the swapped
    /// geometry's face mask, and the mask of pixels well outside the face.
    func swapCrops(maskedTexture: Bool, seed: UInt64 = 0) throws -> (output: Tensor, target: Tensor, face: Tensor, far: Tensor) {
        let p = try tinyPipeline()
        var config = PipelineConfiguration()
        config.framing = .crop
        config.outputSize = 128
        config.seed = seed
        let identity = try p.portrait(samples.appendingPathComponent("source.png"))
        let target = try p.portrait(samples.appendingPathComponent("target.png"))
        let out = try p.generate(.swap(identity: identity, target: target, maskedTexture: maskedTexture), configuration: config).frames[0]
        let face = try Torch.noGrad { try p.renderer.render(Coefficients.swap(source: identity.coefficients, target: target.coefficients),
                                                            width: 128, height: 128).mask.squeeze(0) }
        let far = try 1.0 - F.maxPool2d(face.unsqueeze(0), kernel: 9, stride: 1, padding: 4).squeeze(0)
        return (try out.output.toTensor().squeeze(0), try target.image(size: 128).squeeze(0), face, far)
    }

    func meanDifference(_ a: Tensor, _ b: Tensor, in mask: Tensor) throws -> Double {
        try ((a - b).abs() * mask).sum().item() / (3 * mask.sum().item())
    }

    func testSwapCompositeLeavesTheTargetOutsideTheFace() throws {
        let (o, t, face, far) = try swapCrops(maskedTexture: false)
        XCTAssertLessThan(try meanDifference(o, t, in: far), 1.0 / 255, "outside the face the target is untouched")
        XCTAssertGreaterThan(try meanDifference(o, t, in: face), 0.02, "inside the face the identity's texture arrives")
    }

    /// A swap model's job (masked texture): its generated face replaces the target's inside the face, and the
    /// target stays untouched outside it (not the generator's redrawn background).
    func testSwapModelCompositeKeepsTheTargetOutsideTheFace() throws {
        let (o, t, face, far) = try swapCrops(maskedTexture: true)
        XCTAssertLessThan(try meanDifference(o, t, in: far), 1.0 / 255, "outside the face the target is untouched")
        XCTAssertGreaterThan(try meanDifference(o, t, in: face), 0.02, "inside the face the generator's face arrives")
        // It is the generator's face (another seed draws another one), not the identity's warp.
        let again = try swapCrops(maskedTexture: true, seed: 99).output
        XCTAssertGreaterThan(try meanDifference(again, o, in: face), 0.005)
    }

    /// A k = 1 window model gets windows of ρ̂ in the pipeline.
    func testTemporalWindowModelRunsInThePipeline() throws {
        let p = try tinyPipeline(window: 1)
        XCTAssertEqual(p.generator.config.conditionInputDim, 3 * Coefficients.count)
        var config = PipelineConfiguration()
        config.framing = .crop
        config.outputSize = 16
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let video = VideoDriver(url: samples.appendingPathComponent("driving_video.mp4"), maxFrames: 3)
        let r = try p.generate(.reenact(source: source, driver: .video(video)), configuration: config)
        XCTAssertEqual(r.frames.count, 3)
        XCTAssertTrue(try r.frames.allSatisfy { try $0.face.isFinite() })
    }

    func testCancellationStopsTheJobAndLeavesNoFile() throws {
        let p = try tinyPipeline()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let video = VideoDriver(url: samples.appendingPathComponent("driving_video.mp4"), maxFrames: 4)
        var config = PipelineConfiguration()
        config.batchSize = 2
        let out = dir.appendingPathComponent("cancelled.mp4")
        XCTAssertThrowsError(try p.run(.reenact(source: source, driver: .video(video)), configuration: config, into: VideoFileSink(url: out)) {
            if case .frames(let done, _) = $0 { return done < 2 }
            return true
        }) { XCTAssertEqual($0 as? PipelineError, .cancelled) }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(left, [], "a cancelled job leaves nothing behind")
    }

    func testBadInputsAreClearErrors() throws {
        let p = try tinyPipeline()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A flat grey picture has no face (and no sidecar).
        let flat = dir.appendingPathComponent("flat.png")
        try RGBImage(width: 96, height: 80, fill: (128, 128, 128)).write(to: flat)
        XCTAssertThrowsError(try p.portrait(flat)) { XCTAssertEqual($0 as? PipelineError, .noFace("no face found in flat.png")) }
        // A corrupt picture.
        let junk = dir.appendingPathComponent("junk.png")
        try Data("not a png".utf8).write(to: junk)
        XCTAssertThrowsError(try p.portrait(junk)) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
        // Speech shorter than two frames.
        let source = try p.portrait(samples.appendingPathComponent("source.png"))
        let blip = dir.appendingPathComponent("blip.wav")
        try writeSilence(seconds: 0.03, to: blip)
        XCTAssertThrowsError(try p.generate(.reenact(source: source, driver: .speech(SpeechDriver(audio: blip))))) {
            XCTAssertTrue("\($0)".contains("shorter than two video frames"), "\($0)")
        }
        // Absurd settings.
        var config = PipelineConfiguration()
        config.outputSize = 5
        XCTAssertThrowsError(try p.generate(.reenact(source: source, driver: .image(source)), configuration: config))
        // A missing model file.
        XCTAssertThrowsError(try TalkingFacePipeline(model: dir.appendingPathComponent("none.safetensors"))) {
            XCTAssertTrue("\($0)".contains("no TGDM model at"), "\($0)")
        }
    }

    func writeSilence(seconds: Double, to url: URL) throws {
        let n = Int(16000 * seconds)
        var d = Data("RIFF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        u32(UInt32(36 + 2 * n)); d.append(Data("WAVEfmt ".utf8)); u32(16); u16(1); u16(1); u32(16000); u32(32000); u16(2); u16(16)
        d.append(Data("data".utf8)); u32(UInt32(2 * n)); d.append(Data(count: 2 * n))
        try d.write(to: url)
    }
}
