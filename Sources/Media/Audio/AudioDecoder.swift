import Foundation

/// Decodes any audio ffmpeg can read (WAV, MP3, AAC, the audio track of an MP4, ...) to mono float
/// samples in [-1, 1] at a chosen rate, through an ffmpeg f32le pipe. Channels are mixed with
/// ffmpeg's default downmix (`-ac 1`: identical channels give the signal back unchanged; a signal in
/// one stereo channel only comes out scaled by 1/√2) and resampling uses ffmpeg's default swresample.
public enum AudioDecoder {
    /// Mono samples at `sampleRate`. Throws `fileNotFound`, `unsupportedFormat` (not a media file),
    /// `emptyAudio` (no audio stream, or zero samples) or `corruptData`.
    public static func decode(_ url: URL, sampleRate: Int = 16000) throws -> [Float] {
        var samples: [Float] = []
        try decode(url, sampleRate: sampleRate) { samples.append(contentsOf: $0) }
        return samples
    }

    /// Streams the samples to `body` in pieces of at most `chunk` samples as ffmpeg decodes them, so memory does
    /// not grow with the length of the audio. Same errors as `decode(_:sampleRate:)`; an error thrown by `body`
    /// stops ffmpeg and is rethrown. Returns the number of samples.
    @discardableResult
    public static func decode(_ url: URL, sampleRate: Int = 16000, chunk: Int = 1 << 16, _ body: ([Float]) throws -> Void) throws -> Int {
        guard FileManager.default.fileExists(atPath: url.path) else { throw MediaError.fileNotFound(url.path) }
        guard (1000...384_000).contains(sampleRate) else {
            throw MediaError.invalidArgument("sample rate must be 1000...384000 Hz, got \(sampleRate)")
        }
        var count = 0
        var carry = Data()   // a sample split between two reads
        let r = try ExternalTool.stream("ffmpeg", ["-v", "error", "-nostdin", "-i", url.path, "-map", "0:a:0",
                                                   "-ac", "1", "-ar", String(sampleRate), "-f", "f32le", "-"],
                                        chunkBytes: max(1, chunk) * MemoryLayout<Float>.size) { bytes in
            carry.append(bytes)
            let n = carry.count / MemoryLayout<Float>.size
            guard n > 0 else { return }
            let whole = carry.startIndex..<(carry.startIndex + n * MemoryLayout<Float>.size)
            var samples = [Float](repeating: 0, count: n)
            _ = samples.withUnsafeMutableBytes { carry.copyBytes(to: $0, from: whole) }
            carry = carry.subdata(in: whole.upperBound..<carry.endIndex)
            if let bad = samples.firstIndex(where: { !$0.isFinite }) {
                throw MediaError.corruptData("\(url.path): non-finite sample at index \(count + bad)")
            }
            count += n
            try body(samples)
        }
        let err = ExternalTool.tail(r.stderr)
        if r.status != 0 {
            if r.stderr.contains("matches no streams") { throw MediaError.emptyAudio("\(url.path) has no audio stream") }
            if r.stderr.contains("Invalid data found") || r.stderr.contains("could not find codec")
                || r.stderr.contains("moov atom not found") {
                throw MediaError.unsupportedFormat("\(url.path) is not a readable audio file: \(err)")
            }
            throw MediaError.corruptData("decoding audio of \(url.path) failed: \(err)")
        }
        guard count > 0 else { throw MediaError.emptyAudio("\(url.path) decodes to zero samples") }
        return count
    }

    /// The duration in seconds that ffprobe reports for the first audio stream (no decoding).
    public static func duration(of url: URL) throws -> Double {
        guard FileManager.default.fileExists(atPath: url.path) else { throw MediaError.fileNotFound(url.path) }
        let r = try ExternalTool.run("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries",
                                                 "stream=duration:format=duration", "-of", "default=nw=1:nk=1", url.path])
        guard r.status == 0 else { throw MediaError.unsupportedFormat("\(url.path): \(ExternalTool.tail(r.stderr))") }
        return try parseDuration(r.stdout, path: url.path)
    }

    /// The first usable line of ffprobe's `default=nw=1:nk=1` duration output ("N/A", "nan" and "inf" are not).
    static func parseDuration(_ output: Data, path: String) throws -> Double {
        let values = String(decoding: output, as: UTF8.self).split(separator: "\n")
            .compactMap { VideoProbe.parseSeconds(String($0).trimmingCharacters(in: .whitespaces)) }
        guard let d = values.first(where: { $0 > 0 }) else { throw MediaError.emptyAudio("\(path) has no audio duration") }
        return d
    }
}

/// Writes 16-bit PCM mono WAV files (no external tool needed).
public enum WAVWriter {
    /// Writes `samples` (clamped to [-1, 1]) atomically. Throws on an empty signal or NaN.
    public static func write(_ samples: [Float], sampleRate: Int, to url: URL) throws {
        guard !samples.isEmpty else { throw MediaError.emptyAudio("refusing to write an empty WAV to \(url.path)") }
        guard (1000...384_000).contains(sampleRate) else { throw MediaError.invalidArgument("bad sample rate \(sampleRate)") }
        guard samples.count < (Int(UInt32.max) - 44) / 2 else { throw MediaError.invalidArgument("signal too long for WAV") }
        if samples.contains(where: { !$0.isFinite }) { throw MediaError.invalidArgument("audio contains NaN or infinite samples") }
        var data = Data(capacity: 44 + samples.count * 2)
        func u32(_ v: Int) { var x = UInt32(v).littleEndian; withUnsafeBytes(of: &x) { data.append(contentsOf: $0) } }
        func u16(_ v: Int) { var x = UInt16(v).littleEndian; withUnsafeBytes(of: &x) { data.append(contentsOf: $0) } }
        data.append(contentsOf: Array("RIFF".utf8)); u32(36 + samples.count * 2)
        data.append(contentsOf: Array("WAVE".utf8))
        data.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(1); u32(sampleRate); u32(sampleRate * 2); u16(2); u16(16)
        data.append(contentsOf: Array("data".utf8)); u32(samples.count * 2)
        var pcm = [Int16](repeating: 0, count: samples.count)
        for i in 0..<samples.count { pcm[i] = Int16((Swift.min(1, Swift.max(-1, samples[i])) * 32767).rounded()).littleEndian }
        pcm.withUnsafeBytes { data.append(contentsOf: $0) }
        try writeFileAtomically(data, to: url)
    }
}
