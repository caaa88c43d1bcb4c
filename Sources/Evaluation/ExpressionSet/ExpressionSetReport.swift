import Foundation
import Media

/// The set's results: every cell's metrics, and the outputs for the grid.
public struct ExpressionSetReport: Codable {
    public var portraits: [String]
    public var drives: [String]
    public var cells: [ExpressionCellScore]
    /// What the variants are and how the cells were made (written into table.md).
    public var notes: [String]

    public init(portraits: [String], drives: [String], cells: [ExpressionCellScore], notes: [String]) {
        self.portraits = portraits
        self.drives = drives
        self.cells = cells
        self.notes = notes
    }

    public var failures: [(cell: ExpressionCellScore, metric: ExpressionMetric)] {
        cells.flatMap { c in c.failures.map { (c, $0) } }
    }

    /// The columns of table.md, in order (a cell without a metric shows "—").
    public static let tableMetrics = ["identity", "eye.left.EAR", "eye.right.EAR", "mouth.lipGap", "pose.pitch", "pose.yaw",
                                      "lid.left.deltaE", "lid.left.texture", "lid.right.deltaE", "lid.right.texture",
                                      "mouth.green", "mouth.teeth", "mouth.cavity"]

    /// A Markdown table: one row per cell, each metric's value with ✓ (passed), ✗ (failed) or nothing (reported).
    public func markdown() -> String {
        var s = "# Real-photo expression set\n\n"
        for n in notes { s += "- \(n)\n" }
        let gated = cells.reduce(0) { $0 + $1.gatedCount }
        s += "\n\(cells.count) cells, \(gated) gated metrics, \(failures.count) failed; cells passing every gate: "
        s += "\(cells.filter { $0.failures.isEmpty }.count).\n\n"
        s += "| portrait | drive | " + Self.tableMetrics.joined(separator: " | ") + " |\n"
        s += "|---|---|" + String(repeating: "---|", count: Self.tableMetrics.count) + "\n"
        for c in cells {
            let values = Self.tableMetrics.map { name -> String in
                guard let m = c.metric(name) else { return "—" }
                let v = m.value.map { String(format: "%.3f", $0) } ?? "n/a"
                return v + (m.pass == true ? " ✓" : m.pass == false ? " ✗" : "")
            }
            s += "| \(c.portrait) | \(c.drive) | " + values.joined(separator: " | ") + " |\n"
        }
        s += "\n## Gates\n\n"
        var seen = Set<String>()
        for c in cells {
            for m in c.metrics where m.pass != nil && seen.insert(m.name).inserted {
                s += "- `\(m.name)`: e.g. \(m.gate) (\(c.portrait) × \(c.drive))\n"
            }
        }
        return s
    }

    /// One line per portrait: cells passing every gate, and the metrics that failed most.
    public func summary() -> String {
        var lines: [String] = []
        for p in portraits {
            let row = cells.filter { $0.portrait == p }
            let failed = row.flatMap(\.failures).map(\.name)
            var counts: [String: Int] = [:]
            for name in failed { counts[name, default: 0] += 1 }
            let ranked = counts.sorted { (a: (key: String, value: Int), b: (key: String, value: Int)) -> Bool in
                a.value != b.value ? a.value > b.value : a.key < b.key
            }
            let passing = row.filter { $0.failures.isEmpty }.count
            let failedText: String = ranked.isEmpty ? "nothing" : ranked.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            lines.append("\(p): \(passing)/\(row.count) cells pass; failed " + failedText)
        }
        return lines.joined(separator: "\n")
    }

    /// Writes cells.json and table.md into `dir`.
    public func write(to dir: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: dir.appendingPathComponent("cells.json"))
        try Data(markdown().utf8).write(to: dir.appendingPathComponent("table.md"))
    }

    /// The grid: one row per portrait (its source crop, then one tile per drive), each tile captioned with the drive
    /// and its failed-gate count.
    public static func grid(sources: [RGBImage], outputs: [[RGBImage]], report: ExpressionSetReport, tile: Int = 192) throws -> RGBImage {
        var images: [RGBImage] = [], labels: [String] = []
        for (r, portrait) in report.portraits.enumerated() {
            images.append(try sources[r].resized(width: tile, height: tile))
            labels.append(portrait)
            for (c, drive) in report.drives.enumerated() {
                images.append(try outputs[r][c].resized(width: tile, height: tile))
                let cell = report.cells.first { $0.portrait == portrait && $0.drive == drive }
                let fails = cell?.failures.count ?? 0
                labels.append(fails == 0 ? "\(drive) ok" : "\(drive) \(fails) fail")
            }
        }
        return try ImageGrid.compose(images, columns: report.drives.count + 1, labels: labels)
    }
}
