import Diffusion
import FaceModel
import Foundation
import Media
import TGDMModel
import Torch

/// Peak resident memory (the child's own `ru_maxrss` from wait4) of whole `tgdm a2e`, `tgdm talk` and
/// `tgdm video` runs against the length of their input, to show memory stays bounded on long inputs. Inputs
/// are the bundled sample speech and driving video looped with ffmpeg to each length; `talk` and `video` use a
/// tiny random TGDM (16², 3 DDIM steps) so a 60-minute input takes minutes, not hours. The ffmpeg children's
/// memory is not included (it does not depend on the input length).
///
/// `tgdm bench memory` measures 1 and 10 minutes; TGDM_MEMORY_MINUTES="1,10,60" and
/// TGDM_MEMORY_COMMANDS="a2e,talk,video" choose others.
public enum MemoryBenchmark {
    public enum Command: String, CaseIterable, Sendable { case a2e, talk, video }

    public struct Config: Sendable {
        public var minutes: [Double] = [1, 10]
        public var commands: [Command] = Command.allCases
        public init() {}
        public static let quick: Config = { var c = Config(); c.minutes = [0.05]; return c }()

        /// The defaults with TGDM_MEMORY_MINUTES / TGDM_MEMORY_COMMANDS applied.
        public static func fromEnvironment(_ base: Config = Config()) throws -> Config {
            var c = base
            let env = ProcessInfo.processInfo.environment
            if let m = env["TGDM_MEMORY_MINUTES"] {
                c.minutes = try m.split(separator: ",").map {
                    guard let v = Double($0.trimmingCharacters(in: .whitespaces)), v > 0, v <= 600 else {
                        throw MediaError.invalidArgument("TGDM_MEMORY_MINUTES: '\($0)' is not a length in (0, 600] minutes")
                    }
                    return v
                }
            }
            if let cs = env["TGDM_MEMORY_COMMANDS"] {
                c.commands = try cs.split(separator: ",").map {
                    guard let cmd = Command(rawValue: $0.trimmingCharacters(in: .whitespaces)) else {
                        throw MediaError.invalidArgument("TGDM_MEMORY_COMMANDS: unknown command '\($0)' (a2e, talk, video)")
                    }
                    return cmd
                }
            }
            return c
        }
    }

    /// One measured run.
    public struct Measurement: Sendable {
        public var command: Command
        public var minutes: Double
        public var frames: Int
        public var peakMB: Double
        public var seconds: Double
    }

    public static func run(config: Config, log: (String) -> Void) throws {
        let tgdm = try executable()
        let samples = try PipelineBenchmark.samplesFolder()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModel(in: dir)
        let speech = dir.appendingPathComponent("speech.wav")
        _ = try SpeechSynthesizer.synthesize("Hello there! This is a long test of a talking face, read again and again.", to: speech)
        let sidecar = try Coefficients.load(from: samples.appendingPathComponent("driving_video.coeffs.json"))
        log("memory benchmark: \(tgdm.path); peak RSS of the tgdm process (wait4 ru_maxrss), ffmpeg children excluded")
        log("| command | input | frames | peak RSS (MB) | wall (s) |")
        log("|---|---|---|---|---|")
        var results: [Measurement] = []
        for minutes in config.minutes {
            let seconds = minutes * 60
            let frames = Int((seconds * 25).rounded(.up))
            let audio = dir.appendingPathComponent("audio-\(minutes).wav")
            let video = dir.appendingPathComponent("video-\(minutes).mp4")
            let coeffs = dir.appendingPathComponent("video-\(minutes).coeffs.safetensors")
            if config.commands.contains(where: { $0 != .video }) {
                try ffmpeg(["-stream_loop", "-1", "-i", speech.path, "-t", String(seconds), "-ar", "16000", "-ac", "1", audio.path])
            }
            if config.commands.contains(.video) {
                try ffmpeg(["-stream_loop", "-1", "-i", samples.appendingPathComponent("driving_video.mp4").path, "-t", String(seconds),
                            "-c", "copy", "-an", video.path])
                // One row of coefficients per frame: the sidecar's rows repeated (the loop repeats its frames; a
                // stream copy may end a few frames after the requested time, hence the spare rows).
                let rows = try (0..<(frames + 250)).map { try sidecar.frame($0 % sidecar.batch).tensor }
                try Coefficients(Tensor.cat(rows, dim: 0)).save(to: coeffs)
            }
            for command in config.commands {
                let out = dir.appendingPathComponent("out-\(command.rawValue)-\(minutes)")
                let args: [String]
                switch command {
                case .a2e:
                    args = ["a2e", "--audio", audio.path, "-o", out.appendingPathExtension("json").path]
                case .talk:
                    args = ["talk", "--model", model.path, "--source", samples.appendingPathComponent("source.png").path, "--audio", audio.path,
                            "--size", "16", "--crop-only", "--threads", "1", "-o", out.appendingPathExtension("mp4").path]
                case .video:
                    args = ["video", "--model", model.path, "--source", samples.appendingPathComponent("source.png").path, "--driving", video.path,
                            "--driving-coeffs", coeffs.path, "--size", "16", "--crop-only", "--threads", "1",
                            "-o", out.appendingPathExtension("mp4").path]
                }
                let r = try measure(tgdm, args)
                guard r.status == 0 else {
                    throw MediaError.toolFailed("tgdm \(command.rawValue) on \(minutes) min failed (status \(r.status)): \(r.stderrTail)")
                }
                let m = Measurement(command: command, minutes: minutes, frames: frames, peakMB: r.peakMB, seconds: r.seconds)
                results.append(m)
                log(String(format: "| %@ | %@ min | %d | %.0f | %.0f |", command.rawValue, formatMinutes(minutes), frames, m.peakMB, m.seconds))
                for ext in ["json", "mp4"] { try? FileManager.default.removeItem(at: out.appendingPathExtension(ext)) }
            }
            for f in [audio, video, coeffs] { try? FileManager.default.removeItem(at: f) }
        }
        for command in config.commands {
            let rows = results.filter { $0.command == command }.sorted { $0.minutes < $1.minutes }
            guard let first = rows.first, let last = rows.last, last.minutes > first.minutes else { continue }
            log(String(format: "%@: %.1f MB more per minute of input (%@ → %@ min)", command.rawValue,
                       (last.peakMB - first.peakMB) / (last.minutes - first.minutes), formatMinutes(first.minutes), formatMinutes(last.minutes)))
        }
    }

