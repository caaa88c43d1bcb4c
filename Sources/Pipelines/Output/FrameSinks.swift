import Foundation
import Media
import Torch

/// Where generated frames go (a file writer, a server's job, a test's array).
public protocol FrameSink: AnyObject {
    func begin(_ info: StreamInfo) throws
    func write(_ frame: GeneratedFrame) throws
    /// Completes the output (e.g. renames the finished file into place).
    func finish() throws
    /// Abandons the output: nothing is left under the final name.
    func cancel()
}

/// What an output shows.
public enum OutputLayout: Sendable {
    /// The result alone.
    case result
    /// source | driver (when there is one) | I_3d | result, side by side at one height.
    case sideBySide
}

/// Lays out panels side by side, each scaled to `height` with its aspect kept.
enum PanelRow {
    static func compose(_ panels: [RGBImage], height: Int) throws -> RGBImage {
        let scaled = try panels.map { p -> RGBImage in
            let w = max(2, Int((Double(p.width) * Double(height) / Double(p.height)).rounded()))
            return p.height == height && p.width == w ? p : try p.resized(width: w, height: height)
        }
        let width = scaled.reduce(0) { $0 + $1.width }
        var canvas = try RGBImage(width: width + width % 2, height: height + height % 2)
        var x = 0
        for p in scaled { canvas.blit(p, x: x, y: 0); x += p.width }
        return canvas
    }

    static func panels(_ frame: GeneratedFrame, source: RGBImage?, layout: OutputLayout) throws -> [RGBImage] {
        guard case .sideBySide = layout else { return [frame.output] }
        var row: [RGBImage] = []
        if let s = source { row.append(s) }
        if let d = frame.driver { row.append(d) }
        row.append(try RGBImage(tensor: frame.render))
        row.append(frame.output)
        return row
    }
}

/// Writes an H.264 MP4 (with the job's audio muxed in), atomically: a temporary file renamed on `finish`.
public final class VideoFileSink: FrameSink {
    public let url: URL
    public let layout: OutputLayout
    /// Height of the written frames (the result's own height when nil).
    public let height: Int?
    private var writer: VideoWriter?
    private var info: StreamInfo?

    public init(url: URL, layout: OutputLayout = .result, height: Int? = nil) {
        self.url = url
        self.layout = layout
        self.height = height
    }

    public func begin(_ info: StreamInfo) throws { self.info = info }

    public func write(_ frame: GeneratedFrame) throws {
        guard let info else { throw PipelineError.invalidInput("VideoFileSink.begin was not called") }
        let h = height ?? frame.output.height
        let image = try PanelRow.compose(PanelRow.panels(frame, source: info.sourcePanel, layout: layout), height: h)
        if writer == nil {
            writer = try VideoWriter(url: url, width: image.width, height: image.height, fps: info.fps, audio: info.audio)
        }
        try writer!.write(image)
    }

    public func finish() throws {
        guard let writer else { throw PipelineError.invalidInput("no frames were generated") }
        try writer.finish()
    }

    public func cancel() { writer?.cancel() }
}

/// Writes the first frame as a PNG/JPEG and, optionally, a labelled comparison grid.
public final class ImageFileSink: FrameSink {
    public let url: URL
    public let grid: URL?
    private var info: StreamInfo?
    private var written: [URL] = []
    public private(set) var frame: GeneratedFrame?

    public init(url: URL, grid: URL? = nil) {
        self.url = url
        self.grid = grid
    }

    public func begin(_ info: StreamInfo) throws { self.info = info }

    public func write(_ frame: GeneratedFrame) throws {
        guard self.frame == nil else { return }   // a still has one frame; later ones are ignored
        self.frame = frame
    }

    public func finish() throws {
        guard let frame else { throw PipelineError.invalidInput("no frames were generated") }
        try frame.output.write(to: url)
        written.append(url)
        if let grid {
            var tiles: [RGBImage] = [], labels: [String] = []
            if let s = info?.sourcePanel { tiles.append(s); labels.append("source") }
            if let d = frame.driver { tiles.append(d); labels.append("driver") }
            tiles.append(try RGBImage(tensor: frame.render)); labels.append("I_3d")
            tiles.append(try RGBImage(tensor: frame.face)); labels.append("TGDM")
            if let w = frame.warped { tiles.append(try RGBImage(tensor: w)); labels.append("warped source") }
            tiles.append(frame.output); labels.append("output")
            let h = 160   // every tile at one height, aspect kept
            let scaled = try tiles.map { try $0.resized(width: max(2, $0.width * h / $0.height), height: h) }
            try ImageGrid.save(scaled, columns: scaled.count, to: grid, labels: labels)
            written.append(grid)
        }
    }

    /// Removes anything this sink already wrote.
    public func cancel() {
        for u in written { try? FileManager.default.removeItem(at: u) }
    }
}

/// Hands every frame to several sinks (e.g. the result MP4 and a side-by-side MP4 from one generation).
public final class TeeSink: FrameSink {
    public let sinks: [FrameSink]
    public init(_ sinks: [FrameSink]) { self.sinks = sinks }
    public func begin(_ info: StreamInfo) throws { for s in sinks { try s.begin(info) } }
    public func write(_ frame: GeneratedFrame) throws { for s in sinks { try s.write(frame) } }
    public func finish() throws { for s in sinks { try s.finish() } }
    public func cancel() { for s in sinks { s.cancel() } }
}

/// Keeps every frame in memory (tests, servers that encode themselves).
public final class CollectingSink: FrameSink {
    public private(set) var info: StreamInfo?
    public private(set) var frames: [GeneratedFrame] = []
    public private(set) var finished = false
    public init() {}
    public func begin(_ info: StreamInfo) throws { self.info = info }
    public func write(_ frame: GeneratedFrame) throws { frames.append(frame) }
    public func finish() throws { finished = true }
    public func cancel() { frames = [] }
}
