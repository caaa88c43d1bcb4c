import Foundation

/// An axis-aligned face rectangle in pixel coordinates of its image (x, y = top-left corner).
public struct FaceBox: Sendable, Equatable, Codable, CustomStringConvertible {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }

    public var centerX: Double { x + width / 2 }
    public var centerY: Double { y + height / 2 }
    public var area: Double { max(0, width) * max(0, height) }

    /// Intersection over union with another box (0 when disjoint).
    public func iou(_ o: FaceBox) -> Double {
        let ix = max(0, min(x + width, o.x + o.width) - max(x, o.x))
        let iy = max(0, min(y + height, o.y + o.height) - max(y, o.y))
        let inter = ix * iy
        let union = area + o.area - inter
        return union > 0 ? inter / union : 0
    }

    /// Throws unless the box has a positive, finite size.
    public func validated() throws -> FaceBox {
        guard [x, y, width, height].allSatisfy({ $0.isFinite }), width > 0, height > 0 else {
            throw MediaError.invalidArgument("face box \(self) must have finite coordinates and a positive size")
        }
        return self
    }

    public var description: String { String(format: "FaceBox(x: %.1f, y: %.1f, w: %.1f, h: %.1f)", x, y, width, height) }
}
