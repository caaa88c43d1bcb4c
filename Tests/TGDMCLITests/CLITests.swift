import ArgumentParser
import Diffusion
import FaceModel
import Foundation
import Media
import Pipelines
@testable import TGDMCLI
import TGDMModel
import Torch
import XCTest

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let samples = repository.appendingPathComponent("Samples")

/// Runs the built `tgdm` executable (next to the test bundle) in `dir` (default: the repository) and returns its
/// exit status and output, both pipes read as they fill.
func tgdm(_ args: [String], in dir: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let r = try tgdmProcess(args, in: dir ?? repository)
    return (r.status, r.stdout, r.stderr)
}

/// A tiny random TGDM written as a model file (3 DDIM steps by default), so commands run in seconds.
func tinyModelFile(in dir: URL, window: Int = 0) throws -> URL {
    let config = TGDMConfig(imageSize: 16, baseChannels: 8, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                            textureEncoderBlocks: 1, coefficientDim: Coefficients.count, normGroups: 4, temporalRadius: window)
    let bundle = TGDMModelBundle(model: try TGDMUNet(config: config, generator: Generator(seed: 1)), schedule: try NoiseSchedule(.paper),
                                 defaultSampler: SamplerConfiguration(kind: .ddim, steps: 3, eta: 1))
    let url = dir.appendingPathComponent("tiny.safetensors")
    try bundle.save(to: url)
    return url
}

