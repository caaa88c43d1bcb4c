import Foundation
import XCTest
import Torch

/// c10d through the shim, with the ranks as threads of this process (each its own process group; the
/// process-level runs are in TGDMCLITests/DistributedTrainingTests).
final class DistributedTests: XCTestCase {
    /// Runs `body(rank)` for every rank of a fresh group on its own thread; returns each rank's result or error.
    func ranks<T>(_ n: Int, timeout: Double = 20, _ body: @escaping @Sendable (ProcessGroup) throws -> T) throws -> [Result<T, Error>] {
        try LocalLauncher.runThreads(n, timeoutSeconds: timeout, waitSeconds: timeout * 3, body)
    }

    func testAllReduceBroadcastAndBarrier() throws {
        let out = try ranks(2) { g -> [[Float]] in
            let t = try Tensor([Float(g.rank + 1), Float(10 * (g.rank + 1))])
            try g.allReduce([t])
            let m = try Tensor([Float(g.rank + 1)])
            try g.allReduce([m], op: .max)
            let b = try Tensor([Float(g.rank == 0 ? 7 : -1), 3])
            try g.broadcast([b], from: 0)
            try g.barrier()
            let pending = try g.allReduceAsync(try Tensor([Float(g.rank)]))
            try pending.wait()
            XCTAssertTrue(try g.anyTrue(g.rank == 1))
            XCTAssertFalse(try g.anyTrue(false))
            return [try t.floats(), try m.floats(), try b.floats(), try pending.tensor.floats()]
        }
        for r in out {
            let v = try r.get()
            XCTAssertEqual(v[0], [3, 30])
            XCTAssertEqual(v[1], [2])
            XCTAssertEqual(v[2], [7, 3])
            XCTAssertEqual(v[3], [1])
        }
    }

    /// Averaged gradients equal the mean of the ranks' gradients, bucket boundaries included, and a parameter
    /// without a gradient on every rank keeps none.
    func testDataParallelAveragesGradientsAcrossBuckets() throws {
        let out = try ranks(2) { g -> [[Float]] in
            let a = try Tensor.zeros([300]).requiresGrad(true), b = try Tensor.zeros([20, 20]).requiresGrad(true)
            let unused = try Tensor.zeros([3]).requiresGrad(true), half = try Tensor.zeros([2]).requiresGrad(true)
            let scale = Double(g.rank + 1)
            var loss = try (a * scale).sum() + (b * (scale * 2)).square().sum() + (b * scale).sum()
            if g.rank == 1 { loss = try loss + (half * 4).sum() }
            try loss.backward()
            let dp = try DataParallel(parameters: [("a", a), ("b", b), ("unused", unused), ("half", half)], group: g, bucketBytes: 1024)
            XCTAssertGreaterThan(dp.buckets.count, 1)
            try dp.averageGradients()
            XCTAssertNil(unused.grad)
            return [try a.grad!.floats(), try b.grad!.floats(), try half.grad!.floats()]
        }
        let r0 = try out[0].get(), r1 = try out[1].get()
        XCTAssertEqual(r0, r1)
        XCTAssertEqual(Set(r0[0]), [1.5])      // (1 + 2) / 2
        XCTAssertEqual(Set(r0[1]), [1.5])      // b = 0: only the linear term, (1 + 2) / 2
        XCTAssertEqual(r0[2], [2, 2])          // (0 + 4) / 2
    }

    func testBroadcastFromMainMakesRanksEqual() throws {
        let out = try ranks(3) { g -> [Float] in
            let w = try Tensor.randn([4, 3], generator: Generator(seed: UInt64(g.rank)))
            let nonContiguous = try Tensor.randn([3, 2], generator: Generator(seed: UInt64(10 + g.rank))).transpose(0, 1)
            try DataParallel(parameters: [], group: g).broadcastFromMain([w, nonContiguous])
            return try w.floats() + nonContiguous.contiguous().floats()
        }
        let main = try out[0].get()
        XCTAssertEqual(main, try Tensor.randn([4, 3], generator: Generator(seed: 0)).floats()
                       + Tensor.randn([3, 2], generator: Generator(seed: 10)).transpose(0, 1).contiguous().floats())
        for r in out { XCTAssertEqual(try r.get(), main) }
    }

