import Foundation

/// One model file (or folder) the project uses, named by where it lives under `Models/` (in the style of
/// mlx-swift-examples' `FileKey`: a table of files, one resolver). Each domain declares its own files as
/// static members (`ModelFile.faceModel`, `ModelFile.tgdm`, ...), all resolved by `ModelResources`.
public struct ModelFile: Sendable, Hashable, CustomStringConvertible {
    /// Path under `Models/`, e.g. `face/tgdm_face_model.safetensors` (a folder for multi-file models).
    public let path: String
    /// An environment variable that names this file (or folder) directly, overriding the search.
    public let environment: String?
    /// What makes the file when it is missing (a script, or "in the repository").
    public let installedBy: String

    public init(path: String, environment: String? = nil, installedBy: String) {
        self.path = path
        self.environment = environment
        self.installedBy = installedBy
    }

    public var description: String { "Models/\(path)" }
}

/// Finds model files: `ModelFile.environment` first, then `$TGDM_MODELS/<path>`, then `Models/<path>`
/// searched upwards from the working directory, the executable's folder and this source file, so commands
/// work from the checkout, from the build folder and from tests. A missing file is an error that names the
/// setup step that makes it.
public struct ModelResources: Sendable {
    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case notFound(String)
        public var description: String { switch self { case .notFound(let m): return m } }
    }

    /// A root folder that replaces the search (`Models/` of some checkout or an unpacked bundle).
    public var root: URL?

    public init(root: URL? = nil) { self.root = root }

    /// Resolution from the environment and the working directory.
    public static var `default`: ModelResources {
        let env = ProcessInfo.processInfo.environment["TGDM_MODELS"]
        return ModelResources(root: env.flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) })
    }

    public func url(for file: ModelFile, callerFile: String = #filePath) throws -> URL {
        let fm = FileManager.default
        if let v = file.environment, let path = ProcessInfo.processInfo.environment[v], !path.isEmpty {
            guard fm.fileExists(atPath: path) else { throw Error.notFound("\(v) points to \(path), which does not exist") }
            return URL(fileURLWithPath: path)
        }
        if let root {
            let u = root.appendingPathComponent(file.path)
            guard fm.fileExists(atPath: u.path) else { throw Error.notFound("\(u.path) does not exist (\(file.installedBy) makes it)") }
            return u
        }
        let starts = [URL(fileURLWithPath: fm.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent(),
                      URL(fileURLWithPath: callerFile).deletingLastPathComponent()]
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("Models").appendingPathComponent(file.path)
                if fm.fileExists(atPath: candidate.path) { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        let hint = file.environment.map { " (or set \($0) or TGDM_MODELS)" } ?? " (or set TGDM_MODELS)"
        throw Error.notFound("cannot find \(file): \(file.installedBy) makes it\(hint)")
    }

    /// Whether the file can be found.
    public func exists(_ file: ModelFile) -> Bool { (try? url(for: file)) != nil }
}
