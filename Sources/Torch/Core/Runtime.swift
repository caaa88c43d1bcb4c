import CTorch
import Foundation

/// Process-wide libtorch settings.
public enum Torch {
    /// Uses every core for intra-op parallelism (or `n` threads). Called once by the CLI and by test set-up.
    /// `TGDM_THREADS=N` in the environment overrides both, so that a whole test run can be repeated at another
    /// thread count (scripts/numeric_matrix.sh): kernels split their reductions by thread, and the gates must hold
    /// whatever the split.
    public static func configureThreads(_ n: Int? = nil) {
        let forced = ProcessInfo.processInfo.environment["TGDM_THREADS"].flatMap { Int($0) }
        let cores = forced ?? n ?? ProcessInfo.processInfo.activeProcessorCount
        tg_set_num_threads(Int32(max(1, cores)))
    }
    public static var numThreads: Int { Int(tg_get_num_threads()) }

    /// libgomp reads OMP_WAIT_POLICY when it loads, before `main`: with the default (active) policy its
    /// threads spin and, on a small shared machine, a forward pass can be 30× slower. An executable calls
    /// this first thing: unless the user chose a policy it re-executes itself once with the passive one
    /// (returning only if that fails, to carry on in this process).
    public static func ensurePassiveWaitPolicy() {
        guard getenv("OMP_WAIT_POLICY") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        var args = CommandLine.arguments.map { strdup($0) }
        args.append(nil)
        execv("/proc/self/exe", &args)
    }
    public static func manualSeed(_ seed: UInt64) { tg_manual_seed(seed) }
    public static var cudaDeviceCount: Int { Int(tg_cuda_device_count()) }

    public static var isGradEnabled: Bool { tg_is_grad_enabled() == 1 }

    /// Runs `body` with at most `bytes` of tensors created from a shape on this thread (zeros, ones, full, rand,
    /// randn, randint, from arrays); creating more throws. Loaders build a module from a file's metadata inside
    /// it, so a crafted config (a 200-byte file asking for a network of terabytes) fails at once instead of
    /// allocating until the machine runs out of memory. Budgets nest: the inner one applies.
    public static func withCreationBudget<R>(bytes: Int, _ body: () throws -> R) rethrows -> R {
        let previous = tg_set_creation_budget(Int64(max(0, bytes)))
        defer { tg_set_creation_budget(previous) }
        return try body()
    }

    /// Tensor handles alive in the shim right now (created, not yet freed): a leak check for tests.
    public static var liveTensorCount: Int { Int(tg_live_tensors()) }

    /// Runs `body` with autograd recording off (like `torch.no_grad()`), restoring the previous mode.
    @discardableResult
    public static func noGrad<R>(_ body: () throws -> R) rethrows -> R {
        let prev = tg_set_grad_enabled(0)
        defer { tg_set_grad_enabled(prev) }
        return try body()
    }

    /// Runs `body` with autograd recording on.
    @discardableResult
    public static func withGrad<R>(_ body: () throws -> R) rethrows -> R {
        let prev = tg_set_grad_enabled(1)
        defer { tg_set_grad_enabled(prev) }
        return try body()
    }
}

/// A seeded random generator (libtorch's CPU Philox/MT generator). The same seed gives the same
/// numbers as `torch.Generator().manual_seed(seed)` in python3-torch, which the tests check.
public final class Generator: @unchecked Sendable {
    let handle: OpaquePointer

    public init(seed: UInt64) {
        guard let h = tg_generator_new(seed) else { fatalError("libtorch could not create a generator: \(String(cString: tg_last_error()))") }
        handle = h
    }
    deinit { tg_generator_free(handle) }

    public func reseed(_ seed: UInt64) { tg_generator_set_seed(handle, seed) }
}

extension Tensor {
    public static func randn(_ shape: [Int], generator: Generator? = nil, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try check(tg_randn(d, Int32(d.count), dtype.rawValue, device.code, generator?.handle), "randn\(shape)")
    }
    public static func rand(_ shape: [Int], generator: Generator? = nil, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try check(tg_rand(d, Int32(d.count), dtype.rawValue, device.code, generator?.handle), "rand\(shape)")
    }
    /// Uniform in [low, high).
    public static func uniform(_ shape: [Int], low: Double, high: Double, generator: Generator? = nil, device: Device = .cpu) throws -> Tensor {
        try rand(shape, generator: generator, device: device) * (high - low) + low
    }
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], generator: Generator? = nil, device: Device = .cpu) throws -> Tensor {
        let d = shape.map { Int64($0) }
        return try check(tg_randint(Int64(low), Int64(high), d, Int32(d.count), device.code, generator?.handle), "randint")
    }
    public static func randperm(_ n: Int, generator: Generator? = nil, device: Device = .cpu) throws -> Tensor {
        try check(tg_randperm(Int64(n), device.code, generator?.handle), "randperm")
    }
}
