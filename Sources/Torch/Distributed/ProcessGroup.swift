import CTorch
import Foundation

/// Reduction of an all-reduce.
public enum ReduceOp: Int32, Sendable {
    case sum = 0, min = 1, max = 2, product = 3
}

/// The collective engine of a process group: Gloo reduces CPU tensors, NCCL CUDA tensors.
public enum DistributedBackend: String, Sendable, CaseIterable {
    case gloo
    case nccl
    /// NCCL for CUDA tensors plus Gloo for small CPU exchanges (loss values, flags): what CUDA training uses.
    case glooAndNCCL = "gloo+nccl"

    /// Whether this build of the shim can create the backend (NCCL needs TG_WITH_NCCL and a CUDA libtorch).
    public var isAvailable: Bool {
        switch self {
        case .gloo: return tg_dist_backend_available("gloo") == 1
        case .nccl, .glooAndNCCL: return tg_dist_backend_available("nccl") == 1
        }
    }

    /// The backend for training on `device`.
    public static func forTraining(on device: Device) -> DistributedBackend {
        device == .cpu ? .gloo : .glooAndNCCL
    }
}

/// A group of processes exchanging tensors through libtorch's c10d: a TCPStore rendezvous at the master
/// address (rank 0 hosts it) and Gloo/NCCL collectives. Every rank must issue the same collectives in the
/// same order. Every call is bounded by the group's timeout, and a peer that exits makes the pending call
/// fail at once (its connections close), so a dead rank turns into an error here rather than a hang.
public final class ProcessGroup: @unchecked Sendable {
    public let environment: DistributedEnvironment
    public let backend: DistributedBackend
    let handle: OpaquePointer

    public var rank: Int { environment.rank }
    public var worldSize: Int { environment.worldSize }
    public var localRank: Int { environment.localRank }
    /// Rank 0 writes checkpoints and logs.
    public var isMain: Bool { rank == 0 }

    /// Joins the group (blocks until all `worldSize` processes have arrived, or the timeout).
    public init(_ environment: DistributedEnvironment, backend: DistributedBackend = .gloo) throws {
        guard backend.isAvailable else {
            throw TorchError("distributed backend \(backend.rawValue) is not available in this build (CPU builds have gloo; see docs/TRAINING.md for NCCL)")
        }
        let e = environment
        let h = tg_dist_init(backend.rawValue, e.masterAddress, Int32(e.masterPort), Int32(e.worldSize), Int32(e.rank),
                             Int64((e.timeoutSeconds * 1000).rounded()), e.launcherHostsStore ? 0 : -1,
                             e.launcherHostsStore ? "tgdm/attempt_\(e.attempt)" : nil)
        guard let h else {
            let hint = e.launcherHostsStore
                ? " (the launcher serves the store: if it runs another libtorch version than this build, e.g. torchrun 2.x with Debian's 1.13, set TGDM_STORE_PORT to a free port)"
                : ""
            throw TorchError("distributed: rank \(e.rank) of \(e.worldSize) could not join the group at \(e.masterAddress):\(e.masterPort) "
                             + "within \(Self.seconds(e.timeoutSeconds)): \(Self.lastMessage())\(hint)")
        }
        self.environment = environment
        self.backend = backend
        handle = h
    }

    /// The group this process was launched into (see `DistributedEnvironment.detect`), or nil for a single process.
    public static func fromEnvironment(backend: DistributedBackend = .gloo) throws -> ProcessGroup? {
        guard let e = try DistributedEnvironment.detect() else { return nil }
        return try ProcessGroup(e, backend: backend)
    }

    deinit { tg_dist_free(handle) }