    /// A rank that never arrives: the others fail with a message naming the rendezvous, after the timeout. The
    /// join runs on its own thread; the test waits for it to return (a hang shows as the safety deadline, 30× the
    /// timeout, never as a time measured against a threshold).
    func testMissingRankFailsWithinTheTimeout() throws {
        let port = try LocalLauncher.freePort()
        final class Outcome: @unchecked Sendable { var value: Result<ProcessGroup, Error>? }  // written before the signal
        let returned = DispatchSemaphore(value: 0), outcome = Outcome()
        Thread.detachNewThread {
            outcome.value = Result { try ProcessGroup(DistributedEnvironment(masterAddress: "127.0.0.1", masterPort: port, worldSize: 2, rank: 0,
                                                                         timeoutSeconds: 2)) }
            returned.signal()
        }
        XCTAssertEqual(returned.wait(timeout: .now() + 60), .success, "joining a group whose other rank never comes must fail, not hang")
        XCTAssertThrowsError(try XCTUnwrap(outcome.value).get()) { error in
            XCTAssertTrue("\(error)".contains("could not join the group"), "\(error)")
        }
    }

    /// A peer that stops issuing collectives (alive but stuck): the collective fails after the timeout. The stuck
    /// rank is held until rank 0's collective has failed, so rank 0 can only have returned by its own timeout.
    func testStuckPeerMakesCollectiveFailAfterTheTimeout() throws {
        let rank0Failed = DispatchSemaphore(value: 0)
        let out = try ranks(2, timeout: 2) { g -> Bool in
            if g.rank == 0 {
                defer { rank0Failed.signal() }
                do { try g.allReduce([try Tensor([Float(1)])]) } catch {
                    XCTAssertTrue("\(error)".contains("all-reduce failed on rank 0 of 2"), "\(error)")
                    return true
                }
                return false
            }
            // Stuck: no collective until rank 0 has given up (60 s is only a safety net against a hang).
            return rank0Failed.wait(timeout: .now() + 60) == .success
        }
        XCTAssertEqual(try out[0].get(), true, "rank 0's all-reduce must fail while its peer is stuck")
        XCTAssertEqual(try out[1].get(), true, "rank 0 must give up by its timeout, while rank 1 was still stuck")
    }

