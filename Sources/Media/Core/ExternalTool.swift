import Foundation

/// Finds and runs command-line tools (ffmpeg, ffprobe, espeak-ng) with clear errors.
enum ExternalTool {
    /// The absolute path of `name` on $PATH (or in the usual system folders), or nil.
    static func locate(_ name: String) -> String? {
        let env = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = env.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin"]
        for d in dirs {
            let p = (d as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func require(_ name: String) throws -> String {
        guard let p = locate(name) else {
            throw MediaError.toolMissing("'\(name)' was not found on PATH (install it, e.g. apt-get install \(packageHint(name)))")
        }
        return p
    }

    static func packageHint(_ name: String) -> String {
        switch name {
        case "ffmpeg", "ffprobe": return "ffmpeg"
        case "espeak-ng": return "espeak-ng"
        default: return name
        }
    }

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
    }

    /// Starts `tool` with piped stdout and stderr (stdin from `stdin`, else /dev/null); stderr is read into the
    /// returned box on a background queue of the returned group, so the child can never stall on it.
    private static func launch(_ tool: String, _ arguments: [String], stdin: Pipe?) throws -> (Process, Pipe, DispatchGroup, DataBox) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try require(tool))
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw MediaError.toolFailed("cannot start \(tool): \(error.localizedDescription)")
        }
        let group = DispatchGroup()
        let errData = DataBox()
        DispatchQueue.global().async(group: group) { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
        return (process, out, group, errData)
    }

    /// Runs `tool` to completion, collecting stdout and stderr concurrently (so neither pipe can fill up
    /// and stall the child). Does not throw on a non-zero exit status; see `runChecked`.
    static func run(_ tool: String, _ arguments: [String], stdin input: Data? = nil) throws -> Result {
        let inPipe: Pipe? = input == nil ? nil : Pipe()
        let (process, out, group, errData) = try launch(tool, arguments, stdin: inPipe)
        if let input, let inPipe {
            DispatchQueue.global().async(group: group) {
                inPipe.fileHandleForWriting.writeIgnoringBrokenPipe(input)
                try? inPipe.fileHandleForWriting.close()
            }
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: outData,
                      stderr: String(decoding: errData.data, as: UTF8.self))
    }

    /// Runs `tool`, handing its stdout to `body` in pieces of at most `chunkBytes` as they arrive (stderr is
    /// collected concurrently). If `body` throws, the tool is terminated and the error rethrown. The result's
    /// `stdout` is empty.
    static func stream(_ tool: String, _ arguments: [String], chunkBytes: Int, _ body: (Data) throws -> Void) throws -> Result {
        let (process, out, group, errData) = try launch(tool, arguments, stdin: nil)
        let reader = out.fileHandleForReading
        do {
            while let piece = try reader.read(upToCount: chunkBytes), !piece.isEmpty { try body(piece) }
        } catch {
            if process.isRunning { process.terminate() }
            try? reader.close()
            group.wait()
            process.waitUntilExit()
            throw error
        }
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: Data(), stderr: String(decoding: errData.data, as: UTF8.self))
    }

    /// Runs `tool` and throws `toolFailed` (with the tail of stderr) on a non-zero exit status.
    static func runChecked(_ tool: String, _ arguments: [String], stdin: Data? = nil) throws -> Result {
        let r = try run(tool, arguments, stdin: stdin)
        guard r.status == 0 else {
            throw MediaError.toolFailed("\(tool) exited with status \(r.status): \(tail(r.stderr))")
        }
        return r
    }

    /// The last few lines of a tool's stderr, for error messages.
    static func tail(_ text: String, lines: Int = 4) -> String {
        let parts = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines)
        return parts.joined(separator: " | ")
    }
}

/// Holds bytes filled in by a background reader; read only after the group has been waited on.
final class DataBox: @unchecked Sendable {
    var data = Data()
}

extension FileHandle {
    /// Writes all of `data`, returning false instead of raising SIGPIPE/throwing when the reader has gone.
    @discardableResult
    func writeIgnoringBrokenPipe(_ data: Data) -> Bool {
        IgnoreSIGPIPE.once
        do {
            try write(contentsOf: data)
            return true
        } catch {
            return false
        }
    }
}

/// A child that exits early (ffmpeg rejecting its input) must not kill us with SIGPIPE.
enum IgnoreSIGPIPE {
    static let once: Void = { signal(SIGPIPE, SIG_IGN) }()
}
