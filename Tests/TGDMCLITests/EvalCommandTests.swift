import Diffusion
import FaceModel
import Foundation
import Media
import TGDMModel
import Torch
import XCTest

/// `tgdm eval folder | video | tgdm` as subprocesses on tiny inputs (the slow readouts switched off).
final class EvalCommandTests: XCTestCase {
    func testEvalFolderPrintsTheTablesAndWritesJSON() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gen = dir.appendingPathComponent("gen"), ref = dir.appendingPathComponent("ref")
        for d in [gen, ref] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let photo = try RGBImage(contentsOf: samples.appendingPathComponent("source.png"))
        try photo.write(to: gen.appendingPathComponent("one.png"))
        try photo.write(to: ref.appendingPathComponent("one.png"))
        let report = dir.appendingPathComponent("report.json")
        let r = try tgdm(["eval", "folder", "--generated", gen.path, "--reference", ref.path, "--source", samples.appendingPathComponent("source.png").path,
                          "--no-motion", "--no-fid", "--lpips", "alex", "-o", report.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Table 1 / 2 columns") && r.stdout.contains("| generated | 100.00"), r.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any]
        XCTAssertEqual(json?["frames"] as? Int, 1)

        let bad = try tgdm(["eval", "folder", "--generated", dir.appendingPathComponent("nope").path, "--reference", ref.path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("error: ") && bad.stderr.contains("no such file"), bad.stderr)
        let label = try tgdm(["eval", "folder", "--generated", gen.path, "--reference", ref.path, "--emotion", "bored"])
        XCTAssertNotEqual(label.status, 0)
        XCTAssertTrue(label.stderr.contains("--emotion must be one of"), label.stderr)
    }

    func testEvalVideoOnTheSampleVideo() throws {
        let video = samples.appendingPathComponent("driving_video.mp4")
        let r = try tgdm(["eval", "video", "--generated", video.path, "--reference", video.path, "--max-frames", "3",
                          "--no-motion", "--no-fid", "--no-emotion", "--lpips", "alex"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("3 frames") && r.stdout.contains("Flicker"), r.stdout)
    }

    /// `eval tgdm` with the composite on a tiny 32² model and a 3-identity dataset.
    func testEvalTGDMWithTheComposite() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = TGDMConfig(imageSize: 32, baseChannels: 8, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                                textureEncoderBlocks: 1, coefficientDim: Coefficients.count, normGroups: 4)
        let model = dir.appendingPathComponent("tiny32.safetensors")
        try TGDMModelBundle(model: try TGDMUNet(config: config, generator: Generator(seed: 1)), schedule: try NoiseSchedule(.paper),
                            defaultSampler: SamplerConfiguration(kind: .ddim, steps: 2, eta: 1)).save(to: model)
        let data = dir.appendingPathComponent("d.safetensors")
        let made = try tgdm(["dataset", "synth", "--size", "32", "--identities", "3", "--frames", "2", "--test-identities", "1", "-o", data.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let out = dir.appendingPathComponent("eval.json")
        let r = try tgdm(["eval", "tgdm", "--checkpoint", model.path, "--data", data.path, "--count", "2", "--motion", "none", "--composite",
                          "--no-face-metrics", "--no-fid", "--grid-pairs", "2", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| composite (warp + generator) |") && r.stdout.contains("LPIPS ↓"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("eval.png").path))
    }
}
