import Foundation

/// Writes one corpus shard as a safetensors file without holding its frames in memory: the frames are
/// streamed to a temporary file behind a reserved header area, the small per-frame tensors are appended at
/// the end, then the header (padded with spaces, as the format allows) is written in front and the file is
/// renamed into place, so a shard either exists complete or not at all.
///
/// Tensors: `frames` U8 N×3×S×S, `coefficients` F32 N×D, `boxes` F32 N×3 (crop square x, y, side in video
/// pixels), `mfcc` F32 N×R×C, `audio` F32 A (16 kHz mono of all segments, in order).
final class ShardWriter {
    static let reservedHeaderBytes = 64 * 1024
    static let format = "tgdm-corpus-shard-v1"

    let url: URL
    let cropSize: Int
    let coefficientCount: Int
    let mfccShape: (rows: Int, coefficients: Int)
    private let temporary: URL
    private let handle: FileHandle
    private(set) var frameCount = 0
    private var coefficients: [Float] = []
    private var boxes: [Float] = []
    private var mfcc: [Float] = []
    private(set) var audio: [Float] = []
    private var finished = false

    init(url: URL, cropSize: Int, coefficientCount: Int, mfccShape: (rows: Int, coefficients: Int)) throws {
        self.url = url
        self.cropSize = cropSize
        self.coefficientCount = coefficientCount
        self.mfccShape = mfccShape
        temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data(count: 8 + Self.reservedHeaderBytes)) else {
            throw DatasetError("cannot create \(temporary.path)")
        }
        handle = try FileHandle(forWritingTo: temporary)
        try handle.seekToEnd()
    }

    deinit { if !finished { abandon() } }

    /// Appends one frame (`pixels`: S×S×3 interleaved RGB) and its per-frame values.
    func append(pixels: [UInt8], coefficients rho: [Float], box: (Double, Double, Double), mfcc clip: [Float]) throws {
        let s = cropSize
        guard pixels.count == s * s * 3, rho.count == coefficientCount, clip.count == mfccShape.rows * mfccShape.coefficients else {
            throw DatasetError("shard frame has the wrong size")
        }
        var planar = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            planar.withUnsafeMutableBufferPointer { dst in
                for i in 0..<(s * s) {
                    dst[i] = src[3 * i]; dst[s * s + i] = src[3 * i + 1]; dst[2 * s * s + i] = src[3 * i + 2]
                }
            }
        }
        try handle.write(contentsOf: planar)
        coefficients += rho
        boxes += [Float(box.0), Float(box.1), Float(box.2)]
        mfcc += clip
        frameCount += 1
    }

    func appendAudio(_ samples: ArraySlice<Float>) { audio += samples }

    /// Completes the file (header in front, rename into place); returns its size in bytes.
    func finish() throws -> Int {
        precondition(!finished)
        let n = frameCount, s = cropSize
        var header: [String: Any] = [:]
        var offset = 0
        func entry(_ name: String, _ dtype: String, _ shape: [Int], _ bytes: Int) {
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        entry("frames", "U8", [n, 3, s, s], n * 3 * s * s)
        let tail: [(String, [Int], [Float])] = [
            ("coefficients", [n, coefficientCount], coefficients), ("boxes", [n, 3], boxes),
            ("mfcc", [n, mfccShape.rows, mfccShape.coefficients], mfcc), ("audio", [audio.count], audio),
        ]
        for (name, shape, values) in tail {
            entry(name, "F32", shape, values.count * 4)
            try values.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
        }
        header["__metadata__"] = ["format": Self.format]
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        guard json.count <= Self.reservedHeaderBytes else { throw DatasetError("shard header of \(json.count) bytes does not fit") }
        json.append(Data(repeating: 0x20, count: Self.reservedHeaderBytes - json.count))
        var length = UInt64(Self.reservedHeaderBytes).littleEndian
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: Data(bytes: &length, count: 8))
        try handle.write(contentsOf: json)
        try handle.synchronize()
        try handle.close()
        finished = true
        guard rename(temporary.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw DatasetError("cannot rename \(temporary.lastPathComponent) to \(url.lastPathComponent): \(String(cString: strerror(errno)))")
        }
        return 8 + Self.reservedHeaderBytes + offset
    }

    /// Drops the partial file.
    func abandon() {
        guard !finished else { return }
        finished = true
        try? handle.close()
        try? FileManager.default.removeItem(at: temporary)
    }
}
