import Foundation
import Torch

/// A prepared corpus (`tgdm dataset prepare` output), read on demand: the manifest and index are loaded,
/// the shards are memory-mapped when first touched (the OS pages in only the rows read, so a corpus larger
/// than memory streams from disk) and at most `openShardLimit` stay mapped.
public final class PreparedCorpus: @unchecked Sendable {
    public let url: URL
    public let manifest: CorpusManifest
    public let entries: [CorpusEntry]
    public var openShardLimit = 16
    private var open: [String: ShardFile] = [:]
    private var openOrder: [String] = []
    private let lock = NSLock()

    public init(url: URL) throws {
        self.url = url
        let m = url.appendingPathComponent(CorpusFiles.manifest), i = url.appendingPathComponent(CorpusFiles.index)
        guard FileManager.default.fileExists(atPath: m.path) else {
            let partial = FileManager.default.fileExists(atPath: url.appendingPathComponent(CorpusFiles.plan).path)
            throw DatasetError(partial ? "\(url.path) is an unfinished preparation; run `tgdm dataset prepare` again to finish it"
                                       : "\(url.path) is not a prepared corpus (no \(CorpusFiles.manifest)); make one with `tgdm dataset prepare`")
        }
        do {
            manifest = try JSONDecoder().decode(CorpusManifest.self, from: Data(contentsOf: m))
            entries = try JSONDecoder().decode(CorpusIndex.self, from: Data(contentsOf: i)).entries
        } catch let e as DecodingError {
            throw DatasetError("\(url.lastPathComponent): manifest or index is not valid: \(e)")
        }
        guard manifest.format == CorpusManifest.format else { throw DatasetError("\(m.path) has format \(manifest.format), expected \(CorpusManifest.format)") }
        guard !entries.isEmpty else { throw DatasetError("\(url.path) has no prepared segments (every clip was skipped; see manifest.json)") }
    }

    public var cropSize: Int { manifest.config.cropSize }
    public var totalFrames: Int { entries.reduce(0) { $0 + $1.frames } }

    func shard(_ name: String) throws -> ShardFile {
        lock.lock(); defer { lock.unlock() }
        if let s = open[name] { return s }
        let s = try ShardFile(url: url.appendingPathComponent(CorpusFiles.shards).appendingPathComponent(name),
                              cropSize: cropSize, coefficients: manifest.coefficients,
                              mfcc: (manifest.config.mfccRowsPerFrame, manifest.config.mfccCoefficients))
        open[name] = s
        openOrder.append(name)
        if openOrder.count > openShardLimit { open[openOrder.removeFirst()] = nil }
        return s
    }

    func entry(_ i: Int) throws -> CorpusEntry {
        guard i >= 0, i < entries.count else { throw DatasetError("segment \(i) outside 0..<\(entries.count)") }
        return entries[i]
    }

    /// Frames `frames` (indices within the segment) of segment `i`: U8 n×3×S×S.
    public func frames(_ i: Int, _ frames: [Int]) throws -> Tensor {
        let e = try entry(i)
        for f in frames where f < 0 || f >= e.frames { throw DatasetError("frame \(f) outside segment \(e.id) (\(e.frames) frames)") }
        return try shard(e.shard).frames(rows: frames.map { e.row + $0 })
    }

    /// ρ of every frame of segment `i`: F32 frames×D.
    public func coefficients(_ i: Int) throws -> Tensor {
        let e = try entry(i)
        return try shard(e.shard).floats("coefficients", rows: e.row..<(e.row + e.frames))
    }

    /// MFCC clips of frames [start, start + count) of segment `i`: F32 count×R×C.
    public func mfcc(_ i: Int, start: Int, count: Int) throws -> Tensor {
        let e = try entry(i)
        guard start >= 0, count >= 0, start + count <= e.frames else { throw DatasetError("MFCC frames \(start)..<\(start + count) outside segment \(e.id)") }
        return try shard(e.shard).floats("mfcc", rows: (e.row + start)..<(e.row + start + count))
    }

    /// The segment's audio (mono, `manifest.config.sampleRate`).
    public func audio(_ i: Int) throws -> [Float] {
        let e = try entry(i)
        return try shard(e.shard).floats("audio", rows: e.audioOffset..<(e.audioOffset + e.audioSamples)).floats()
    }
}

