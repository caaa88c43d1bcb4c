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

/// Runs `tgdm args` in `dir` to completion, reading stdout and stderr concurrently (neither pipe can fill up).
func tgdmProcess(_ args: [String], in dir: URL, environment extra: [String: String] = [:]) throws -> ProcessResult {
    let p = try startTGDM(args, in: dir, environment: extra)
    final class Box: @unchecked Sendable { var data = Data() }
    let group = DispatchGroup(), err = Box()
    let errPipe = p.standardError as! Pipe, outPipe = p.standardOutput as! Pipe
    DispatchQueue.global().async(group: group) { err.data = errPipe.fileHandleForReading.readDataToEndOfFile() }
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                         stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err.data, as: UTF8.self))
}

/// Starts `tgdm args` in `dir` with pipes for stdout and stderr (one libtorch thread, like the other CLI tests).
func startTGDM(_ args: [String], in dir: URL, environment extra: [String: String] = [:]) throws -> Process {
    let p = Process()
    p.executableURL = try tgdmExecutable()
    p.arguments = args
    p.currentDirectoryURL = dir
    var env = ProcessInfo.processInfo.environment
    env["OMP_NUM_THREADS"] = "1"
    env["OMP_WAIT_POLICY"] = env["OMP_WAIT_POLICY"] ?? "PASSIVE"
    for (k, v) in extra { env[k] = v }
    p.environment = env
    p.standardOutput = Pipe()
    p.standardError = Pipe()
    try p.run()
    return p
}
