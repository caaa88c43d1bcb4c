import Foundation

/// MEAD's eight emotions (paper Sec. 5) and the face-model expression offsets used to synthesise
/// emotional training targets: a designed blendshape pose per emotion at full intensity (η = 3), scaled
/// by η / 3, plus a change of articulation strength (sad speech is smaller, surprised speech larger).
public enum MEADEmotion: String, CaseIterable, Codable, Sendable {
    case neutral, angry, contempt, disgusted, fear, happy, sad, surprised

    /// Blendshape weights at η = 3 (ARKit names).
    public var blendshapes: [String: Double] {
        switch self {
        case .neutral: return [:]
        case .happy: return ["mouthSmileLeft": 0.7, "mouthSmileRight": 0.7, "cheekSquintLeft": 0.5, "cheekSquintRight": 0.5,
                             "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2]
        case .sad: return ["mouthFrownLeft": 0.6, "mouthFrownRight": 0.6, "browInnerUp": 0.6, "mouthShrugLower": 0.3,
                           "eyeBlinkLeft": 0.15, "eyeBlinkRight": 0.15]
        case .angry: return ["browDownLeft": 0.8, "browDownRight": 0.8, "noseSneerLeft": 0.4, "noseSneerRight": 0.4,
                             "mouthPressLeft": 0.3, "mouthPressRight": 0.3, "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3]
        case .surprised: return ["browInnerUp": 0.7, "browOuterUpLeft": 0.8, "browOuterUpRight": 0.8, "eyeWideLeft": 0.7,
                                 "eyeWideRight": 0.7, "jawOpen": 0.15]
        case .fear: return ["browInnerUp": 0.8, "browOuterUpLeft": 0.3, "browOuterUpRight": 0.3, "eyeWideLeft": 0.6,
                            "eyeWideRight": 0.6, "mouthStretchLeft": 0.5, "mouthStretchRight": 0.5]
        case .disgusted: return ["noseSneerLeft": 0.7, "noseSneerRight": 0.7, "mouthUpperUpLeft": 0.5, "mouthUpperUpRight": 0.5,
                                 "browDownLeft": 0.4, "browDownRight": 0.4, "mouthFrownLeft": 0.2, "mouthFrownRight": 0.2]
        case .contempt: return ["mouthSmileLeft": 0.5, "mouthDimpleLeft": 0.4, "eyeSquintLeft": 0.15, "mouthPressRight": 0.2,
                                "browDownRight": 0.15]
        }
    }

    /// Articulation (viseme) strength at η = 3.
    public var articulation: Double {
        switch self {
        case .neutral: return 1.0
        case .happy: return 1.05
        case .sad: return 0.75
        case .angry: return 1.1
        case .surprised: return 1.15
        case .fear: return 0.9
        case .disgusted: return 0.9
        case .contempt: return 0.85
        }
    }

    /// Prompt words used for training ("a happy face" ...).
    public var trainingWords: [String] {
        switch self {
        case .contempt: return ["contempt", "contemptuous"]
        case .fear: return ["fear", "fearful"]
        default: return [rawValue]
        }
    }

    /// Synonyms never seen in training, to test generalisation through the text encoder.
    public var heldOutWords: [String] {
        switch self {
        case .neutral: return ["calm", "expressionless"]
        case .angry: return ["furious", "irritated"]
        case .contempt: return ["scornful", "disdainful"]
        case .disgusted: return ["repulsed", "revolted"]
        case .fear: return ["scared", "terrified"]
        case .happy: return ["joyful", "cheerful"]
        case .sad: return ["sorrowful", "gloomy"]
        case .surprised: return ["astonished", "amazed"]
        }
    }

    /// Prompt templates for training; "{}" is replaced by the emotion word.
    public static let promptTemplates = ["{}", "a {} face", "{} expression", "looking {}"]
}