    static func formatMinutes(_ m: Double) -> String { m == m.rounded() ? String(Int(m)) : String(format: "%.2f", m) }

    /// The `tgdm` executable: this process when it is tgdm, else the one next to it (tgdm-bench, tests).
    static func executable() throws -> URL {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if me.lastPathComponent == "tgdm" { return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }
        let sibling = me.deletingLastPathComponent().appendingPathComponent("tgdm")
        guard FileManager.default.isExecutableFile(atPath: sibling.path) else {
            throw MediaError.fileNotFound("the tgdm executable next to \(me.path) (build it: swift build --product tgdm)")
        }
        return sibling
    }

    /// A tiny random TGDM (16², 3 DDIM steps): the generator's cost does not hide the pipeline's memory.
    static func tinyModel(in dir: URL) throws -> URL {
        let config = TGDMConfig(imageSize: 16, baseChannels: 8, channelMultipliers: [1, 2], blocksPerStage: 1, texAttFactors: [2],
                                textureEncoderBlocks: 1, coefficientDim: Coefficients.count, normGroups: 4, temporalRadius: 1)
        let bundle = TGDMModelBundle(model: try TGDMUNet(config: config, generator: Generator(seed: 1)), schedule: try NoiseSchedule(.paper),
                                     defaultSampler: SamplerConfiguration(kind: .ddim, steps: 3, eta: 1))
        let url = dir.appendingPathComponent("tiny.safetensors")
        try bundle.save(to: url)
        return url
    }

    static func ffmpeg(_ args: [String]) throws {
        let path = ((ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/local/bin").split(separator: ":")
            .map { "\($0)/ffmpeg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { throw MediaError.toolMissing("ffmpeg is not installed") }
        let r = try measure(URL(fileURLWithPath: path), ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + args)
        guard r.status == 0 else { throw MediaError.toolFailed("ffmpeg \(args.joined(separator: " ")): \(r.stderrTail)") }
    }

    struct RunResult {
        var status: Int32
        var peakMB: Double
        var seconds: Double
        var stderrTail: String
    }

    /// Runs `exe args` (absolute paths; stdout discarded, stderr to a file) and returns its exit status, wall time
    /// and peak resident set size from wait4's rusage (Linux reports ru_maxrss in KB).
    static func measure(_ exe: URL, _ args: [String]) throws -> RunResult {
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-memory-stderr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: errFile) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var env = ProcessInfo.processInfo.environment
        env["OMP_WAIT_POLICY"] = env["OMP_WAIT_POLICY"] ?? "PASSIVE"
        let argv = ([exe.path] + args).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let start = Date()
        let rc = posix_spawn(&pid, exe.path, &actions, nil, argv, envp)
        guard rc == 0 else { throw MediaError.toolFailed("cannot start \(exe.path): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw MediaError.toolFailed("wait4 failed: \(String(cString: strerror(errno)))") }
        }
        let seconds = Date().timeIntervalSince(start)
        let exited = status & 0x7f == 0
        let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
        let tail = err.split(separator: "\n").suffix(3).joined(separator: " | ")
        return RunResult(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), peakMB: Double(usage.ru_maxrss) / 1024,
                         seconds: seconds, stderrTail: tail)
    }
}
