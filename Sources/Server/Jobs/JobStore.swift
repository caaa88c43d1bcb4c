import Foundation
import Logging

/// Jobs on disk: `<data>/jobs/<id>/job.json` (written atomically: a temporary sibling renamed over it), the job's
/// inputs under `inputs/` and its `result.*` and `thumbnail.jpg`. Every file name is the server's own; ids are
/// parsed `JobID`s. On start, finished jobs are kept and jobs that were queued or running are marked failed.
public final class JobStore: @unchecked Sendable {
    public let root: URL
    private let logger: Logger

    public static let interruptedMessage = "interrupted: the server stopped before the job finished"

    public init(dataDirectory: URL, logger: Logger) throws {
        root = dataDirectory.appendingPathComponent("jobs", isDirectory: true)
        self.logger = logger
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw ServerError("cannot create the data directory \(root.path): \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: root.path) else {
            throw ServerError("the data directory \(root.path) is not writable")
        }
    }

    public func directory(of id: JobID) -> URL { root.appendingPathComponent(id.rawValue, isDirectory: true) }
    public func inputs(of id: JobID) -> URL { directory(of: id).appendingPathComponent("inputs", isDirectory: true) }
    func recordURL(of id: JobID) -> URL { directory(of: id).appendingPathComponent("job.json") }
    public func thumbnailURL(of id: JobID) -> URL { directory(of: id).appendingPathComponent("thumbnail.jpg") }

    /// The stored result file of a finished job (its name comes from the record, which the server wrote).
    public func resultURL(of record: JobRecord) -> URL? {
        guard let name = record.result?.file, ["result.png", "result.mp4"].contains(name) else { return nil }
        return directory(of: record.id).appendingPathComponent(name)
    }

    /// Makes the folders of a new job.
    func create(_ id: JobID) throws {
        try FileManager.default.createDirectory(at: inputs(of: id), withIntermediateDirectories: true)
    }

    /// Writes `record` atomically.
    func save(_ record: JobRecord) throws {
        let data = try JSONCoding.encoder.encode(record)
        let url = recordURL(of: record.id)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".job.json.\(UUID().uuidString).tmp")
        do {
            try data.write(to: tmp)
            guard rename(tmp.path, url.path) == 0 else { throw UploadError(.serverError, String(cString: strerror(errno))) }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw UploadError(.serverError, "cannot save job \(record.id): \(error)")
        }
    }

    /// Removes a job's folder and everything in it.
    func remove(_ id: JobID) {
        do { try FileManager.default.removeItem(at: directory(of: id)) } catch {
            logger.warning("cannot remove job folder", metadata: ["job": "\(id)", "error": "\(error)"])
        }
    }

    /// Every stored job. Jobs left queued or running by an earlier process are failed with a reason (and saved);
    /// a succeeded job whose result file is gone is failed too; folders without a readable record are removed.
    func loadAll() -> [JobRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        var out: [JobRecord] = []
        for name in names {
            guard let id = JobID(name) else { continue }   // not ours: left alone
            let url = recordURL(of: id)
            guard let data = try? Data(contentsOf: url), var record = try? JSONCoding.decoder.decode(JobRecord.self, from: data),
                  record.id == id else {
                logger.warning("removing a job folder without a readable record", metadata: ["job": "\(id)"])
                remove(id)
                continue
            }
            var changed = false
            if !record.state.isFinished {
                record.state = .failed
                record.error = Self.interruptedMessage
                record.finished = Date()
                record.progress = nil
                changed = true
            } else if record.state == .succeeded, resultURL(of: record).map({ !FileManager.default.fileExists(atPath: $0.path) }) ?? true {
                record.state = .failed
                record.error = "the result file is missing"
                record.result = nil
                changed = true
            }
            if changed {
                logger.info("marked an interrupted job failed", metadata: ["job": "\(id)", "reason": "\(record.error ?? "")"])
                try? save(record)
            }
            out.append(record)
        }
        return out
    }
}
