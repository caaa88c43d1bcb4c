import Torch
import Foundation

/// Every failure in the Media module: bad input gives one of these, never a crash.
public enum MediaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The path does not exist.
    case fileNotFound(String)
    /// The file exists but its content is not a format this module reads.
    case unsupportedFormat(String)
    /// The file has the right format but cannot be decoded (truncated, damaged).
    case corruptData(String)
    /// Zero, negative, odd-where-even-is-needed, or absurdly large width/height.
    case invalidDimensions(String)
    /// A parameter outside its valid range, a wrong tensor shape, NaN pixels, ...
    case invalidArgument(String)
    /// An external program (ffmpeg, ffprobe, espeak-ng) is not installed.
    case toolMissing(String)
    /// An external program ran but failed; the message carries its stderr tail.
    case toolFailed(String)
    /// A video that decodes to zero frames, or has no video stream.
    case noFrames(String)
    /// Audio that decodes to zero samples, or has no audio stream.
    case emptyAudio(String)
    /// Reading or writing a file failed at the operating-system level.
    case io(String)

    public var description: String {
        switch self {
        case .fileNotFound(let s): return "file not found: \(s)"
        case .unsupportedFormat(let s): return "unsupported format: \(s)"
        case .corruptData(let s): return "corrupt data: \(s)"
        case .invalidDimensions(let s): return "invalid dimensions: \(s)"
        case .invalidArgument(let s): return "invalid argument: \(s)"
        case .toolMissing(let s): return "required tool missing: \(s)"
        case .toolFailed(let s): return "external tool failed: \(s)"
        case .noFrames(let s): return "no video frames: \(s)"
        case .emptyAudio(let s): return "no audio: \(s)"
        case .io(let s): return "I/O error: \(s)"
        }
    }
}

extension MediaError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Limits checked before any pixel buffer is allocated (same values as the C codecs).
public enum MediaLimits {
    public static let maxSide = 16384
    public static let maxPixels = 1 << 28

    /// Throws `invalidDimensions` unless 0 < width, height <= maxSide and width * height <= maxPixels.
    public static func check(width: Int, height: Int, what: String = "image") throws {
        guard width > 0, height > 0 else {
            throw MediaError.invalidDimensions("\(what) size \(width)x\(height) must be positive")
        }
        guard width <= maxSide, height <= maxSide, width.multipliedReportingOverflow(by: height).partialValue <= maxPixels else {
            throw MediaError.invalidDimensions("\(what) size \(width)x\(height) exceeds the limit (\(maxSide) per side, \(maxPixels) pixels)")
        }
    }
}

/// Writes `data` to a temporary sibling and renames it over `url`, mapping failures to `MediaError.io`.
func writeFileAtomically(_ data: Data, to url: URL) throws {
    do {
        try writeAtomically(data, to: url)
    } catch {
        throw MediaError.io("cannot write \(url.path): \(error)")
    }
}

/// Reads a whole file, distinguishing "missing" from other failures.
func readFile(_ url: URL) throws -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else { throw MediaError.fileNotFound(url.path) }
    do {
        return try Data(contentsOf: url)
    } catch {
        throw MediaError.io("cannot read \(url.path): \(error.localizedDescription)")
    }
}
