import Foundation

/// Mouth shapes of English speech, the targets that phonemes are mapped to.
public enum Viseme: String, CaseIterable, Sendable {
    case silence        // pause: lips at rest
    case bilabial       // p b m: lips pressed shut
    case labiodental    // f v: lower lip under the upper teeth
    case dental         // θ ð: tongue between the teeth
    case alveolar       // t d n l
    case sibilant       // s z: teeth close, lips spread
    case postalveolar   // ʃ ʒ tʃ dʒ: lips funnelled
    case velar          // k g ŋ h
    case rhotic         // r: slight rounding
    case open           // a ɑ ʌ: jaw wide open
    case mid            // e ɛ ə ɜ
    case spread         // i ɪ j: lips spread
    case roundOpen      // ɒ ɔ o: open and rounded
    case rounded        // u ʊ w: lips pursed

    /// Blendshape weights (ARKit names of the face model's expression basis; 1 = unit fully on).
    public var blendshapes: [String: Double] {
        switch self {
        case .silence: return [:]
        case .bilabial: return ["mouthPressLeft": 0.5, "mouthPressRight": 0.5, "mouthRollLower": 0.15, "mouthRollUpper": 0.1]
        case .labiodental: return ["mouthRollLower": 0.55, "mouthUpperUpLeft": 0.25, "mouthUpperUpRight": 0.25, "jawOpen": 0.08]
        case .dental: return ["jawOpen": 0.15, "tongueOut": 0.25, "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1]
        case .alveolar: return ["jawOpen": 0.18, "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1]
        case .sibilant: return ["jawOpen": 0.08, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthUpperUpLeft": 0.1,
                                "mouthUpperUpRight": 0.1, "mouthLowerDownLeft": 0.15, "mouthLowerDownRight": 0.15]
        case .postalveolar: return ["jawOpen": 0.12, "mouthFunnel": 0.5, "mouthPucker": 0.25]
        case .velar: return ["jawOpen": 0.25, "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1]
        case .rhotic: return ["jawOpen": 0.15, "mouthPucker": 0.3, "mouthFunnel": 0.25]
        case .open: return ["jawOpen": 0.65, "mouthLowerDownLeft": 0.25, "mouthLowerDownRight": 0.25, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1]
        case .mid: return ["jawOpen": 0.4, "mouthStretchLeft": 0.25, "mouthStretchRight": 0.25, "mouthLowerDownLeft": 0.15, "mouthLowerDownRight": 0.15]
        case .spread: return ["jawOpen": 0.18, "mouthStretchLeft": 0.45, "mouthStretchRight": 0.45, "mouthSmileLeft": 0.15, "mouthSmileRight": 0.15]
        case .roundOpen: return ["jawOpen": 0.45, "mouthFunnel": 0.55, "mouthPucker": 0.15]
        case .rounded: return ["jawOpen": 0.15, "mouthPucker": 0.65, "mouthFunnel": 0.3]
        }
    }

    /// Cohen-Massaro dominance: how strongly the viseme holds its shape against its neighbours. Lip
    /// closures (p b m) and lip-teeth contact (f v) must be reached, so they dominate.
    public var dominance: Double {
        switch self {
        case .bilabial, .labiodental: return 3.0
        case .silence: return 0.6
        case .open, .mid, .spread, .roundOpen, .rounded: return 0.9
        default: return 1.0
        }
    }

    /// How far (seconds) the viseme's influence reaches beyond its segment (anticipation and carry-over).
    public var reach: Double {
        switch self {
        case .bilabial, .labiodental: return 0.025   // strong but brief: closures are sharp
        case .silence, .open, .mid, .spread, .roundOpen, .rounded, .rhotic: return 0.06
        default: return 0.04
        }
    }
}

/// espeak-ng's English phoneme mnemonics → visemes. Diphthongs map to two visemes, each taking half of
/// the phoneme's duration.
public enum PhonemeVisemes {
    static let table: [String: [Viseme]] = [
        // consonants
        "p": [.bilabial], "b": [.bilabial], "m": [.bilabial],
        "f": [.labiodental], "v": [.labiodental],
        "T": [.dental], "D": [.dental],
        "t": [.alveolar], "d": [.alveolar], "n": [.alveolar], "l": [.alveolar], "t#": [.alveolar], "d#": [.alveolar],
        "@L": [.mid, .alveolar], "l/": [.alveolar], "n-": [.alveolar], "?": [.alveolar],
        "s": [.sibilant], "z": [.sibilant],
        "S": [.postalveolar], "Z": [.postalveolar], "tS": [.postalveolar], "dZ": [.postalveolar],
        "k": [.velar], "g": [.velar], "N": [.velar], "h": [.velar], "x": [.velar],
        "r": [.rhotic], "r-": [.rhotic], "w": [.rounded], "j": [.spread],
        // vowels
        "a": [.open], "a#": [.open], "A:": [.open], "A@": [.open, .rhotic], "V": [.open], "aa": [.open],
        "@": [.mid], "@2": [.mid], "@5": [.mid], "3": [.mid], "3:": [.mid, .rhotic], "e": [.mid], "E": [.mid],
        "i": [.spread], "i:": [.spread], "I": [.spread], "I2": [.spread], "I#": [.spread],
        "0": [.roundOpen], "O": [.roundOpen], "O2": [.roundOpen], "O:": [.roundOpen], "O@": [.roundOpen, .rhotic], "o@": [.roundOpen, .rhotic],
        "u": [.rounded], "u:": [.rounded], "U": [.rounded], "u@": [.rounded, .mid],
        // diphthongs
        "aI": [.open, .spread], "aI@": [.open, .spread], "aU": [.open, .rounded], "aU@": [.open, .rounded],
        "eI": [.mid, .spread], "e@": [.mid, .mid], "i@": [.spread, .mid], "i@3": [.spread, .mid], "U@": [.rounded, .mid],
        "oU": [.roundOpen, .rounded], "OI": [.roundOpen, .spread], "IR": [.spread, .rhotic], "VR": [.open, .rhotic],
    ]

    /// The visemes of one phoneme. Stress and length marks are ignored; unknown mnemonics fall back on
    /// their first letter, so any phoneme string maps somewhere.
    public static func visemes(for phoneme: String) -> [Viseme] {
        let p = phoneme.filter { $0 != "'" && $0 != "," && $0 != "%" && $0 != "=" }
        if p.isEmpty || p.hasPrefix("_") || p == ";" { return [.silence] }
        if let v = table[p] { return v }
        if p.count > 1, let v = table[String(p.dropLast())] { return v }   // e.g. a trailing length mark
        guard let first = p.first else { return [.silence] }
        if let v = table[String(first)] { return v }
        return "aeiouAEIOUV03@".contains(first) ? [.mid] : [.alveolar]
    }
}
