import Foundation
import XCTest

/// The built `tgdm` next to the test bundle (a missing one skips, or fails under TGDM_CI=1).
func tgdmExecutable() throws -> URL {
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tgdm")
    try requireOrSkip(FileManager.default.fileExists(atPath: exe.path), "build the tgdm product first (swift build)")
    return exe
}

struct ProcessResult {
    var status: Int32
    /// Ended by a signal (a crash, or a kill) rather than by exiting.
    var signalled: Bool
    var stdout: String
    var stderr: String
}

/// A child process whose stdout and stderr are drained by two threads as the bytes arrive, so neither pipe can
/// fill up: reading one to its end before the other deadlocks once the child writes more than a pipe buffer
/// (64 KB) to the other. Tests wait on what it prints (`waitUntil`) instead of sleeping.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let command: String
    private let lock = NSLock()
    private var out = Data(), err = Data()
    private let drained = DispatchGroup()

    init(_ executable: URL, _ args: [String], in dir: URL? = nil, environment extra: [String: String] = [:]) throws {
        command = ([executable.lastPathComponent] + args).joined(separator: " ")
        process.executableURL = executable
        process.arguments = args
        if let dir { process.currentDirectoryURL = dir }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        drain(outPipe.fileHandleForReading) { $0.out.append($1) }
        drain(errPipe.fileHandleForReading) { $0.err.append($1) }
    }

    /// Appends what arrives as it arrives (POSIX read returns what the pipe holds; FileHandle.read(upToCount:)
    /// waits for the whole count, which would hide progress lines until the end).
    private func drain(_ handle: FileHandle, into append: @escaping @Sendable (ChildProcess, Data) -> Void) {
        drained.enter()
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let chunk = Data(buffer[0..<n])
                lock.lock(); append(self, chunk); lock.unlock()
            }
            drained.leave()
        }.start()
    }

    var pid: pid_t { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }

    /// Waits until `condition` holds, polling every 2 ms. Throws when the process exits first (after one last look)
    /// or, as a safety net only, after `deadline` seconds.
    func waitUntil(_ what: String, deadline: Double = 600, _ condition: () -> Bool) throws {
        let end = Date().addingTimeInterval(deadline)
        while !condition() {
            if !isRunning {
                process.waitUntilExit()
                if condition() { return }
                throw ChildProcessError("\(command) exited (status \(process.terminationStatus)) before \(what); stderr: \(stderr.suffix(2000))")
            }
            if Date() > end { throw ChildProcessError("no \(what) from \(command) within \(Int(deadline)) s; stderr: \(stderr.suffix(2000))") }
            usleep(2_000)
        }
    }

    /// SIGKILL (no chance to clean up) and reap; false when it had already exited.
    @discardableResult
    func kill9() -> Bool {
        kill(pid, SIGKILL)
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }

    /// Waits for the exit and the end of both pipes. A child still running after `deadline` seconds (a safety
    /// net, not a pass criterion) is killed and reported.
    func finish(deadline: Double = 1200) throws -> ProcessResult {
        let done = DispatchSemaphore(value: 0)
        Thread { [self] in
            process.waitUntilExit()
            drained.wait()
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + deadline) == .success else {
            kill(pid, SIGKILL)
            throw ChildProcessError("\(command) did not finish within \(Int(deadline)) s (blocked on a full pipe?)")
        }
        return ProcessResult(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                             stdout: stdout, stderr: stderr)
    }
}

struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `tgdm args` in `dir` to completion.
func tgdmProcess(_ args: [String], in dir: URL, environment extra: [String: String] = [:]) throws -> ProcessResult {
    try startTGDM(args, in: dir, environment: extra).finish()
}

/// Starts `tgdm args` in `dir` (one libtorch thread, like the other CLI tests).
func startTGDM(_ args: [String], in dir: URL, environment extra: [String: String] = [:]) throws -> ChildProcess {
    var env = ["OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] ?? "PASSIVE"]
    for (k, v) in extra { env[k] = v }
    return try ChildProcess(try tgdmExecutable(), args, in: dir, environment: env)
}

/// Runs an external tool (ffmpeg, ffprobe) to completion; a failure throws with its stderr.
@discardableResult
func runTool(_ name: String, _ args: [String]) throws -> String {
    let r = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [name] + args).finish()
    guard r.status == 0 else { throw ChildProcessError("\(name) \(args.joined(separator: " ")) failed (\(r.status)): \(r.stderr)") }
    return r.stdout
}

/// Processes whose command line mentions `text` (e.g. an ffmpeg orphaned by a killed tgdm, by its output path).
func processes(mentioning text: String) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry in
        guard let pid = pid_t(entry), let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
        return String(decoding: cmdline, as: UTF8.self).contains(text) ? pid : nil
    }
}