func temporaryDirectory(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-cli-\(name.filter(\.isLetter))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Parsing: typed options, defaults taken from the model, validation messages.
final class CLIParsingTests: XCTestCase {
    func testSamplerFlagsDefaultToTheModelsSampler() throws {
        let c = try XCTUnwrap(TGDMCommand.parseAsRoot(["reenact", "--source", "s.png", "--driving", "d.png"]) as? ReenactCommand)
        let base = SamplerConfiguration(kind: .ddim, steps: 50, eta: 1)
        XCTAssertNil(c.generation.sampling.configuration(default: base))
        let d = try XCTUnwrap(TGDMCommand.parseAsRoot(["reenact", "--source", "s", "--driving", "d", "--steps", "20"]) as? ReenactCommand)
        XCTAssertEqual(d.generation.sampling.configuration(default: base), SamplerConfiguration(kind: .ddim, steps: 20, eta: 1))
        let e = try XCTUnwrap(TGDMCommand.parseAsRoot(["swap", "--source", "s", "--target", "t", "--sampler", "dpm-solver++"]) as? SwapCommand)
        XCTAssertEqual(e.generation.sampling.configuration(default: base)?.kind, .dpmSolver)
        XCTAssertEqual(e.generation.sampling.configuration(default: base)?.eta, 0)
    }

    func testBadOptionsAreRejectedWithAMessage() {
        let cases: [([String], String)] = [
            (["reenact", "--source", "s", "--driving", "d", "--steps", "0"], "--steps must be in 1...1000"),
            (["reenact", "--source", "s", "--driving", "d", "--eta", "3"], "--eta must be in [0, 1]"),
            (["talk", "--source", "s", "--text", "hi", "--intensity", "5"], "--intensity must be in 1...3"),
            (["talk", "--source", "s"], "give either --audio or --text"),
            (["video", "--source", "s", "--driving", "v", "--size", "4"], "--size must be in 16...2048"),
            (["train", "tgdm", "--window", "9"], "--window must be in 0...4"),
            (["sample", "--checkpoint", "c", "--split", "middle"], "middle"),
            (["reenact", "--source", "s", "--driving", "d", "--sampler", "euler"], "euler"),
        ]
        for (args, needle) in cases {
            XCTAssertThrowsError(try TGDMCommand.parseAsRoot(args), "\(args)") { error in
                let message = TGDMCommand.message(for: error)
                XCTAssertTrue(message.contains(needle), "\(args): \(message)")
            }
        }
    }

    func testTrainingOptionsParse() throws {
        let t = try XCTUnwrap(TGDMCommand.parseAsRoot(["train", "tgdm", "--task", "swap", "--window", "1", "--variant", "featureConcat"]) as? TrainTGDMCommand)
        XCTAssertEqual(t.task, .swap)
        XCTAssertEqual(t.window, 1)
        XCTAssertEqual(t.variant, .featureConcat)
        XCTAssertEqual(ModelPreset.small64.config(variant: .texAtt, temporalRadius: 1).conditionInputDim, 3 * 261)
    }
}

/// The executable: outputs on success, one `error:` line and a non-zero exit on bad input, nothing left behind.
final class CLICommandTests: XCTestCase {
    func testVideoWithAWindowModelAndTheSampleVideo() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir, window: 1)
        let out = dir.appendingPathComponent("v.mp4")
        let r = try tgdm(["video", "--model", model.path, "--source", "Samples/source.png", "--driving", "Samples/driving_video.mp4",
                          "--max-frames", "3", "--crop-only", "--size", "32", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(out.path) (3 frames"), r.stdout)
    }

    func testTrainingTheWindowModelFromTheCLIRunsAndResumes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("synth32.safetensors")
        var r = try tgdm(["dataset", "synth", "--size", "32", "--identities", "3", "--frames", "2", "--test-identities", "1", "-o", data.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = dir.appendingPathComponent("run")
        let common = ["train", "tgdm", "--data", data.path, "--preset", "tiny32", "--window", "1", "--batch", "2", "--log-every", "1",
                      "--checkpoint-every", "0", "--artifact-every", "0", "--preview-steps", "2", "--out", run.path]
        r = try tgdm(common + ["--steps", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("window k = 1"), r.stdout)
        r = try tgdm(common + ["--steps", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming"), r.stdout)
        let bundle = try TGDMModelBundle.load(from: run.appendingPathComponent("checkpoint.safetensors"))
        XCTAssertEqual(bundle.config.temporalRadius, 1)
        XCTAssertEqual(bundle.metadata["step"], "3")

        // Exported for shipping: the given sampler steps and start strength in its metadata, no trainer state, and
        // the generating commands sample with it.
        let exported = dir.appendingPathComponent("model.safetensors")
        r = try tgdm(["eval", "export", "--checkpoint", run.appendingPathComponent("checkpoint.safetensors").path, "-o", exported.path,
                      "--steps", "2", "--start-strength", "0.5", "--note", "CLI test"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let file = try Safetensors.load(exported)
        XCTAssertEqual(file.metadata["default_start_strength"], "0.5")
        XCTAssertEqual(file.metadata["note"], "CLI test")
        XCTAssertEqual(file.metadata["step"], "3")
        XCTAssertFalse(file.tensors.keys.contains { $0.hasPrefix("trainer.") || $0.hasPrefix("optim") },
                       "trainer state in the exported file: \(file.tensors.keys.sorted().prefix(8))")
        // The checkpoint also holds the raw weights and two Adam moments per weight.
        XCTAssertLessThan(fileSize(exported), fileSize(run.appendingPathComponent("checkpoint.safetensors")) / 2)
        let shipped = try TGDMModelBundle.load(from: exported)
        XCTAssertEqual(shipped.defaultSampler.steps, 2)
        XCTAssertEqual(shipped.defaultStartStrength, 0.5)
        XCTAssertEqual(shipped.config.temporalRadius, 1)
        let sampled = dir.appendingPathComponent("sampled.png")
        r = try tgdm(["reenact", "--model", exported.path, "--source", "Samples/source.png", "--driving", "Samples/driving.png",
                      "--size", "32", "--crop-only", "-o", sampled.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try RGBImage(contentsOf: sampled)
        XCTAssertEqual([image.width, image.height], [32, 32])
    }

    /// The face-swapping paradigm from the CLI (Sec. 4.4): face-masked sources, z_id from dlib (computed from the
    /// frames' known ρ and cached beside the dataset), a few training steps, then the model loads with its z_id input.
    func testATinySwapModelTrainsWithTheIdentityEmbedding() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("synth32.safetensors")
        var r = try tgdm(["dataset", "synth", "--size", "32", "--identities", "3", "--frames", "2", "--test-identities", "1", "-o", data.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = dir.appendingPathComponent("swap")
        r = try tgdm(["train", "tgdm", "--data", data.path, "--preset", "tiny32", "--task", "swap", "--identity", "--steps", "2", "--batch", "2",
                      "--log-every", "1", "--checkpoint-every", "0", "--artifact-every", "0", "--preview-steps", "2", "--out", run.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("swap texAtt+z_id"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("synth32.zid.safetensors").path))
        let bundle = try TGDMModelBundle.load(from: run.appendingPathComponent("checkpoint.safetensors"))
        XCTAssertEqual(bundle.config.identityDim, 128)
        XCTAssertNotNil(bundle.model.condition.identity)
    }

    func testBadInputsGiveOneErrorLineAndNoOutput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir)
        let junk = dir.appendingPathComponent("junk.png")
        try Data("no image".utf8).write(to: junk)
        let out = dir.appendingPathComponent("out.png"), mp4 = dir.appendingPathComponent("out.mp4")
        let cases: [([String], String)] = [
            (["reenact", "--model", model.path, "--source", "missing.png", "--driving", "Samples/driving.png", "-o", out.path], "no such file: missing.png"),
            (["reenact", "--model", model.path, "--source", junk.path, "--driving", "Samples/driving.png", "-o", out.path], "cannot read"),
            (["reenact", "--model", junk.path, "--source", "Samples/source.png", "--driving", "Samples/driving.png", "-o", out.path], "error:"),
            (["talk", "--model", model.path, "--source", "Samples/source.png", "--text", "...", "-o", mp4.path], "no speakable words"),
            (["bench", "nonsense"], "unknown suite 'nonsense'"),
        ]
        for (args, needle) in cases {
            let r = try tgdm(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(lines.count, 1, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(args) left \(out.lastPathComponent)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: mp4.path), "\(args) left \(mp4.lastPathComponent)")
        }
    }
}

/// The test harness itself: a child's two pipes are drained at once.
final class ChildProcessTests: XCTestCase {
    /// Reading stdout to its end first would block forever here: the child fills the stderr pipe (64 KB) and waits.
    func testAChildWritingAMegabyteToStderrBeforeStdoutDoesNotHang() throws {
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "head -c 1048576 /dev/zero | tr '\\000' e >&2; echo done"])
        let r = try child.finish(deadline: 120)
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout, "done\n")
        XCTAssertEqual(r.stderr.utf8.count, 1 << 20)
    }
}
