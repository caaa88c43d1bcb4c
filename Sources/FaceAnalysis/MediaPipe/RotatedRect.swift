import Foundation
import Media

/// A rectangle in image pixels rotated by `rotation` radians about its centre (positive = clockwise
/// on screen, y pointing down), MediaPipe's `RotatedRect` / `NormalizedRect` in absolute units.
public struct RotatedRect: Sendable, Equatable, Codable {
    public var centerX: Double
    public var centerY: Double
    public var width: Double
    public var height: Double
    public var rotation: Double

    public init(centerX: Double, centerY: Double, width: Double, height: Double, rotation: Double = 0) {
        self.centerX = centerX; self.centerY = centerY; self.width = width; self.height = height; self.rotation = rotation
    }

    /// Maps (u, v) in [0, 1]² of the rectangle (u along its width) to image pixels, as MediaPipe's
    /// `GetRotatedSubRectToRectTransformMatrix` and `LandmarkProjectionCalculator` do.
    public func project(u: Double, v: Double) -> (x: Double, y: Double) {
        let dx = (u - 0.5) * width, dy = (v - 0.5) * height
        let c = cos(rotation), s = sin(rotation)
        return (centerX + c * dx - s * dy, centerY + s * dx + c * dy)
    }

    /// The inverse of `project`: image pixels to (u, v) of the rectangle.
    public func unproject(x: Double, y: Double) -> (u: Double, v: Double) {
        let dx = x - centerX, dy = y - centerY
        let c = cos(rotation), s = sin(rotation)
        return ((c * dx + s * dy) / width + 0.5, (-s * dx + c * dy) / height + 0.5)
    }

    /// The four corners in image pixels: top-left, top-right, bottom-right, bottom-left of the rectangle.
    public var corners: [(x: Double, y: Double)] {
        [project(u: 0, v: 0), project(u: 1, v: 0), project(u: 1, v: 1), project(u: 0, v: 1)]
    }

    var isValid: Bool {
        [centerX, centerY, width, height, rotation].allSatisfy { $0.isFinite } && width > 0 && height > 0
    }
}

/// MediaPipe's `NormalizeRadians`: an angle in [-π, π).
func normalizeRadians(_ a: Double) -> Double {
    a - 2 * Double.pi * ((a + Double.pi) / (2 * Double.pi)).rounded(.down)
}

/// The ROI transforms of MediaPipe's graphs: `DetectionsToRectsCalculator` (rotation from two
/// keypoints, target angle 0) followed by `RectTransformationCalculator` (square_long, then scale).
enum ROITransform {
    /// The rotation that makes the vector start→end horizontal: target − atan2(−(y1 − y0), x1 − x0).
    static func rotation(from start: (x: Double, y: Double), to end: (x: Double, y: Double)) -> Double {
        normalizeRadians(0 - atan2(-(end.y - start.y), end.x - start.x))
    }

    /// Rect of an axis-aligned box with the given rotation, made square on its long side and scaled.
    static func roi(box: FaceBox, rotation: Double, scale: Double) -> RotatedRect {
        let side = max(box.width, box.height) * scale
        return RotatedRect(centerX: box.centerX, centerY: box.centerY, width: side, height: side, rotation: rotation)
    }

    /// The bounding box of points (MediaPipe's `LandmarksToDetectionCalculator`).
    static func boundingBox(_ points: [(x: Double, y: Double)]) -> FaceBox {
        var x0 = Double.infinity, y0 = Double.infinity, x1 = -Double.infinity, y1 = -Double.infinity
        for p in points { x0 = min(x0, p.x); y0 = min(y0, p.y); x1 = max(x1, p.x); y1 = max(y1, p.y) }
        return FaceBox(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}