/// One memory-mapped shard with a validated header.
final class ShardFile {
    struct Entry { let dtype: String; let shape: [Int]; let begin: Int; let end: Int }
    let url: URL
    let data: Data
    let tensors: [String: Entry]
    let dataStart: Int

    init(url: URL, cropSize: Int, coefficients: Int, mfcc: (Int, Int)) throws {
        self.url = url
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw DatasetError("cannot read shard \(url.path): \(error.localizedDescription) (was the corpus moved or partly deleted?)")
        }
        guard data.count >= 8 else { throw DatasetError("\(url.lastPathComponent) is not a shard (too short)") }
        var n: UInt64 = 0
        for (i, byte) in data.prefix(8).enumerated() { n |= UInt64(byte) << (8 * UInt64(i)) }
        guard n <= UInt64(Safetensors.maxHeaderBytes), Int(n) <= data.count - 8 else { throw DatasetError("\(url.lastPathComponent): corrupt header length") }
        dataStart = 8 + Int(n)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] else {
            throw DatasetError("\(url.lastPathComponent): corrupt header")
        }
        var tensors: [String: Entry] = [:]
        let body = data.count - dataStart
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String, let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= body,
                  shape.allSatisfy({ $0 >= 0 }) else {
                throw DatasetError("\(url.lastPathComponent): bad header entry '\(name)'")
            }
            let size = dtype == "U8" ? 1 : 4
            guard shape.reduce(1, *) * size == offsets[1] - offsets[0] else { throw DatasetError("\(url.lastPathComponent): '\(name)' size mismatch") }
            tensors[name] = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }
        let expected: [(String, String, [Int?])] = [
            ("frames", "U8", [nil, 3, cropSize, cropSize]), ("coefficients", "F32", [nil, coefficients]), ("boxes", "F32", [nil, 3]),
            ("mfcc", "F32", [nil, mfcc.0, mfcc.1]), ("audio", "F32", [nil]),
        ]
        for (name, dtype, shape) in expected {
            guard let t = tensors[name], t.dtype == dtype, t.shape.count == shape.count,
                  zip(t.shape, shape).allSatisfy({ $1 == nil || $0 == $1! }) else {
                throw DatasetError("\(url.lastPathComponent): tensor '\(name)' is missing or is not \(dtype) \(shape.map { $0.map(String.init) ?? "N" })")
            }
        }
        self.tensors = tensors
    }

    func rowBytes(_ t: Entry) -> Int { (t.end - t.begin) / max(1, t.shape[0]) }

    func check(_ name: String, _ rows: Range<Int>) throws -> Entry {
        guard let t = tensors[name] else { throw DatasetError("\(url.lastPathComponent) has no '\(name)'") }
        guard rows.lowerBound >= 0, rows.upperBound <= t.shape[0] else {
            throw DatasetError("\(url.lastPathComponent): rows \(rows) of '\(name)' outside 0..<\(t.shape[0]) (index and shard disagree)")
        }
        return t
    }

    func frames(rows: [Int]) throws -> Tensor {
        let t = try check("frames", 0..<(rows.map { $0 + 1 }.max() ?? 0))
        let rb = rowBytes(t)
        var out = [UInt8](repeating: 0, count: rows.count * rb)
        out.withUnsafeMutableBytes { dst in
            for (k, r) in rows.enumerated() {
                let from = dataStart + t.begin + r * rb
                data.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: dst[(k * rb)..<((k + 1) * rb)]), from: from..<(from + rb))
            }
        }
        return try Tensor(out, shape: [rows.count] + Array(t.shape.dropFirst()))
    }

    func floats(_ name: String, rows: Range<Int>) throws -> Tensor {
        let t = try check(name, rows)
        let rb = rowBytes(t)
        var out = [Float](repeating: 0, count: rows.count * rb / 4)
        let from = dataStart + t.begin + rows.lowerBound * rb
        _ = out.withUnsafeMutableBytes { data.copyBytes(to: $0, from: from..<(from + rows.count * rb)) }
        return try Tensor(out, shape: [rows.count] + Array(t.shape.dropFirst()))
    }
}
