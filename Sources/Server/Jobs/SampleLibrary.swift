import Foundation

/// The sample inputs offered by the page (the repository's `Samples/`): listed once at start, looked up by name.
/// A request names a sample; the name selects an entry of this table, it is never joined to a path.
public struct SampleLibrary: Sendable {
    public struct Sample: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable { case image, video }
        public let name: String
        public let kind: Kind
        /// Whether coefficients come with it (a `NAME.coeffs.json` sidecar), so no face fitting is needed.
        public let hasCoefficients: Bool
        let path: String

        enum CodingKeys: String, CodingKey {
            case name, kind
            case hasCoefficients = "has_coefficients"
            case path
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(kind, forKey: .kind)
            try c.encode(hasCoefficients, forKey: .hasCoefficients)
        }

        public var url: URL { URL(fileURLWithPath: path) }
        public var mediaType: String {
            switch url.pathExtension.lowercased() {
            case "png": return "image/png"
            case "jpg", "jpeg": return "image/jpeg"
            default: return "video/mp4"
            }
        }
    }

    public let samples: [Sample]
    public let directory: URL?

    /// Lists `directory` (PNG/JPEG pictures and MP4 videos with plain names).
    public init(directory: URL?) {
        self.directory = directory
        guard let directory,
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { samples = []; return }
        var list: [Sample] = []
        for file in names.sorted() {
            let url = directory.appendingPathComponent(file)
            let ext = url.pathExtension.lowercased(), name = url.deletingPathExtension().lastPathComponent
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else { continue }
            let kind: Sample.Kind
            switch ext {
            case "png", "jpg", "jpeg": kind = .image
            case "mp4": kind = .video
            default: continue
            }
            let sidecar = directory.appendingPathComponent("\(name).coeffs.json")
            list.append(Sample(name: name, kind: kind, hasCoefficients: FileManager.default.fileExists(atPath: sidecar.path), path: url.path))
        }
        samples = list
    }

    public func sample(named name: String) -> Sample? { samples.first { $0.name == name } }

    /// `Samples/` searched upwards from the working directory, the executable's folder and this source file (as
    /// `ModelResources` finds `Models/`), so `tgdm serve` finds it from the checkout, the build folder and tests.
    public static func locate(callerFile: String = #filePath) -> URL? {
        let fm = FileManager.default
        let starts = [URL(fileURLWithPath: fm.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent(),
                      URL(fileURLWithPath: callerFile).deletingLastPathComponent()]
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("Samples")
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: candidate.appendingPathComponent("source.png").path),
                   fm.fileExists(atPath: candidate.path, isDirectory: &isDir), isDir.boolValue { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }
}