    static func lastMessage() -> String {
        String(cString: tg_last_error()).split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
    static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s) }

    /// The error for a failed collective: what failed, on which rank, and the likely cause.
    func failure(_ what: String) -> TorchError {
        TorchError("distributed: \(what) failed on rank \(rank) of \(worldSize) (a peer process exited, or did not answer within "
                   + "\(Self.seconds(environment.timeoutSeconds))): \(Self.lastMessage())")
    }

    // MARK: collectives

    /// Reduces `tensors` (contiguous, all on the CPU or all on CUDA) across the group, in place.
    public func allReduce(_ tensors: [Tensor], op: ReduceOp = .sum) throws {
        guard !tensors.isEmpty else { return }
        let hs: [OpaquePointer?] = tensors.map { $0.handle }
        guard tg_dist_allreduce(handle, hs, Int32(hs.count), op.rawValue) == 0 else { throw failure("all-reduce") }
    }

    /// Starts an all-reduce of one contiguous tensor; `wait()` on the result completes it.
    public func allReduceAsync(_ tensor: Tensor, op: ReduceOp = .sum) throws -> PendingCollective {
        guard let w = tg_dist_allreduce_async(handle, tensor.handle, op.rawValue) else { throw failure("all-reduce") }
        return PendingCollective(handle: w, group: self, tensor: tensor)
    }

    /// Copies rank `root`'s tensors into everyone's, in place.
    public func broadcast(_ tensors: [Tensor], from root: Int = 0) throws {
        guard !tensors.isEmpty else { return }
        let hs: [OpaquePointer?] = tensors.map { $0.handle }
        guard tg_dist_broadcast(handle, hs, Int32(hs.count), Int32(root)) == 0 else { throw failure("broadcast") }
    }

    /// Returns once every rank has called it.
    public func barrier() throws {
        guard tg_dist_barrier(handle) == 0 else { throw failure("barrier") }
    }

    /// Reduces a few numbers (float64, through the CPU backend).
    public func allReduce(_ values: [Double], op: ReduceOp = .sum) throws -> [Double] {
        guard !values.isEmpty else { return [] }
        let t = try Tensor(values)
        try allReduce([t], op: op)
        return try t.toArray(Double.self)
    }

    /// True on every rank when it is true on any rank (a collective decision, e.g. to stop).
    public func anyTrue(_ flag: Bool) throws -> Bool {
        try allReduce([flag ? 1 : 0], op: .max)[0] > 0
    }

    /// Throws unless every rank passed the same values (e.g. a resumed step): a mismatch is named with both extremes.
    public func requireAgreement(_ values: [Double], what: String) throws {
        let lo = try allReduce(values, op: .min), hi = try allReduce(values, op: .max)
        guard lo == hi else { throw TorchError("distributed: the ranks disagree on \(what): from \(lo) to \(hi)") }
    }

    // MARK: store

    /// Publishes a small value under `key` in the rendezvous store.
    public func storeSet(_ key: String, _ value: Data) throws {
        let rc = value.withUnsafeBytes { tg_dist_store_set(handle, key, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw failure("store set '\(key)'") }
    }

    /// Waits (up to the timeout) for `key` and returns its value.
    public func storeGet(_ key: String) throws -> Data {
        let n = tg_dist_store_get(handle, key, nil, 0)
        guard n >= 0 else { throw failure("store get '\(key)'") }
        var data = Data(count: Int(n))
        let m = data.withUnsafeMutableBytes { tg_dist_store_get(handle, key, $0.baseAddress, Int(n)) }
        guard m == n else { throw failure("store get '\(key)'") }
        return data
    }
}

/// An all-reduce in flight (keeps its tensor alive until completed).
public final class PendingCollective {
    let handle: OpaquePointer
    let group: ProcessGroup
    public let tensor: Tensor
    private var done = false

    init(handle: OpaquePointer, group: ProcessGroup, tensor: Tensor) {
        self.handle = handle
        self.group = group
        self.tensor = tensor
    }

    deinit {
        if !done { tg_dist_work_wait(handle) }   // never free work that is still writing into a tensor
        tg_dist_work_free(handle)
    }

    public func wait() throws {
        guard !done else { return }
        done = true
        guard tg_dist_work_wait(handle) == 0 else { throw group.failure("all-reduce") }
    }
}

extension Tensor {
    /// Sets (nil: clears) the accumulated gradient of this leaf.
    public func setGrad(_ gradient: Tensor?) throws {
        try Tensor.checkStatus(tg_set_grad(handle, gradient?.handle), "set grad")
    }
}
