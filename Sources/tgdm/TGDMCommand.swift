import ArgumentParser
import Foundation
import Pipelines

@main
struct TGDMCommand: ParsableCommand {
    /// libgomp reads OMP_WAIT_POLICY when it loads, before `main`: with the default (active) policy its
    /// threads spin and, on a small shared machine, a forward pass can be 30× slower. So the CLI re-executes
    /// itself once with the passive policy unless the user chose one.
    static func main() {
        if getenv("OMP_WAIT_POLICY") == nil {
            setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
            var args = CommandLine.arguments.map { strdup($0) }
            args.append(nil)
            execv("/proc/self/exe", &args)   // returns only on failure: carry on in this process
        }
        setvbuf(stdout, nil, _IOLBF, 0)   // line-buffered even into a log file, so progress shows as it happens
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            Self.exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
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
            SpeakCommand.self, BenchCommand.self, InfoCommand.self,
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

    func apply() {
        Torch.configureThreads(threads)
        Torch.manualSeed(seed)
    }
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
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

func outputURL(_ path: String) -> URL { URL(fileURLWithPath: path) }