    func testEnvironmentParsing() throws {
        XCTAssertNil(try DistributedEnvironment.detect([:]))
        XCTAssertNil(try DistributedEnvironment.detect(["WORLD_SIZE": "1", "RANK": "0"]))
        let e = try XCTUnwrap(DistributedEnvironment.detect(["WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "MASTER_ADDR": "node7",
                                                             "MASTER_PORT": "1234", "TGDM_DIST_TIMEOUT": "9"]))
        XCTAssertEqual([e.worldSize, e.rank, e.localRank, e.masterPort], [4, 3, 1, 1234])
        XCTAssertEqual(e.timeoutSeconds, 9)
        XCTAssertFalse(e.launcherHostsStore)
        let agent = try XCTUnwrap(DistributedEnvironment.detect(["WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "localhost", "MASTER_PORT": "4000",
                                                                 "TORCHELASTIC_USE_AGENT_STORE": "True", "TORCHELASTIC_RESTART_COUNT": "3"]))
        XCTAssertTrue(agent.launcherHostsStore)
        XCTAssertEqual(agent.attempt, 3)
        let own = try XCTUnwrap(DistributedEnvironment.detect(["WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "localhost", "MASTER_PORT": "4000",
                                                               "TORCHELASTIC_USE_AGENT_STORE": "True", "TGDM_STORE_PORT": "4100"]))
        XCTAssertFalse(own.launcherHostsStore)
        XCTAssertEqual(own.masterPort, 4100)
        let slurm = try XCTUnwrap(DistributedEnvironment.detect(["SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "MASTER_ADDR": "n1"]))
        XCTAssertEqual([slurm.worldSize, slurm.rank, slurm.localRank, slurm.masterPort], [8, 5, 1, 29500])
        XCTAssertNil(try DistributedEnvironment.detect(["SLURM_NTASKS": "1", "SLURM_PROCID": "0"]))
        for (env, needle) in [(["WORLD_SIZE": "2"], "RANK is not"), (["WORLD_SIZE": "2", "RANK": "0"], "MASTER_ADDR"),
                              (["WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "a", "MASTER_PORT": "1"], "outside 0..<2"),
                              (["WORLD_SIZE": "x"], "not an integer"), (["SLURM_NTASKS": "2", "SLURM_PROCID": "0"], "MASTER_ADDR")] {
            XCTAssertThrowsError(try DistributedEnvironment.detect(env)) { XCTAssertTrue("\($0)".contains(needle), "\(env): \($0)") }
        }
    }

    /// Rank shards tile the global batch, which does not depend on the world size.
    func testShardedSamplerTilesTheGlobalBatch() throws {
        let perm = ShardedBatchSampler.seededPermutation(count: 10) { UInt64($0) &+ 99 }
        let one = try ShardedBatchSampler(datasetCount: 10, globalBatchSize: 4, permutation: perm)
        let shards = try (0..<2).map { try ShardedBatchSampler(datasetCount: 10, globalBatchSize: 4, rank: $0, worldSize: 2, permutation: perm) }
        for step in 0..<7 {
            let global = try one.globalIndices(forStep: step)
            XCTAssertEqual(try shards[0].indices(forStep: step) + shards[1].indices(forStep: step), global)
        }
        // Each epoch visits every example once.
        let epoch = try (0..<5).flatMap { try one.globalIndices(forStep: $0) }.prefix(10)
        XCTAssertEqual(Set(epoch), Set(0..<10))
        XCTAssertThrowsError(try ShardedBatchSampler(datasetCount: 10, globalBatchSize: 5, rank: 0, worldSize: 2, permutation: perm))
    }
}

/// The local launcher with a shell as the "program": the environment each rank gets, and a failing rank
/// stopping the others and being named.
final class LocalLauncherTests: XCTestCase {
    let sh = URL(fileURLWithPath: "/bin/sh")

    func testRanksGetTheirEnvironment() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-launcher-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let exits = try LocalLauncher.run(executable: sh, processes: 3, arguments: { r in
            ["-c", "echo $RANK $LOCAL_RANK $WORLD_SIZE $MASTER_ADDR $MASTER_PORT > \(dir.path)/rank\(r)"]
        })
        XCTAssertEqual(exits.map(\.rank), [0, 1, 2])
        let lines = try (0..<3).map { try String(contentsOf: dir.appendingPathComponent("rank\($0)"), encoding: .utf8).split(separator: " ") }
        for (r, l) in lines.enumerated() {
            XCTAssertEqual(Array(l.prefix(4)), ["\(r)", "\(r)", "3", "127.0.0.1"])
            XCTAssertEqual(l[4], lines[0][4], "one master port for all ranks")
        }
    }

    /// Rank 1 fails once rank 0 has started (a file rank 0 writes is the event); rank 0 would run for ten minutes
    /// unless the launcher stops it, and the error names both.
    func testAFailingRankStopsTheOthersAndIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-launcher-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let started = dir.appendingPathComponent("rank0-started").path
        XCTAssertThrowsError(try LocalLauncher.run(executable: sh, processes: 2, arguments: { r in
            r == 1 ? ["-c", "while [ ! -e \(started) ]; do sleep 0.05; done; exit 3"] : ["-c", "touch \(started); exec sleep 600"]
        })) { error in
            XCTAssertEqual("\(error)", "TorchError: rank 1 of 2 exited with status 3; then rank 0 stopped")
        }
        XCTAssertThrowsError(try LocalLauncher.run(executable: sh, processes: 2, arguments: { r in
            r == 0 ? ["-c", "kill -9 $$"] : ["-c", "exit 0"]
        })) { XCTAssertTrue("\($0)".contains("rank 0 of 2 was killed by signal 9"), "\($0)") }
    }
}
