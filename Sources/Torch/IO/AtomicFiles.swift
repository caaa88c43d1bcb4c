import Foundation

/// Outputs are written to a hidden temporary sibling, `.NAME.tmp-PID-UUID` (plus an extension where a tool needs
/// one), and renamed over NAME when complete, so a crash never leaves a truncated file under the final name. A run
/// killed with SIGKILL cannot remove its temporary; the next write into the same folder does, once the process
/// named in it is gone. A temporary of a live process (a concurrent run writing the same output) is never touched.
public enum AtomicFile {
    /// A fresh temporary sibling of `url` owned by this process; `suffix` (e.g. ".mp4") is appended.
    public static func temporarySibling(of url: URL, suffix: String = "") -> URL {
        url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)\(suffix)")
    }

    /// Removes the temporaries in `directory` left by processes that no longer exist, once per folder and process
    /// (a folder of 10 000 frames is listed once, not once per frame). Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(in directory: URL) -> [String] {
        let key = directory.standardizedFileURL.path
        cleanedLock.lock()
        let first = cleanedDirectories.insert(key).inserted
        cleanedLock.unlock()
        guard first else { return [] }
        return removeStaleTemporaries(in: directory, startedAt: processStart)
    }

    /// The scan behind `removeStaleTemporaries(in:)`, without the once-per-folder memo.
    static func removeStaleTemporaries(in directory: URL, startedAt start: Date) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        var removed: [String] = []
        for name in names {
            let url = directory.appendingPathComponent(name)
            let stale: Bool
            if let pid = owner(ofTemporary: name) {
                // ESRCH: no such process. EPERM means it exists (another user's): leave it.
                stale = kill(pid, 0) != 0 && errno == ESRCH
            } else if isUnownedTemporary(name) {
                // Names of earlier versions carry no process id: stale when last written before this run began.
                let modified = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate]) as? Date
                stale = modified.map { $0 < start } ?? false
            } else {
                continue
            }
            if stale, (try? FileManager.default.removeItem(at: url)) != nil { removed.append(name) }
        }
        return removed
    }

    /// The process id in a name made by `temporarySibling` (`.NAME.tmp-PID-UUID[.ext]`), or nil for any other name.
    public static func owner(ofTemporary name: String) -> pid_t? {
        guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards),
              marker.lowerBound > name.index(after: name.startIndex) else { return nil }
        let rest = name[marker.upperBound...]
        guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0 else { return nil }
        let tail = rest[rest.index(after: dash)...]
        guard UUID(uuidString: String(tail.prefix(36))) != nil else { return nil }
        return isExtension(tail.dropFirst(36)) ? pid : nil
    }

    /// `.NAME.UUID.tmp.mp4` / `.tmp.wav`: the VideoWriter's and SpeechSynthesizer's names before they carried a pid.
    static func isUnownedTemporary(_ name: String) -> Bool {
        guard name.hasPrefix("."), name.hasSuffix(".tmp.mp4") || name.hasSuffix(".tmp.wav") else { return false }
        let stem = name.dropLast(".tmp.mp4".count)
        guard stem.count > 38 else { return false }
        return stem.dropLast(36).hasSuffix(".") && UUID(uuidString: String(stem.suffix(36))) != nil
    }

    private static func isExtension(_ s: Substring) -> Bool {
        s.isEmpty || (s.count > 1 && s.first == "." && s.dropFirst().allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
    }

    private static let cleanedLock = NSLock()
    nonisolated(unsafe) private static var cleanedDirectories = Set<String>()
    /// When this process began writing (first use of `AtomicFile`): older unowned temporaries are stale.
    private static let processStart = Date()
}

/// Writes `data` to a temporary sibling and renames it over `url`.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    AtomicFile.removeStaleTemporaries(in: dir)
    let tmp = AtomicFile.temporarySibling(of: url)
    do {
        try data.write(to: tmp)
        if rename(tmp.path, url.path) != 0 {
            throw TorchError("cannot rename \(tmp.path) to \(url.path): \(String(cString: strerror(errno)))")
        }
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw error
    }
}

/// Streams a file into a temporary sibling of `url` through `body`, then renames it over `url`: for outputs too
/// large to build in memory first. Nothing is left under `url`, or beside it, when `body` throws.
public func writeAtomically(to url: URL, _ body: (FileHandle) throws -> Void) throws {
    let dir = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    AtomicFile.removeStaleTemporaries(in: dir)
    let tmp = AtomicFile.temporarySibling(of: url)
    guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
        throw TorchError("cannot create \(tmp.path): \(String(cString: strerror(errno)))")
    }
    do {
        let handle = try FileHandle(forWritingTo: tmp)
        do {
            try body(handle)
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
        if rename(tmp.path, url.path) != 0 {
            throw TorchError("cannot rename \(tmp.path) to \(url.path): \(String(cString: strerror(errno)))")
        }
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw error
    }
}
