import Foundation

/// Where this process sits in a multi-process run, read from the environment the way `torchrun` sets it
/// (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK), so torchrun, Slurm or a Kubernetes
/// job (e.g. PyTorchJob, which sets the same variables) can launch the trainer.
///
/// Without WORLD_SIZE, a Slurm step with more than one task (SLURM_NTASKS, SLURM_PROCID, SLURM_LOCALID) is
/// recognised too; MASTER_ADDR must then name the first node and MASTER_PORT defaults to 29500.
public struct DistributedEnvironment: Sendable, Equatable {
    public var masterAddress: String
    public var masterPort: Int
    public var worldSize: Int
    public var rank: Int
    public var localRank: Int
    /// Bounds the rendezvous and every collective (TGDM_DIST_TIMEOUT, seconds; default 300).
    public var timeoutSeconds: Double
    /// Whether the launcher already serves the rendezvous store at the master address (torchrun's agent:
    /// TORCHELASTIC_USE_AGENT_STORE=True); otherwise rank 0 serves it.
    public var launcherHostsStore = false
    /// The launcher's restart attempt (TORCHELASTIC_RESTART_COUNT): the store keys of each attempt are separate.
    public var attempt = 0

    public static let defaultPort = 29500
    public static let defaultTimeoutSeconds = 300.0

    public init(masterAddress: String, masterPort: Int, worldSize: Int, rank: Int, localRank: Int? = nil,
                timeoutSeconds: Double = DistributedEnvironment.defaultTimeoutSeconds) throws {
        guard !masterAddress.isEmpty else { throw TorchError("distributed: MASTER_ADDR is empty") }
        guard (1...65535).contains(masterPort) else { throw TorchError("distributed: MASTER_PORT \(masterPort) is outside 1...65535") }
        guard worldSize >= 1, worldSize <= 65536 else { throw TorchError("distributed: WORLD_SIZE \(worldSize) is outside 1...65536") }
        guard rank >= 0, rank < worldSize else { throw TorchError("distributed: RANK \(rank) is outside 0..<\(worldSize)") }
        guard timeoutSeconds.isFinite, timeoutSeconds > 0, timeoutSeconds <= 86400 else {
            throw TorchError("distributed: timeout \(timeoutSeconds) s is outside (0, 86400]")
        }
        self.masterAddress = masterAddress
        self.masterPort = masterPort
        self.worldSize = worldSize
        self.rank = rank
        self.localRank = localRank ?? rank
        self.timeoutSeconds = timeoutSeconds
    }

    /// The environment of this process, or nil when it was not launched as one of several processes
    /// (no WORLD_SIZE, or WORLD_SIZE = 1, and no multi-task Slurm step).
    public static func detect(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> DistributedEnvironment? {
        func int(_ key: String) throws -> Int? {
            guard let s = env[key], !s.isEmpty else { return nil }
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw TorchError("distributed: \(key)=\(s) is not an integer") }
            return v
        }
        var timeout = defaultTimeoutSeconds
        if let s = env["TGDM_DIST_TIMEOUT"], !s.isEmpty {
            guard let t = Double(s) else { throw TorchError("distributed: TGDM_DIST_TIMEOUT=\(s) is not a number of seconds") }
            timeout = t
        }
        if let world = try int("WORLD_SIZE") {
            guard world > 1 else { return nil }
            guard let rank = try int("RANK") else { throw TorchError("distributed: WORLD_SIZE is set but RANK is not") }
            guard let addr = env["MASTER_ADDR"], !addr.isEmpty else { throw TorchError("distributed: WORLD_SIZE is set but MASTER_ADDR is not") }
            guard let port = try int("MASTER_PORT") else { throw TorchError("distributed: WORLD_SIZE is set but MASTER_PORT is not") }
            var e = try DistributedEnvironment(masterAddress: addr, masterPort: port, worldSize: world, rank: rank,
                                               localRank: try int("LOCAL_RANK"), timeoutSeconds: timeout)
            e.launcherHostsStore = env["TORCHELASTIC_USE_AGENT_STORE"]?.lowercased() == "true"
            e.attempt = try int("TORCHELASTIC_RESTART_COUNT") ?? 0
            if let own = try int("TGDM_STORE_PORT") {
                // The ranks' own store (rank 0 serves it), e.g. when the launcher's store speaks another
                // libtorch version's protocol (torchrun 2.x with a libtorch 1.13 build).
                guard (1...65535).contains(own) else { throw TorchError("distributed: TGDM_STORE_PORT \(own) is outside 1...65535") }
                e.masterPort = own
                e.launcherHostsStore = false
            }
            return e
        }
        if let tasks = try int("SLURM_NTASKS"), tasks > 1, let rank = try int("SLURM_PROCID") {
            guard let addr = env["MASTER_ADDR"], !addr.isEmpty else {
                throw TorchError("distributed: a Slurm step with \(tasks) tasks needs MASTER_ADDR (the first node's address, see docs/TRAINING.md)")
            }
            return try DistributedEnvironment(masterAddress: addr, masterPort: try int("MASTER_PORT") ?? defaultPort, worldSize: tasks,
                                              rank: rank, localRank: try int("SLURM_LOCALID"), timeoutSeconds: timeout)
        }
        return nil
    }

    /// The variables a launcher sets for this process (the inverse of `detect`).
    public var variables: [String: String] {
        ["MASTER_ADDR": masterAddress, "MASTER_PORT": String(masterPort), "WORLD_SIZE": String(worldSize),
         "RANK": String(rank), "LOCAL_RANK": String(localRank), "TGDM_DIST_TIMEOUT": String(timeoutSeconds)]
    }
}
