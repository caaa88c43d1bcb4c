import Foundation
@testable import TGDMCLI
import Torch
import XCTest

/// The bad-input corpus (Tests/TGDMCLITests/BadInputs, made by scripts/fixtures/cli_bad_inputs.sh: truncated,
/// mislabelled, oversized, empty, NaN and wrong-shape files) and absurd options, through every command of the
/// built `tgdm`. Each case runs in an empty working folder that is also its output folder, and must exit
/// non-zero (never by a signal), print exactly one `error:` line, and leave the folder empty: no partial output,
/// no temporary file, no side file (such as the WAV `--text` speaks).
final class BadInputTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("BadInputs")

    struct Case {
        let args: [String]
        /// Text the error line must contain (nil: any message).
        let needle: String?
        init(_ args: [String], _ needle: String? = nil) { self.args = args; self.needle = needle }
    }

    func bad(_ name: String) -> String { Self.corpus.appendingPathComponent(name).path }
    func sample(_ name: String) -> String { samples.appendingPathComponent(name).path }

    /// A TGDM file whose output convolution has the wrong shape.
    func wrongShapeModel(from model: URL, in dir: URL) throws -> URL {
        var file = try Safetensors.load(model)
        let key = try XCTUnwrap(file.tensors.keys.first { $0.hasSuffix("outputConv.weight") })
        file.tensors[key] = try Tensor.zeros([2, 2, 3, 3])
        let url = dir.appendingPathComponent("wrong-shape-model.safetensors")
        try Safetensors.save(file.tensors, metadata: file.metadata, to: url)
        return url
    }

    func cases(model: String, wrongModel: String) -> [Case] {
        let src = sample("source.png"), drv = sample("driving.png"), video = sample("driving_video.mp4")
        let gen = ["--model", model, "--size", "32", "--crop-only"]
        func reenact(_ extra: [String], source: String = src, driving: String = drv) -> [String] {
            ["reenact", "--source", source, "--driving", driving, "-o", "out.png"] + (extra.contains("--model") ? [] : gen) + extra
        }
        let wav = "speech.wav"  // made by the test in the shared inputs folder
        return [
            // Images: empty, truncated, mislabelled, oversized.
            Case(reenact([], source: bad("empty.png")), "empty file"),
            Case(reenact([], source: bad("truncated.png")), "PNG"),
            Case(reenact([], driving: bad("truncated.jpg")), "JPEG"),
            Case(reenact([], source: bad("speech-named.png")), "not a PNG or JPEG"),
            Case(reenact([], source: bad("oversized.png")), "exceeds the limit"),
            Case(reenact([], source: bad("huge-truncated.png"))),
            Case(reenact([], source: bad("oversized.jpg")), "exceeds the limit"),
            Case(["swap", "--source", src, "--target", bad("empty.jpg"), "-o", "out.png"] + gen, "empty file"),
            // Model files: empty, lying header, absurd header length, JSON, a non-model, wrong shapes.
            Case(reenact(["--model", bad("empty.safetensors")])),
            Case(reenact(["--model", bad("lying-header.safetensors")]), "data_offsets"),
            Case(reenact(["--model", bad("huge-header.safetensors")]), "header length"),
            Case(reenact(["--model", bad("wrong-shape-coeffs.safetensors")])),
            Case(reenact(["--model", wrongModel])),
            Case(reenact(["--model", bad("huge-config-tgdm.safetensors")]), "far larger than"),
            Case(["a2e", "--audio", "speech.wav", "--weights", bad("huge-config-emoa2e.safetensors"), "-o", "out.json"], "far larger than"),
            // Videos and their coefficients.
            Case(["video", "--source", src, "--driving", bad("empty.mp4"), "-o", "out.mp4"] + gen),
            Case(["video", "--source", src, "--driving", bad("truncated.mp4"), "-o", "out.mp4"] + gen),
            Case(["video", "--source", src, "--driving", bad("image-named.mp4"), "-o", "out.mp4"] + gen),
            Case(["video", "--source", src, "--driving", bad("audio-only.mp4"), "-o", "out.mp4"] + gen, "no video stream"),
            Case(["video", "--source", src, "--driving", video, "--driving-coeffs", bad("nan-coeffs.json"), "-o", "out.mp4"] + gen),
            Case(["video", "--source", src, "--driving", video, "--driving-coeffs", bad("wrong-shape-coeffs.safetensors"), "-o", "out.mp4"] + gen),
            Case(["video", "--source", src, "--driving", video, "--max-frames", "0", "-o", "out.mp4"] + gen),
            Case(["video", "--source", src, "--driving", video, "-o", "out.avi"] + gen, "MP4"),
            // Speech: empty, truncated and mislabelled audio, unspeakable text, a bad emotion model.
            Case(["talk", "--source", src, "--audio", bad("empty.wav"), "-o", "out.mp4"] + gen),
            Case(["talk", "--source", src, "--audio", bad("truncated.wav"), "-o", "out.mp4"] + gen),
            Case(["talk", "--source", src, "--audio", bad("image-named.wav"), "-o", "out.mp4"] + gen),
            Case(["talk", "--source", src, "--text", "...", "-o", "out.mp4"] + gen, "no speakable words"),
            Case(["talk", "--source", bad("truncated.png"), "--text", "Hello there.", "-o", "out.mp4"] + gen, "PNG"),
            Case(["talk", "--source", src, "--audio", wav, "--a2e", bad("lying-header.safetensors"), "-o", "out.mp4"] + gen),
            Case(["a2e", "--audio", bad("truncated.wav"), "-o", "out.json"]),
            Case(["a2e", "--audio", wav, "--identity", bad("nan-coeffs.json"), "-o", "out.json"], "nan-coeffs.json"),
            Case(["a2e", "--audio", wav, "--identity", bad("inf-coeffs.json"), "-o", "out.json"], "inf-coeffs.json"),
            Case(["a2e", "--audio", wav, "--weights", bad("empty.safetensors"), "-o", "out.json"]),
            Case(["a2e", "--audio", wav, "-o", "out.txt"], ".json or .safetensors"),
            Case(["a2e", "--audio", wav, "--preview", "preview.avi", "-o", "out.json"], "MP4"),
            Case(["a2e", "--text", "...", "-o", "out.json"], "no speakable words"),
            // Coefficient files.
            Case(["render", "--coeffs", bad("nan-coeffs.json"), "-o", "out.png"]),
            Case(["render", "--coeffs", bad("short-coeffs.json"), "-o", "out.png"], "79 values"),
            Case(["render", "--coeffs", bad("no-frames-coeffs.json"), "-o", "out.png"], "no frames"),
            Case(["render", "--coeffs", bad("wrong-shape-coeffs.safetensors"), "-o", "out.png"]),
            Case(["render", "--coeffs", bad("nan-coeffs.safetensors"), "-o", "out.png"]),
            Case(["render", "--coeffs", bad("silence-named.json"), "-o", "out.png"]),
            Case(["render", "--coeffs", sample("source.coeffs.json"), "--model", bad("empty.safetensors"), "-o", "out.png"]),
            Case(["render", "--coeffs", sample("source.coeffs.json"), "--size", "100000", "-o", "out.png"], "--size"),
            Case(["render", "--coeffs", sample("source.coeffs.json"), "-o", "out.gif"], "cannot choose an image format"),
            Case(["face-grid", "--rows", "0"], "rows"),
            Case(["face-grid", "--size", "100000", "-o", "out.png"]),
            Case(["face-grid", "--kind", "expression", "--modes", "999", "-o", "out.png"]),
            // Datasets, training, sampling, evaluation.
            Case(["dataset", "synth", "--size", "1", "--identities", "2", "-o", "d.safetensors"]),
            Case(["dataset", "synth", "--identities", "0", "-o", "d.safetensors"]),
            Case(["dataset", "preview", bad("lying-header.safetensors"), "-o", "out.png"]),
            Case(["dataset", "samples", "--size", "1", "-o", "samples"]),
            Case(["train", "tgdm", "--data", bad("empty.safetensors"), "--out", "run"]),
            Case(["train", "tgdm", "--data", bad("wrong-shape-coeffs.safetensors"), "--out", "run"]),
            Case(["train", "a2e", "--backbones", "lstm", "--out", "run"], "unknown backbone"),
            Case(["sample", "--checkpoint", bad("empty.safetensors"), "--data", bad("empty.safetensors"), "-o", "out.png"]),
            Case(["eval", "tgdm", "--checkpoint", bad("lying-header.safetensors"), "--data", bad("empty.safetensors"), "-o", "r.json"]),
            Case(["eval", "export", "--checkpoint", bad("wrong-shape-coeffs.safetensors"), "-o", "m.safetensors"]),
            Case(["eval", "expressions", "--samples", "/nonexistent-tgdm-samples", "-o", "expressions"], "no such file"),
            Case(["eval", "expressions", "--samples", samples.path, "--model", bad("lying-header.safetensors"), "-o", "expressions"]),
            // Speech synthesis.
            Case(["speak", "...", "-o", "s.wav"], "no speakable words"),
            Case(["speak", "hello", "--rate", "100000", "-o", "s.wav"], "rate"),
            Case(["speak", "hello", "--voice", "zz-nonexistent", "-o", "s.wav"], "voice"),
            // Absurd options (the rest are parsing errors, checked in-process below); one parse error and one
            // validation error check their one-line report.
            Case(reenact(["--threads", "0"]), "--threads"),
            Case(reenact(["--steps", "0"]), "--steps"),
            Case(reenact(["--seed", "-1"]), "seed"),
            Case(["demo", "--samples", "/nonexistent-tgdm-samples", "--model", model, "-o", "demo"], "no such file"),
            Case(["bench", "nonsense"], "unknown suite 'nonsense'"),
            Case(["nonsense-command"], "nonsense-command"),
        ]
    }

    /// Absurd options that argument parsing or `validate()` refuses: checked in-process (no process start-up);
    /// the subprocess cases above show how such errors are reported.
    func testAbsurdOptionsFailParsing() {
        let gen = ["--source", "s.png", "--driving", "d.png"]
        let cases: [([String], String)] = [
            (["reenact"] + gen + ["--batch", "0"], "--batch"),
            (["reenact"] + gen + ["--size", "100000"], "--size"),
            (["reenact"] + gen + ["--eta", "nan"], "--eta"),
            (["reenact"] + gen + ["--steps", "100000"], "--steps"),
            (["reenact"] + gen + ["--face-index", "-1"], "--face-index"),
            (["reenact"] + gen + ["--sampler", "euler"], "euler"),
            (["reenact"] + gen + ["--seed", "nan"], "seed"),
            (["video", "--source", "s", "--driving", "v", "--max-frames", "many"], "max-frames"),
            (["talk", "--source", "s", "--audio", "a", "--intensity", "nan"], "--intensity"),
            (["talk", "--source", "s", "--audio", "a", "--head-motion", "inf"], "--head-motion"),
            (["talk", "--source", "s", "--audio", "a", "--text", "hi"], "either --audio or --text"),
            (["a2e", "--intensity", "-1", "--audio", "a"], "--intensity"),
            (["train", "tgdm", "--batch", "0"], "--batch"),
            (["train", "tgdm", "--lr", "nan"], "--lr"),
            (["train", "tgdm", "--ema-decay", "1"], "--ema-decay"),
            (["train", "tgdm", "--steps", "-1"], "--steps"),
            (["train", "tgdm", "--preview-steps", "0"], "--preview-steps"),
            (["demo", "--intensity", "9"], "--intensity"),
            (["face-grid", "--kind", "sideways"], "sideways"),
            (["sample", "--checkpoint", "c", "--split", "middle"], "middle"),
        ]
        for (args, needle) in cases {
            XCTAssertThrowsError(try TGDMCommand.parseAsRoot(args), "\(args)") { error in
                XCTAssertTrue(TGDMCommand.message(for: error).contains(needle), "\(args): \(TGDMCommand.message(for: error))")
            }
        }
    }

    func testEveryCommandRejectsBadInputCleanly() throws {
        let inputs = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: inputs) }
        let model = try tinyModelFile(in: inputs)
        let wrongModel = try wrongShapeModel(from: model, in: inputs)
        // A real speech file, so options after the audio are what fails.
        let wav = inputs.appendingPathComponent("speech.wav")
        _ = try tgdm(["speak", "Hello there.", "-o", wav.path])
        XCTAssertTrue(FileManager.default.fileExists(atPath: wav.path))
        let all = cases(model: model.path, wrongModel: wrongModel.path).map { c in
            Case(c.args.map { $0 == "speech.wav" ? wav.path : $0 }, c.needle)
        }
        // Two at a time: each run is mostly process start-up.
        var results = [(status: Int32, signalled: Bool, stderr: String, left: [String])?](repeating: nil, count: all.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: all.count) { i in
            let r: (Int32, Bool, String, [String])
            do {
                let dir = try temporaryDirectory("bad\(i)")
                defer { try? FileManager.default.removeItem(at: dir) }
                let run = try tgdmProcess(all[i].args, in: dir)
                let left = FileManager.default.enumerator(atPath: dir.path)?.allObjects.compactMap { $0 as? String } ?? []
                r = (run.status, run.signalled, run.stderr, left)
            } catch {
                r = (-1, false, "test harness: \(error)", [])
            }
            lock.lock(); results[i] = r; lock.unlock()
        }
        for (c, r) in zip(all, results) {
            let r = try XCTUnwrap(r)
            let line = c.args.joined(separator: " ")
            XCTAssertFalse(r.signalled, "\(line): killed by a signal: \(r.stderr)")
            XCTAssertNotEqual(r.status, 0, "\(line): succeeded")
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(errors.count, 1, "\(line): \(r.stderr)")
            if let needle = c.needle { XCTAssertTrue(r.stderr.contains(needle), "\(line): expected '\(needle)' in: \(r.stderr)") }
            XCTAssertEqual(r.left, [], "\(line): left \(r.left) behind")
        }
    }
}
