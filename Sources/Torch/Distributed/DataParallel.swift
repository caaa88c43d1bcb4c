import Foundation

/// Data-parallel training over a process group, as PyTorch's DDP does it: every rank starts from rank 0's
/// weights, computes gradients on its own shard of the batch, and the gradients are averaged by all-reduce
/// before the (identical) optimiser step on every rank.
///
/// Gradients are flattened into buckets of about `bucketBytes` (per dtype and device, parameters in reverse
/// order as they become ready in backward) and each bucket is one all-reduce; the buckets are started
/// together and completed in order, so flattening bucket k + 1 overlaps the exchange of bucket k. The
/// exchange starts after `backward()` returns: overlapping it with backward needs per-parameter autograd
/// hooks, which does not pay on CPU (both compete for the same cores) — see docs/TRAINING.md.
///
/// A parameter no rank produced a gradient for keeps none (AdamW then skips it, as on one process); one
/// that only some ranks produced counts zeros for the others, like DDP with unused parameters.
public final class DataParallel {
    public let group: ProcessGroup
    public let parameters: [(String, Tensor)]
    public let bucketBytes: Int
    /// Parameter indices of each bucket.
    public let buckets: [[Int]]
    /// Seconds spent in the last `averageGradients()` (flattening, exchange, copying back).
    public private(set) var lastSynchronizationSeconds = 0.0
    /// Bytes of gradient exchanged per step.
    public var gradientBytes: Int { parameters.reduce(0) { $0 + $1.1.count * $1.1.dtype.byteSize } }

    public static let defaultBucketBytes = 25 * 1024 * 1024

    public init(parameters: [(String, Tensor)], group: ProcessGroup, bucketBytes: Int = DataParallel.defaultBucketBytes) throws {
        guard bucketBytes >= 1024 else { throw TorchError("data parallel: bucket size \(bucketBytes) bytes is too small") }
        self.group = group
        self.parameters = parameters
        self.bucketBytes = bucketBytes
        var buckets: [[Int]] = []
        var open: [String: (indices: [Int], bytes: Int)] = [:]
        var order: [String] = []
        for i in parameters.indices.reversed() {
            let p = parameters[i].1
            let key = "\(p.dtype)@\(p.device)"
            if open[key] == nil { open[key] = ([], 0); order.append(key) }
            open[key]!.indices.append(i)
            open[key]!.bytes += p.count * p.dtype.byteSize
            if open[key]!.bytes >= bucketBytes {
                buckets.append(open[key]!.indices)
                open[key] = ([], 0)
            }
        }
        for key in order where !(open[key]?.indices.isEmpty ?? true) { buckets.append(open[key]!.indices) }
        self.buckets = buckets
    }

    /// Copies rank 0's values of `tensors` (parameters, buffers, EMA shadows ...) into every rank's.
    public func broadcastFromMain(_ tensors: [Tensor]) throws {
        try Torch.noGrad {
            for t in tensors {
                if t.isContiguous {
                    try group.broadcast([t])
                } else {
                    let c = try t.contiguous()
                    try group.broadcast([c])
                    try t.copy_(c)
                }
            }
        }
    }

    /// Replaces every parameter's gradient by its mean over the ranks.
    public func averageGradients() throws {
        let start = Date()
        defer { lastSynchronizationSeconds = Date().timeIntervalSince(start) }
        let grads = parameters.map { $0.1.grad }
        let have = try group.allReduce(grads.map { $0 == nil ? 0 : 1 }, op: .sum)
        let scale = 1 / Double(group.worldSize)
        try Torch.noGrad {
            var pending: [(bucket: [Int], work: PendingCollective)] = []
            for bucket in buckets {
                let used = bucket.filter { have[$0] > 0 }
                guard !used.isEmpty else { continue }
                let flat = try Tensor.cat(used.map { i -> Tensor in
                    let p = parameters[i].1
                    return try (grads[i] ?? p.zerosLike()).detach().reshape([-1])
                }, dim: 0).contiguous()
                pending.append((used, try group.allReduceAsync(flat, op: .sum)))
            }
            for (bucket, work) in pending {
                try work.wait()
                let flat = work.tensor
                try flat.mul_(scale)
                var offset = 0
                for i in bucket {
                    let p = parameters[i].1
                    let n = p.count
                    let averaged = try flat.narrow(0, offset, n).reshape(p.shape)
                    offset += n
                    if let g = grads[i] { try g.copy_(averaged) } else { try p.setGrad(averaged.clone()) }
                }
            }
        }
    }
}
