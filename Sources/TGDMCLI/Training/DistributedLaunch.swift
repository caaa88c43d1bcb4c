import ArgumentParser
import Foundation
import Torch

/// `--nproc` and `--device` of the training commands, and how a training process finds its place in a
/// data-parallel run: launched with `--nproc N` it re-executes itself as N local ranks and waits; launched
/// by torchrun/Slurm/Kubernetes (WORLD_SIZE etc. in the environment) it joins that group.
struct DistributedOptions: ParsableArguments {
    @Option(help: "Train with N local processes (data parallel: --batch is the global batch, split over them). For several machines launch with torchrun or Slurm instead (docs/TRAINING.md).")
    var nproc: Int = 1

    @Option(help: "cpu or cuda (cuda needs a libtorch with CUDA, see docs/TRAINING.md; each rank uses cuda:LOCAL_RANK).")
    var device: String = "cpu"

    func validate() throws {
        guard (1...256).contains(nproc) else { throw ValidationError("--nproc must be in 1...256") }
        guard device == "cpu" || device == "cuda" || device.hasPrefix("cuda:") else { throw ValidationError("--device must be cpu or cuda") }
    }

    /// When `--nproc` > 1 in a process that is not yet a rank: runs N copies of this command as the ranks
    /// of a local group (each with its share of the cores unless --threads is given), waits, and returns
    /// true (the command is done). Returns false when this process should train itself.
    func launchLocalRanksIfRequested(threads: Int?) throws -> Bool {
        let inGroup = try DistributedEnvironment.detect() != nil
        guard nproc > 1 else { return false }
        guard !inGroup else {
            throw CommandError("--nproc \(nproc) cannot be used inside a run that was already launched as ranks (WORLD_SIZE is set); drop --nproc")
        }
        var args = Array(CommandLine.arguments.dropFirst())
        if let i = args.firstIndex(of: "--nproc"), i + 1 < args.count { args.removeSubrange(i...(i + 1)) }
        args.removeAll { $0.hasPrefix("--nproc=") }
        if threads == nil { args += ["--threads", String(max(1, ProcessInfo.processInfo.activeProcessorCount / nproc))] }
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        print("launching \(nproc) local processes (ranks 0-\(nproc - 1)); rank 0 logs")
        do {
            try LocalLauncher.run(executable: exe, processes: nproc, arguments: { _ in args })
        } catch let e as TorchError {
            throw CommandError("data-parallel training failed: \(e.message)")
        }
        return true
    }

    /// The device of this rank.
    func trainingDevice(localRank: Int) throws -> Device {
        var d = try Device(parsing: device)
        if device == "cuda" { d = .cuda(localRank) }
        try d.validate()
        return d
    }

    /// The process group this process was launched into, or nil for a single process.
    func joinGroup(device: Device) throws -> ProcessGroup? {
        guard let env = try DistributedEnvironment.detect() else { return nil }
        let g = try ProcessGroup(env, backend: .forTraining(on: device))
        return g
    }

    /// The local rank from the environment (0 for a single process), before joining.
    static var localRank: Int { (try? DistributedEnvironment.detect())??.localRank ?? 0 }
}
