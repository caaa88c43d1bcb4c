import Torch
import Foundation
import Media

/// An espeak-ng voice configuration: one synthetic "speaker" of the training data.
public struct VoiceStyle: Codable, Equatable, Sendable {
    public var voice: String
    public var rate: Int
    public var pitch: Int
    public init(voice: String, rate: Int, pitch: Int) { self.voice = voice; self.rate = rate; self.pitch = pitch }
    public var name: String { "\(voice)@\(rate)wpm/p\(pitch)" }
}

/// A phoneme and when it is spoken (seconds).
public struct TimedPhoneme: Codable, Equatable, Sendable {
    public var phoneme: String
    public var start: Double
    public var end: Double
    public init(phoneme: String, start: Double, end: Double) { self.phoneme = phoneme; self.start = start; self.end = end }
}

/// One synthesised utterance: MFCC clips aligned to video frames and the phoneme timings behind them.
public struct SpokenUtterance {
    public let sentence: String
    public let sentenceIndex: Int
    public let style: VoiceStyle
    /// T×R×13 MFCC clips, one per frame.
    public let mfcc: Tensor
    public let phonemes: [TimedPhoneme]
    public var frames: Int { mfcc.size(0) }
    public var timedPhonemes: [(phoneme: String, start: Double, end: Double)] { phonemes.map { ($0.phoneme, $0.start, $0.end) } }
}

/// Speech for EmoA2E training and evaluation, made with espeak-ng (Media.SpeechSynthesizer) at 25 fps
/// and cut into per-frame MFCC clips (Media.MFCCClips). Light white noise (random SNR) is mixed in
/// before the MFCCs so the network does not depend on espeak's perfectly clean signal.
public struct SpeechCorpusBuilder {
    public var fps: Double = 25
    public var rowsPerFrame: Int = 20
    public var mfccConfig = MFCCConfig()
    /// Signal-to-noise ratio range (dB) of the added noise; nil: no noise.
    public var snrRange: ClosedRange<Double>? = 25...45

    public init(fps: Double = 25, rowsPerFrame: Int = 20) {
        self.fps = fps
        self.rowsPerFrame = rowsPerFrame
    }

    public func speak(_ sentence: String, index: Int, style: VoiceStyle, workDirectory: URL, rng: inout SplitMix64) throws -> SpokenUtterance {
        var options = SpeechSynthesizer.Options()
        options.voice = style.voice
        options.rate = style.rate
        options.pitch = style.pitch
        options.sampleRate = mfccConfig.sampleRate
        let wav = workDirectory.appendingPathComponent("utt-\(index)-\(UUID().uuidString).wav")
        defer { try? FileManager.default.removeItem(at: wav) }
        let result = try SpeechSynthesizer.synthesize(sentence, options: options, to: wav)
        var samples = try AudioDecoder.decode(wav, sampleRate: mfccConfig.sampleRate)
        if let snr = snrRange {
            let power = samples.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(samples.count, 1))
            let db = snr.lowerBound + Double(rng.next() % 10_000) / 10_000 * (snr.upperBound - snr.lowerBound)
            let sigma = Float((power / Foundation.pow(10, db / 10)).squareRoot())
            for i in samples.indices { samples[i] += sigma * Self.gaussian(&rng) }
        }
        let clipper = try MFCCClips(rowsPerClip: rowsPerFrame, fps: fps)
        let features = try MFCC(config: mfccConfig).compute(samples)
        let frames = max(1, clipper.frameCount(sampleCount: samples.count, sampleRate: mfccConfig.sampleRate))
        let mfcc = try clipper.clips(from: features, config: mfccConfig, frameCount: frames)
        return SpokenUtterance(sentence: sentence, sentenceIndex: index, style: style, mfcc: mfcc,
                               phonemes: result.phonemes.map { TimedPhoneme(phoneme: $0.phoneme, start: $0.start, end: $0.end) })
    }

    static func gaussian(_ rng: inout SplitMix64) -> Float {
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12), u2 = Double(rng.next() >> 11) / Double(1 << 53)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}

/// The sentences of the synthetic corpus (written for this project). The last 12 are held out: never
/// spoken in training, used to measure lip-sync on unseen text.
public enum SpeechCorpusText {
    public static let heldOutCount = 12

