import Foundation

/// Finds files of the repository's `Models/` folder, so commands work from the checkout, from the build
/// folder and from tests: an environment variable first, then `Models/<relative>` searched upwards from
/// the working directory, the executable's folder and the caller's source file.
public enum ModelLocator {
    public enum Error: Swift.Error, CustomStringConvertible {
        case notFound(String)
        public var description: String { switch self { case .notFound(let m): return m } }
    }

    /// - Parameters:
    ///   - relative: the path under `Models/`, e.g. `face/tgdm_face_model.safetensors`.
    ///   - fileVariable: an environment variable that names the file itself (e.g. `TGDM_FACE_MODEL`).
    public static func locate(_ relative: String, fileVariable: String? = nil, callerFile: String = #filePath) throws -> URL {
        let fm = FileManager.default
        let env = ProcessInfo.processInfo.environment
        if let v = fileVariable, let path = env[v], !path.isEmpty {
            guard fm.fileExists(atPath: path) else { throw Error.notFound("\(v) points to \(path), which does not exist") }
            return URL(fileURLWithPath: path)
        }
        if let root = env["TGDM_MODELS"], !root.isEmpty {
            let u = URL(fileURLWithPath: root).appendingPathComponent(relative)
            guard fm.fileExists(atPath: u.path) else { throw Error.notFound("\(u.path) does not exist (TGDM_MODELS=\(root))") }
            return u
        }
        let starts = [URL(fileURLWithPath: fm.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent(),
                      URL(fileURLWithPath: callerFile).deletingLastPathComponent()]
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("Models").appendingPathComponent(relative)
                if fm.fileExists(atPath: candidate.path) { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        let hint = fileVariable.map { "set \($0) or TGDM_MODELS" } ?? "set TGDM_MODELS"
        throw Error.notFound("cannot find Models/\(relative); \(hint), run from the repository, or run scripts/setup.sh")
    }
}
