import Foundation
import Torch
import XCTest

/// Commands killed with SIGKILL (no chance to clean up) never leave a truncated file under an output's final
/// name: every writer goes to a temporary sibling and renames it when complete. A killed training run
/// resumes from its last checkpoint to exactly the parameters of an uninterrupted run.
final class KillSafetyTests: XCTestCase {
    /// Polls `condition` every 20 ms for up to `seconds`.
    func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    func files(in dir: URL) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] }

    func kill9(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the process had already exited before the kill")
    }

    func testKilledVideoLeavesNoTruncatedMP4() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir)
        let out = dir.appendingPathComponent("v.mp4")
        // Kill while the encoder is writing: as soon as its temporary file exists, and once more a little later.
        for delay in [0.0, 0.4] {
            let p = try startTGDM(["video", "--model", model.path, "--source", samples.appendingPathComponent("source.png").path,
                                   "--driving", samples.appendingPathComponent("driving_video.mp4").path,
                                   "--size", "32", "--crop-only", "--batch", "2", "-o", out.path], in: dir)
            let started = waitFor(60) { files(in: dir).contains { $0.hasPrefix(".v.") && $0.hasSuffix(".tmp.mp4") } || !p.isRunning }
            XCTAssertTrue(started && p.isRunning, "the encoder never started: \(files(in: dir))")
            usleep(useconds_t(delay * 1e6))
            kill9(p)
            // ffmpeg sees its input close and exits; whatever it does, the final name must not appear.
            _ = waitFor(2) { false }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "a killed run left \(out.lastPathComponent) (delay \(delay) s)")
        }
        // The same command run to the end writes the video under its name.
        let r = try tgdmProcess(["video", "--model", model.path, "--source", samples.appendingPathComponent("source.png").path,
                                 "--driving", samples.appendingPathComponent("driving_video.mp4").path, "--max-frames", "4",
                                 "--size", "32", "--crop-only", "-o", out.path], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.path))
    }

    func testKilledDatasetAndTrainingLeaveCompleteFilesAndResumeExactly() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("synth32.safetensors")
        let synth = ["dataset", "synth", "--size", "32", "--identities", "3", "--frames", "2", "--test-identities", "1", "-o", data.path]
        // A dataset killed while it renders: no file, or a complete one.
        let early = try startTGDM(synth, in: dir)
        usleep(700_000)
        if early.isRunning { kill9(early) } else { early.waitUntilExit() }
        if FileManager.default.fileExists(atPath: data.path) { XCTAssertNoThrow(try Safetensors.load(data)) }
        XCTAssertEqual(try tgdmProcess(synth, in: dir).status, 0)

        func train(_ out: URL) -> [String] {
            ["train", "tgdm", "--data", data.path, "--preset", "tiny32", "--batch", "2", "--steps", "4", "--log-every", "1",
             "--checkpoint-every", "1", "--artifact-every", "0", "--preview-steps", "2", "--seed", "5", "--out", out.path]
        }
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        var r = try tgdmProcess(train(reference), in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)

        // Kill the second run right after its first checkpoint lands (mid-step or mid-write of the next one).
        let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
        let p = try startTGDM(train(run), in: dir)
        XCTAssertTrue(waitFor(120) { FileManager.default.fileExists(atPath: checkpoint.path) || !p.isRunning })
        XCTAssertTrue(p.isRunning, "training finished before it could be killed")
        kill9(p)
        let killedAt = try XCTUnwrap(Safetensors.load(checkpoint).tensors["trainer.step"]).toArray(Int64.self)[0]
        print("killed after checkpoint of step \(killedAt); left in the run folder: \(files(in: run))")
        XCTAssertLessThan(killedAt, 4)

        r = try tgdmProcess(train(run), in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming"), r.stdout)
        let a = try Safetensors.load(reference.appendingPathComponent("checkpoint.safetensors"))
        let b = try Safetensors.load(checkpoint)
        XCTAssertEqual(a.tensors.keys.sorted(), b.tensors.keys.sorted())
        XCTAssertEqual(a.metadata, b.metadata)
        for (name, t) in a.tensors {
            let x = try t.toArray(Double.self), y = try XCTUnwrap(b.tensors[name]).toArray(Double.self)
            // Bit-identical, NaN (an image loss not yet switched on) matching NaN.
            XCTAssertTrue(zip(x, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } && x.count == y.count,
                          "\(name) differs after resuming from step \(killedAt)")
        }
    }
}