    public static let sentences: [String] = [
        "The morning bus was late again, so we walked to the station.",
        "Please pass me the blue bowl from the top shelf.",
        "My brother fixed the broken fence behind the barn.",
        "We should meet at noon by the big fountain in the park.",
        "She found five valuable coins buried under the old oak tree.",
        "Bring a warm jacket, the evening breeze gets very cold.",
        "The puppy chewed through my favourite pair of boots.",
        "Thank you for waiting, the doctor will see you now.",
        "Fresh bread smells wonderful when it comes out of the oven.",
        "Our team played better in the second half of the match.",
        "I can't believe the museum is closed on a Monday.",
        "Move the heavy boxes into the garage before it rains.",
        "He whispered the secret password through the half open door.",
        "The farmer grows beans, peas and potatoes every summer.",
        "Would you like some milk or lemon with your tea?",
        "The bridge over the river was built a hundred years ago.",
        "Measure twice and cut once when you work with wood.",
        "Maybe we could visit my grandmother next weekend.",
        "The violin player bowed politely after the final song.",
        "Turn left at the pharmacy and the bakery is on your right.",
        "A flock of geese flew south over the frozen pond.",
        "Remember to water the plants while I am away.",
        "The children built a snowman with a carrot nose.",
        "Every Friday the market sells fish straight from the boat.",
        "Why do we always lose the remote control?",
        "The thunder woke the whole village in the middle of the night.",
        "Keep your voice down, the baby is finally asleep.",
        "Paul bought a purple umbrella for his mother.",
        "The quiz show asked about famous mountains and rivers.",
        "Vivid paintings covered every wall of the gallery.",
        "My phone battery died just before the movie started.",
        "The chef chopped the onions with a very sharp knife.",
        "Nobody knew who had left the mysterious package.",
        "Join us for dinner, we are making pumpkin soup.",
        "The train to Boston leaves from platform seven.",
        "Bees buzzed busily around the bright yellow flowers.",
        "I would rather walk than wait for another taxi.",
        "The judge listened carefully to both sides of the story.",
        "Open the window, it is far too warm in here.",
        "We measured the room and ordered a new carpet.",
        "The lighthouse keeper watched the ships pass by.",
        "Mix the flour, the sugar and the butter in a large bowl.",
        "Hurry up, the show begins in five minutes.",
        "Grandpa told us stories about his years at sea.",
        "The library will be closed for repairs until June.",
        "My favourite fruit is a ripe juicy mango.",
        "They painted the kitchen a soft shade of green.",
        "The pilot announced that we would land in twenty minutes.",
        "Wash your hands before you sit down to eat.",
        "The moon looked enormous above the mountains tonight.",
        "Please remember to feed the cat before you leave.",
        "Who wants to play football after school tomorrow?",
        "The old clock in the hall stopped at midnight.",
        "Fifty people waited patiently outside the theatre.",
        "Zebras and giraffes roamed across the wide open plain.",
        "I have never seen such a beautiful sunset before.",
        "The workers repaired the road in only three days.",
        "Could you show me how this machine works?",
        "We packed sandwiches, apples and water for the hike.",
        "The quiet student surprised everyone with her speech.",
        // held out
        "The postman brought a parcel wrapped in brown paper.",
        "Mother baked a blueberry pie for the family picnic.",
        "Few of the visitors noticed the painting by the window.",
        "The engine made a strange noise on the motorway.",
        "Switch off the lights when you leave the office.",
        "My neighbour plays the piano every evening at eight.",
        "The river flooded the fields after the heavy storm.",
        "Please put the books back where you found them.",
        "Victor ordered a big bowl of vegetable soup.",
        "The museum guide showed us a famous marble statue.",
        "We watched the fireworks from the top of the hill.",
        "Thousands of people marched peacefully through the city.",
    ]

    public static var trainingIndices: Range<Int> { 0..<(sentences.count - heldOutCount) }
    public static var heldOutIndices: Range<Int> { (sentences.count - heldOutCount)..<sentences.count }
}

/// Saves synthesised utterances (MFCC clips + phoneme timings) so a rerun with the same plan skips synthesis.
public enum SpokenUtteranceCache {
    struct Entry: Codable { var sentence: String; var index: Int; var style: VoiceStyle; var phonemes: [TimedPhoneme] }

    public static func save(_ utterances: [SpokenUtterance], key: String, to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        var entries: [Entry] = []
        for (i, u) in utterances.enumerated() {
            tensors["mfcc.\(i)"] = u.mfcc
            entries.append(Entry(sentence: u.sentence, index: u.sentenceIndex, style: u.style, phonemes: u.phonemes))
        }
        let json = String(decoding: try JSONEncoder().encode(entries), as: UTF8.self)
        try Safetensors.save(tensors, metadata: ["key": key, "utterances": json], to: url)
    }

    /// The cached utterances, or nil when the file is missing, unreadable or made with another key.
    public static func load(key: String, from url: URL) -> [SpokenUtterance]? {
        guard FileManager.default.fileExists(atPath: url.path), let file = try? Safetensors.load(url), file.metadata["key"] == key,
              let json = file.metadata["utterances"], let entries = try? JSONDecoder().decode([Entry].self, from: Data(json.utf8)) else { return nil }
        var out: [SpokenUtterance] = []
        for (i, e) in entries.enumerated() {
            guard let mfcc = file.tensors["mfcc.\(i)"] else { return nil }
            out.append(SpokenUtterance(sentence: e.sentence, sentenceIndex: e.index, style: e.style, mfcc: mfcc, phonemes: e.phonemes))
        }
        return out
    }
}
