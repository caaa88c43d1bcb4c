import Foundation

/// A terminal progress bar on stderr: `label [#####.....] 12/50  3.1 it/s  ETA 12s  loss 0.0312`.
/// Redraws at most 10 times a second; when stderr is not a terminal (CI logs, a parent reading a pipe) prints a
/// plain line at the first step, at each further tenth of the total, at the end and otherwise every 5 s, so
/// the lines mark the job's progress and not the clock.
public final class ProgressBar: @unchecked Sendable {
    public let label: String
    public let total: Int
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var current = 0
    private var printedTenth = -1
    private let interactive = isatty(2) == 1
    private let width = 28

    public init(_ label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    /// Moves to `step` (1-based) with an optional status text.
    public func update(_ step: Int, status: String = "") {
        current = min(step, total)
        let now = Date()
        let done = current == total
        let tenth = 10 * current / total
        guard done || now.timeIntervalSince(lastDraw) > (interactive ? 0.1 : 5) || (!interactive && tenth > printedTenth) else { return }
        lastDraw = now
        printedTenth = tenth
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(current) / elapsed : 0
        let eta = rate > 0 ? Double(total - current) / rate : 0
        let filled = width * current / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        // A rate measured over a fraction of a second (a bar created when work was already done) is noise.
        let rateText = elapsed < 0.5 ? "" : rate >= 1 ? String(format: "%.1f it/s", rate) : String(format: "%.1f s/it", rate > 0 ? 1 / rate : 0)
        let line = "\(label) [\(bar)] \(current)/\(total)  \(rateText)  \(done ? "in \(Self.duration(elapsed))" : "ETA \(Self.duration(eta))")  \(status)"
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + line + (interactive && !done ? "" : "\n")).utf8))
    }

    public func finish(status: String = "") { update(total, status: status) }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.0fs", s) }
        if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
    }
}
