import ArgumentParser
import Benchmarks
import Foundation
import Torch

public struct TGDMCommand: ParsableCommand {
    public init() {}

    /// Entry point of the executable (see `Torch.ensurePassiveWaitPolicy` for the re-execution).
    public static func launch() -> Never {
        Torch.ensurePassiveWaitPolicy()
        DistributedBenchmark.runWorkerIfRequested()   // a rank of `tgdm bench distributed`: measures and exits
        setvbuf(stdout, nil, _IOLBF, 0)   // line-buffered even into a log file, so progress shows as it happens
        do {
            var command = try parseAsRoot()
            try command.run()
            Self.exit()
        } catch {
            reportAndExit(error)
        }
    }

    /// Help and version go to stdout as ArgumentParser prints them; every other failure is one `error:` line on
    /// stderr (usage hints may follow) and a non-zero exit, like the errors `runReportingErrors` reports.
    static func reportAndExit(_ error: Error) -> Never {
        let code = exitCode(for: error)
        guard code != .success else { Self.exit(withError: error) }
        var text = fullMessage(for: error)
        if text.hasPrefix("Error: ") { text = "error: " + text.dropFirst("Error: ".count) }
        if !text.isEmpty, !text.hasPrefix("error: ") { text = "error: " + text }
        if !text.isEmpty { FileHandle.standardError.write(Data((text + "\n").utf8)) }
        Foundation.exit(code.rawValue)
    }

    public static let configuration = CommandConfiguration(
        commandName: "tgdm",
        abstract: "Multimodal-driven talking faces with the Texture-Geometry-aware Diffusion Model.",
        discussion: """
        A source portrait is animated by a driving image, a driving video, or speech audio with a text
        emotion prompt and an intensity; faces can be swapped. Run `tgdm demo` for the whole pipeline on the
        bundled model and sample inputs.
        """,
        subcommands: [
            DemoCommand.self, ReenactCommand.self, VideoCommand.self, TalkCommand.self, SwapCommand.self, A2ECommand.self,
            RenderCommand.self, FaceGridCommand.self, DatasetCommand.self, TrainCommand.self, SampleCommand.self, EvalCommand.self,
            SpeakCommand.self, BenchCommand.self, InfoCommand.self, ServeCommand.self,
            AnalyzeCommand.self, DeriveCorrespondenceCommand.self,
        ]
    )
}

/// Options shared by commands that run networks.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Random seed (same seed, same output).")
    var seed: UInt64 = 0

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    /// Threads, the global seed, and Ctrl-C handling (long commands stop cleanly at their next step).
    func apply() throws {
        if let t = threads, !(1...1024).contains(t) { throw ValidationError("--threads must be in 1...1024") }
        Torch.configureThreads(threads)
        Torch.manualSeed(seed)
        installStopHandler()
    }
}

/// Set by SIGINT/SIGTERM so a long loop can stop after its step (training writes a checkpoint first).
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

func installStopHandler() {
    signal(SIGINT) { _ in stopRequested = 1 }
    signal(SIGTERM) { _ in stopRequested = 1 }
}

/// Thrown by a command to print one `error:` line and exit non-zero.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Turns any thrown error into a one-line message and a non-zero exit, never a crash dump.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as CleanExit {
        throw e
    } catch {
        let message = "\(error)".split(separator: "\n").joined(separator: " ")
        // A rank of a data-parallel run says which one it is.
        let rank = (try? DistributedEnvironment.detect())??.rank
        FileHandle.standardError.write(Data("error: \(rank.map { "[rank \($0)] " } ?? "")\(message)\n".utf8))
        throw ExitCode.failure
    }
}

func outputURL(_ path: String) -> URL { URL(fileURLWithPath: path) }

/// Refuses an output name whose extension the writer cannot produce, before any work is done.
func requireExtension(_ path: String, _ allowed: [String], _ what: String) throws {
    guard allowed.contains(URL(fileURLWithPath: path).pathExtension.lowercased()) else {
        throw ValidationError("\(path): \(what) (use a .\(allowed.joined(separator: ", .")) name)")
    }
}
func inputURL(_ path: String) throws -> URL {
    let u = URL(fileURLWithPath: path)
    guard FileManager.default.fileExists(atPath: u.path) else { throw CommandError("no such file: \(path)") }
    return u
}
