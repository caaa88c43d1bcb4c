import Foundation

/// Starts N copies of a program on this machine as the ranks of one process group (what `torchrun
/// --nproc-per-node N` does): each gets MASTER_ADDR=127.0.0.1, a free MASTER_PORT, WORLD_SIZE, RANK and
/// LOCAL_RANK. It waits for all of them; when one fails, the others are asked to stop (SIGTERM) and killed
/// after a grace period, and the failure is reported with the rank. SIGINT/SIGTERM sent to the launcher
/// are forwarded, so the ranks stop together at their next step.
public enum LocalLauncher {
    public struct RankExit: Sendable, Equatable {
        public let rank: Int
        /// Exit status, or the signal number when `signaled`.
        public let status: Int32
        public let signaled: Bool
        public var succeeded: Bool { !signaled && status == 0 }
        public var description: String { signaled ? "was killed by signal \(status)" : "exited with status \(status)" }
    }

    /// A free TCP port on the loopback interface (bound and released; the caller uses it right away).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TorchError("cannot open a socket to find a free port: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw TorchError("cannot bind a socket to find a free port: \(String(cString: strerror(errno)))") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard named == 0 else { throw TorchError("cannot read the free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Runs `body` as every rank of a fresh loopback group inside this process, one thread per rank (the
    /// ranks-as-threads form of `run`, for tests and for programs that host several ranks); waits at most
    /// `waitSeconds` for all of them and returns each rank's result or error, in rank order.
    public static func runThreads<T>(_ ranks: Int, timeoutSeconds: Double = 60, waitSeconds: Double = 300,
                                     _ body: @escaping (ProcessGroup) throws -> T) throws -> [Result<T, Error>] {
        guard ranks >= 1, ranks <= 1024 else { throw TorchError("\(ranks) thread ranks is outside 1...1024") }
        let port = try freePort()
        let results = RankResults<T>(count: ranks)
        let done = DispatchGroup()
        for rank in 0..<ranks {
            done.enter()
            Thread {
                defer { done.leave() }
                results.set(rank, Result { try body(ProcessGroup(DistributedEnvironment(masterAddress: "127.0.0.1", masterPort: port, worldSize: ranks,
                                                                                        rank: rank, timeoutSeconds: timeoutSeconds))) })
            }.start()
        }
        guard done.wait(timeout: .now() + waitSeconds) == .success else {
            throw TorchError("the \(ranks) thread ranks did not finish within \(waitSeconds) s")
        }
        return results.values
    }

    /// The environment of rank `rank` of `processes` local processes.
    public static func environment(rank: Int, processes: Int, port: Int, timeoutSeconds: Double? = nil,
                                   base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var env = base
        env["MASTER_ADDR"] = "127.0.0.1"
        env["MASTER_PORT"] = String(port)
        env["WORLD_SIZE"] = String(processes)
        env["RANK"] = String(rank)
        env["LOCAL_RANK"] = String(rank)
        env["LOCAL_WORLD_SIZE"] = String(processes)
        if let t = timeoutSeconds { env["TGDM_DIST_TIMEOUT"] = String(t) }
        return env
    }

    /// Runs `executable arguments` as `processes` ranks and waits. Returns the exits (all successful), or
    /// throws naming the first rank that failed. `arguments(rank)` may differ per rank.
    ///
    /// The ranks are started with posix_spawn and watched with waitpid (Foundation's Process reports an exit
    /// only once every descendant holding its descriptors has gone, too late to stop the other ranks).
    @discardableResult
    public static func run(executable: URL, processes: Int, arguments: (Int) -> [String], timeoutSeconds: Double? = nil,
                           gracePeriod: Double = 15, extraEnvironment: [String: String] = [:]) throws -> [RankExit] {
        guard processes >= 1, processes <= 1024 else { throw TorchError("--nproc \(processes) is outside 1...1024") }
        let port = try freePort()
        var pids: [pid_t] = []
        var exits = [RankExit?](repeating: nil, count: processes)
        defer { for (rank, pid) in pids.enumerated() where exits[rank] == nil { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) } }
        let previousInt = signal(SIGINT, launcherSignalHandler)
        let previousTerm = signal(SIGTERM, launcherSignalHandler)
        defer { signal(SIGINT, previousInt); signal(SIGTERM, previousTerm) }
        launcherSignal = 0
        for rank in 0..<processes {
            let env = environment(rank: rank, processes: processes, port: port, timeoutSeconds: timeoutSeconds)
                .merging(extraEnvironment) { _, new in new }
            pids.append(try spawn(executable, [executable.path] + arguments(rank), env, rank: rank))
        }
        var firstFailure: RankExit?
        var stopSentAt: Date?
        var forwarded: Int32 = 0
        func signalRunning(_ s: Int32) { for (rank, pid) in pids.enumerated() where exits[rank] == nil { kill(pid, s) } }
        while exits.contains(where: { $0 == nil }) {
            for (rank, pid) in pids.enumerated() where exits[rank] == nil {
                var status: Int32 = 0
                guard waitpid(pid, &status, WNOHANG) == pid else { continue }
                let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
                let e = RankExit(rank: rank, status: signaled ? status & 0x7f : (status >> 8) & 0xff, signaled: signaled)
                exits[rank] = e
                if !e.succeeded, firstFailure == nil {
                    firstFailure = e
                    // The others notice the dead peer in their next collective; SIGTERM also stops idle ones.
                    signalRunning(SIGTERM)
                    stopSentAt = Date()
                }
            }
            let s = launcherSignal
            if s != 0, s != forwarded {
                forwarded = s
                signalRunning(s == SIGINT ? SIGINT : SIGTERM)
            }
            if let t = stopSentAt, Date().timeIntervalSince(t) > gracePeriod { signalRunning(SIGKILL) }
            usleep(20_000)
        }
        if let f = firstFailure {
            let others = exits.compactMap { $0 }.filter { $0.rank != f.rank && !$0.succeeded }.map(\.rank)
            let tail = others.isEmpty ? "" : "; then rank\(others.count > 1 ? "s" : "") \(others.map(String.init).joined(separator: ", ")) stopped"
            throw TorchError("rank \(f.rank) of \(processes) \(f.description)\(tail)")
        }
        return exits.compactMap { $0 }
    }

    static func spawn(_ executable: URL, _ argv: [String], _ env: [String: String], rank: Int) throws -> pid_t {
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cArgs + cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = cArgs.withUnsafeBufferPointer { a in
            cEnv.withUnsafeBufferPointer { e in
                posix_spawn(&pid, executable.path, nil, nil, UnsafeMutablePointer(mutating: a.baseAddress!), UnsafeMutablePointer(mutating: e.baseAddress!))
            }
        }
        guard rc == 0 else { throw TorchError("cannot start rank \(rank) (\(executable.path)): \(String(cString: strerror(rc)))") }
        return pid
    }
}

nonisolated(unsafe) private var launcherSignal: Int32 = 0
private func launcherSignalHandler(_ s: Int32) { launcherSignal = s }

/// The results of thread ranks, written by their threads.
private final class RankResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<T, Error>?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ rank: Int, _ result: Result<T, Error>) { lock.lock(); storage[rank] = result; lock.unlock() }
    var values: [Result<T, Error>] {
        lock.lock(); defer { lock.unlock() }
        return storage.map { $0 ?? .failure(TorchError("rank did not finish")) }
    }
}
