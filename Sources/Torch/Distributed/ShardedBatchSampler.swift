import Foundation

/// The batches of a data-parallel run: step k's global batch is a slice of a seeded per-epoch permutation
/// of the dataset (the same for any number of processes), and rank r trains on the r-th contiguous shard
/// of it. So a run gives the same global batches on 1, 2 or N processes, and a checkpoint of step k can be
/// resumed with another world size: step k + 1 draws the same examples, only split differently.
public final class ShardedBatchSampler {
    public let datasetCount: Int
    public let globalBatchSize: Int
    public let rank: Int
    public let worldSize: Int
    /// The dataset order of an epoch (a permutation of 0..<datasetCount, a function of the seed and epoch only).
    public let permutation: (Int) throws -> [Int]
    private var cached: (epoch: Int, order: [Int])?

    public var localBatchSize: Int { globalBatchSize / worldSize }

    public init(datasetCount: Int, globalBatchSize: Int, rank: Int = 0, worldSize: Int = 1,
                permutation: @escaping (Int) throws -> [Int]) throws {
        guard datasetCount > 0 else { throw TorchError("sampler: the dataset is empty") }
        guard worldSize >= 1, rank >= 0, rank < worldSize else { throw TorchError("sampler: rank \(rank) of \(worldSize)") }
        guard globalBatchSize >= 1, globalBatchSize % worldSize == 0 else {
            throw TorchError("the global batch size \(globalBatchSize) must be a positive multiple of the \(worldSize) processes")
        }
        self.datasetCount = datasetCount
        self.globalBatchSize = globalBatchSize
        self.rank = rank
        self.worldSize = worldSize
        self.permutation = permutation
    }

    /// A seeded permutation per epoch (libtorch's randperm with a generator seeded by `seed(epoch)`).
    public static func seededPermutation(count: Int, seed: @escaping (Int) -> UInt64) -> (Int) throws -> [Int] {
        { epoch in try Tensor.randperm(count, generator: Generator(seed: seed(epoch))).toArray(Int64.self).map { Int($0) } }
    }

    /// The dataset indices of step `k` for all ranks: consecutive slices of the per-epoch permutations.
    public func globalIndices(forStep k: Int) throws -> [Int] {
        guard k >= 0 else { throw TorchError("sampler: negative step \(k)") }
        let n = datasetCount
        return try (0..<globalBatchSize).map { j in
            let position = k * globalBatchSize + j
            let epoch = position / n
            if cached?.epoch != epoch {
                let order = try permutation(epoch)
                guard order.count == n else { throw TorchError("sampler: epoch \(epoch) permutation has \(order.count) entries, expected \(n)") }
                cached = (epoch, order)
            }
            return cached!.order[position % n]
        }
    }

    /// This rank's shard of step `k`'s global batch.
    public func indices(forStep k: Int) throws -> [Int] {
        Array(try globalIndices(forStep: k)[(rank * localBatchSize)..<((rank + 1) * localBatchSize)])
    }

    /// Forgets the cached permutation (after a resume).
    public func reset() { cached = nil }
}
