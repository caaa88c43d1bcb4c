import Foundation
import Torch

/// One phoneme of synthesised speech and when it is spoken, in seconds from the start of the audio.
public struct PhonemeSegment: Sendable, Equatable {
    /// espeak-ng's phoneme mnemonic (e.g. "h", "@", "l", "oU"); "_" is a pause.
    public var phoneme: String
    public var start: Double
    public var end: Double
    public var duration: Double { end - start }
}

/// Text-to-speech with espeak-ng (through libespeak-ng, which the espeak-ng program installs), giving a
/// 16 kHz mono WAV and per-phoneme timings.
///
/// Timings come from libespeak-ng's phoneme events (each event carries the phoneme and its position
/// in the generated audio, in ms); a phoneme ends where the next one starts, and the last one ends at
/// the end of the audio. Synthesis runs at espeak's native rate (22050 Hz) and is resampled to the
/// requested rate with ffmpeg; timings are in seconds, so they do not change.
public enum SpeechSynthesizer {
    public struct Options: Sendable, Equatable {
        /// An espeak-ng voice name ("en", "en-us", "de", ... see `espeak-ng --voices`).
        public var voice = "en"
        /// Words per minute, 80...450 (espeak-ng's default is 175).
        public var rate = 175
        /// Base pitch, 0...99 (default 50).
        public var pitch = 50
        /// Volume, 0...200 (default 100).
        public var amplitude = 100
        /// Output sample rate of the WAV file.
        public var sampleRate = 16000
        public init() {}
    }

    public struct Result: Sendable {
        public var phonemes: [PhonemeSegment]
        /// Seconds of audio written.
        public var duration: Double
    }

    /// Speaks `text` into a mono 16-bit WAV at `url` (written atomically) and returns its phonemes.
    public static func synthesize(_ text: String, options: Options = Options(), to url: URL) throws -> Result {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw MediaError.invalidArgument("cannot speak empty text") }
        guard text.utf8.count <= 100_000 else { throw MediaError.invalidArgument("text too long (\(text.utf8.count) bytes, limit 100000)") }
        guard (80...450).contains(options.rate) else { throw MediaError.invalidArgument("rate must be 80...450 wpm, got \(options.rate)") }
        guard (0...99).contains(options.pitch) else { throw MediaError.invalidArgument("pitch must be 0...99, got \(options.pitch)") }
        guard (0...200).contains(options.amplitude) else { throw MediaError.invalidArgument("amplitude must be 0...200, got \(options.amplitude)") }
        guard (8000...48000).contains(options.sampleRate) else { throw MediaError.invalidArgument("sample rate must be 8000...48000") }
        guard !options.voice.isEmpty, options.voice.allSatisfy({ $0.isLetter || $0.isNumber || "-_+/".contains($0) }) else {
            throw MediaError.invalidArgument("bad voice name '\(options.voice)'")
        }

        let (native, nativeRate, events) = try synthesizeNative(text, options: options)
        guard !native.isEmpty else { throw MediaError.emptyAudio("espeak-ng produced no audio for the text") }
        let duration = Double(native.count) / Double(nativeRate)
        let phonemes = segments(from: events, duration: duration)
        // Punctuation or symbols alone make espeak-ng emit pauses only: a talking face of silence is an error.
        guard phonemes.contains(where: { !isPause($0.phoneme) }) else {
            throw MediaError.invalidArgument("the text has no speakable words")
        }

