import Foundation

/// Finds the bundled model files under `Models/`: `$TGDM_MODELS` first, else a `Models` folder found
/// from the working directory, the executable's folder or this source file upwards.
public enum ModelFiles {
    public static let tgdm = "tgdm/tgdm_synth64.safetensors"
    public static let emoA2E = "emoa2e/emoa2e_minilm_transformer.safetensors"

    public static func locate(_ relative: String) throws -> URL {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["TGDM_MODELS"], !env.isEmpty {
            let u = URL(fileURLWithPath: env).appendingPathComponent(relative)
            guard fm.fileExists(atPath: u.path) else { throw PipelineError("\(u.path) does not exist (TGDM_MODELS=\(env))") }
            return u
        }
        let starts = [URL(fileURLWithPath: fm.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent(),
                      URL(fileURLWithPath: #filePath).deletingLastPathComponent()]
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
        throw PipelineError("cannot find Models/\(relative); pass the file explicitly, set TGDM_MODELS, or run scripts/setup.sh")
    }
}
