import Foundation
import Logging

/// A swift-log handler writing one JSON object per line to stderr (`tgdm serve --log-format json`): time, level,
/// label, message and the metadata as string fields, for log collectors.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private static let lock = NSLock()

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[k] = "\(v)" }
        if let e = event.error { fields["error"] = "\(e)" }
        let level = event.level, message = event.message
        fields["time"] = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                                                     formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        fields["level"] = level.rawValue
        fields["label"] = label
        fields["message"] = message.description
        guard var data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        data.append(10)
        Self.lock.lock()
        defer { Self.lock.unlock() }
        FileHandle.standardError.write(data)
    }
}
