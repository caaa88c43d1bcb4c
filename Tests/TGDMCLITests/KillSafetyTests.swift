import Foundation
@testable import Torch
import XCTest

/// Commands killed with SIGKILL (no chance to clean up) never leave a truncated file under an output's final
/// name: every writer goes to a temporary sibling and renames it when complete. A killed training run
/// resumes from its last checkpoint to exactly the parameters of an uninterrupted run.
final class KillSafetyTests: XCTestCase {
    func files(in dir: URL) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] }

    /// The hidden temporaries beside `name` (`.NAME.tmp-PID-UUID…`, `AtomicFile`).
    func temporaries(of name: String, in dir: URL) -> [String] { files(in: dir).filter { $0.hasPrefix(".\(name).tmp-") } }

    /// Kills `tgdm video` twice while its encoder writes — once its temporary exists, and once it has reported
    /// frames — then runs the same command to the end: the killed runs never leave `v.mp4`, their temporaries (which
    /// the orphaned ffmpeg completes, 155 kB in the issue) are there until the next run into the folder removes
    /// them, and that run's video is complete.
    func testKilledVideoLeavesNoTruncatedMP4AndTheNextRunRemovesItsTemporaries() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelFile(in: dir)
        let out = dir.appendingPathComponent("v.mp4")
        let video = ["video", "--model", model.path, "--source", samples.appendingPathComponent("source.png").path,
                     "--driving", samples.appendingPathComponent("driving_video.mp4").path, "--size", "32", "--crop-only", "--batch", "2",
                     "-o", out.path]
        let moments: [(String, (ChildProcess) -> Bool)] = [
            ("the encoder's temporary file", { [self] p in temporaries(of: "v.mp4", in: dir).contains { $0.contains("-\(p.pid)-") } }),
            ("a progress line of frames generated", { p in
                p.stderr.split(separator: "\n").contains { $0.hasPrefix("frames [") && !$0.contains("] 0/") } }),
        ]
        var previous: String?
        for (moment, reached) in moments {
            let p = try startTGDM(video, in: dir)
            try p.waitUntil(moment) { reached(p) }
            XCTAssertTrue(p.kill9(), "tgdm video exited before the kill at \(moment)")
            // ffmpeg, orphaned, sees its input close and finishes the temporary; the final name must not appear.
            let temporary = ".v.mp4.tmp-\(p.pid)-"
            let end = Date().addingTimeInterval(120)   // a safety net only
            while !processes(mentioning: temporary).isEmpty && Date() < end { usleep(2_000) }
            XCTAssertTrue(processes(mentioning: temporary).isEmpty, "the orphaned ffmpeg of \(temporary) is still running")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "a killed run left \(out.lastPathComponent) (killed at \(moment))")
            let left = temporaries(of: "v.mp4", in: dir)
            print("killed at \(moment); left: \(left.map { "\($0) (\(fileSize(dir.appendingPathComponent($0))) bytes)" })")
            XCTAssertEqual(left.filter { $0.hasPrefix(temporary) }.count, 1, "the killed run's temporary is not there: \(left)")
            // The run killed here started after the previous kill: it removed that run's temporary.
            if let previous { XCTAssertFalse(left.contains { $0.hasPrefix(previous) }, "\(previous)… survived the next run") }
            previous = temporary
        }

        // The same output, run to the end: the video is complete and no temporary is left beside it.
        let r = try tgdmProcess(video + ["--max-frames", "4"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try videoFrameCount(out), 4)
        XCTAssertEqual(temporaries(of: "v.mp4", in: dir), [], "stale temporaries survived the next run")
    }

    /// A temporary is removed only when the process named in it is gone: a concurrent run's (here: this live
    /// process's) stays, as do names that are not `AtomicFile`'s. Unowned names of earlier versions go when they
    /// are older than the current run.
    func testOnlyTemporariesOfProcessesThatAreGoneAreRemoved() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pidMax = try XCTUnwrap(pid_t(String(decoding: try XCTUnwrap(FileManager.default.contents(atPath: "/proc/sys/kernel/pid_max")),
                                                as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        let gone = pidMax + 1   // no process can have an id above pid_max
        let id = UUID().uuidString, start = Date()
        let cases: [(name: String, modified: Date, stale: Bool)] = [
            (".v.mp4.tmp-\(gone)-\(id).mp4", start, true),
            (".coeffs.json.tmp-\(gone)-\(id)", start, true),
            (".v.mp4.tmp-\(getpid())-\(id).mp4", start.addingTimeInterval(-3600), false),   // a live writer, however old
            (".v.mp4.tmp-1-\(id)", start, false),
            (".v.\(id).tmp.mp4", start.addingTimeInterval(-3600), true),     // an earlier version's, from before this run
            (".s.wav.\(id).tmp.wav", start.addingTimeInterval(3600), false),  // an earlier version's, written during this run
            ("v.mp4.tmp-\(gone)-\(id)", start, false),
            (".v.mp4.tmp-\(gone)-not-a-uuid", start, false),
            (".v.mp4.tmp-\(gone)-\(id).mp4~", start, false),
            ("v.mp4", start, false),
        ]
        for c in cases {
            let url = dir.appendingPathComponent(c.name)
            try Data("x".utf8).write(to: url)
            try FileManager.default.setAttributes([.modificationDate: c.modified], ofItemAtPath: url.path)
        }
        let removed = AtomicFile.removeStaleTemporaries(in: dir, startedAt: start)
        XCTAssertEqual(Set(removed), Set(cases.filter { $0.stale }.map { $0.name }))
        XCTAssertEqual(Set(files(in: dir)), Set(cases.filter { !$0.stale }.map { $0.name }))
        XCTAssertEqual(AtomicFile.owner(ofTemporary: AtomicFile.temporarySibling(of: dir.appendingPathComponent("a.b.png"), suffix: ".png").lastPathComponent),
                       getpid())
    }

    func testKilledDatasetAndTrainingLeaveCompleteFilesAndResumeExactly() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("synth32.safetensors")
        let synth = ["dataset", "synth", "--size", "32", "--identities", "3", "--frames", "2", "--test-identities", "1", "-o", data.path]
        // A dataset killed while it renders (it has reported its first identity): no file, or a complete one.
        let early = try startTGDM(synth, in: dir)
        try early.waitUntil("a synth progress line") { early.stderr.contains("synth [") }
        early.kill9()
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
        try p.waitUntil("the first checkpoint") { FileManager.default.fileExists(atPath: checkpoint.path) }
        XCTAssertTrue(p.kill9(), "training finished before it could be killed")
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