        // Resample to the requested rate with ffmpeg (a temporary WAV at the native rate goes in).
        let dir = url.deletingLastPathComponent()
        let tmpIn = FileManager.default.temporaryDirectory.appendingPathComponent("tgdm-speech-\(UUID().uuidString).wav")
        defer { try? FileManager.default.removeItem(at: tmpIn) }
        try WAVWriter.write(native, sampleRate: nativeRate, to: tmpIn)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw MediaError.io("cannot create \(dir.path): \(error.localizedDescription)")
        }
        AtomicFile.removeStaleTemporaries(in: dir)
        let tmpOut = AtomicFile.temporarySibling(of: url, suffix: ".wav")
        defer { try? FileManager.default.removeItem(at: tmpOut) }
        _ = try ExternalTool.runChecked("ffmpeg", ["-v", "error", "-nostdin", "-y", "-i", tmpIn.path, "-ar", String(options.sampleRate),
                                                   "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", tmpOut.path])
        if rename(tmpOut.path, url.path) != 0 {
            throw MediaError.io("cannot move the speech WAV to \(url.path): \(String(cString: strerror(errno)))")
        }
        return Result(phonemes: phonemes, duration: duration)
    }

    /// espeak-ng's pause mnemonics (and the leading-silence segment).
    static func isPause(_ phoneme: String) -> Bool { phoneme.allSatisfy { $0 == "_" || $0 == ":" || $0 == " " } }

    /// A raw phoneme event: mnemonic and audio position in ms.
    struct Event { var phoneme: String; var milliseconds: Int }

    /// Turns start events into contiguous segments covering [0, duration]: leading silence before the
    /// first event becomes a pause "_", and zero-length events are dropped.
    static func segments(from events: [Event], duration: Double) -> [PhonemeSegment] {
        var out = [PhonemeSegment]()
        if let first = events.first, first.milliseconds > 0 {
            out.append(PhonemeSegment(phoneme: "_", start: 0, end: min(duration, Double(first.milliseconds) / 1000)))
        }
        for (i, e) in events.enumerated() {
            let start = min(duration, Double(e.milliseconds) / 1000)
            let end = i + 1 < events.count ? min(duration, Double(events[i + 1].milliseconds) / 1000) : duration
            if end > start { out.append(PhonemeSegment(phoneme: e.phoneme, start: start, end: end)) }
        }
        return out
    }

    // MARK: - libespeak-ng

    /// Collects the callback's output; the C callback cannot capture context, and the library lock
    /// guarantees one synthesis at a time.
    nonisolated(unsafe) private static var collectedSamples = [Float]()
    nonisolated(unsafe) private static var collectedEvents = [Event]()

    private static let callback: ESpeakLibrary.SynthCallback = { wav, count, events in
        if let wav, count > 0 {
            for i in 0..<Int(count) { SpeechSynthesizer.collectedSamples.append(Float(wav[i]) / 32768) }
        }
        guard let events else { return 0 }
        var p = events
        while true {
            let type = p.load(fromByteOffset: 0, as: Int32.self)
            if type == ESpeakLibrary.eventListTerminated { break }
            if type == ESpeakLibrary.eventPhoneme {
                let ms = p.load(fromByteOffset: 16, as: Int32.self)
                var bytes = [UInt8](repeating: 0, count: 9)
                for k in 0..<8 { bytes[k] = p.load(fromByteOffset: 32 + k, as: UInt8.self) }
                let name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                SpeechSynthesizer.collectedEvents.append(Event(phoneme: name, milliseconds: Int(ms)))
            }
            p += ESpeakLibrary.eventSize
        }
        return 0
    }

    static func synthesizeNative(_ text: String, options: Options) throws -> ([Float], Int, [Event]) {
        ESpeakLibrary.lock.lock()
        defer { ESpeakLibrary.lock.unlock() }
        let lib = try ESpeakLibrary.load()
        collectedSamples = []
        collectedEvents = []
        defer { collectedSamples = []; collectedEvents = [] }
        lib.setSynthCallback(callback)
        guard lib.setVoiceByName(options.voice) == 0 else {
            throw MediaError.invalidArgument("espeak-ng has no voice '\(options.voice)' (see espeak-ng --voices)")
        }
        _ = lib.setParameter(ESpeakLibrary.parameterRate, Int32(options.rate), 0)
        _ = lib.setParameter(ESpeakLibrary.parameterPitch, Int32(options.pitch), 0)
        _ = lib.setParameter(ESpeakLibrary.parameterVolume, Int32(options.amplitude), 0)
        var uid: UInt32 = 0
        let rc: Int32 = text.withCString { cs in
            lib.synth(cs, strlen(cs) + 1, 0, ESpeakLibrary.positionCharacter, 0, ESpeakLibrary.charsUTF8, &uid, nil)
        }
        guard rc == 0 else { throw MediaError.toolFailed("espeak_Synth failed with code \(rc)") }
        _ = lib.synchronize()
        return (collectedSamples, lib.sampleRate, collectedEvents)
    }
}
