import Foundation
import Media

/// Draws analysis results over a photo so a person can check them: the detection box (yellow), the 468
/// mesh points (green), the 6 detector keypoints (red), iris circles (cyan) and, optionally, other
/// points (e.g. a fitted model's projected landmarks, magenta).
public enum FaceOverlay {
    public typealias RGB = (r: UInt8, g: UInt8, b: UInt8)

    public static func draw(_ a: AnalyzedFace, on image: RGBImage, extraPoints: [SIMD2<Double>] = []) -> RGBImage {
        var img = image
        let dot = max(1, min(image.width, image.height) / 400)
        rectangle(&img, a.box, (255, 220, 0))
        for p in a.landmarks { disc(&img, p.x, p.y, radius: dot, (40, 255, 80)) }
        for p in a.keypoints { disc(&img, p.x, p.y, radius: dot + 2, (255, 40, 40)) }
        for iris in a.irises ?? [] {
            circle(&img, iris.center.x, iris.center.y, radius: iris.radius, (0, 230, 255))
            disc(&img, iris.center.x, iris.center.y, radius: dot, (0, 230, 255))
        }
        for p in extraPoints { disc(&img, p.x, p.y, radius: dot + 1, (255, 0, 255)) }
        return img
    }

    static func put(_ img: inout RGBImage, _ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < img.width, y < img.height else { return }
        img.setPixel(x: x, y: y, c)
    }

    static func disc(_ img: inout RGBImage, _ x: Double, _ y: Double, radius: Int, _ c: RGB) {
        guard x.isFinite, y.isFinite, abs(x) < 1e6, abs(y) < 1e6 else { return }
        let cx = Int(x.rounded(.down)), cy = Int(y.rounded(.down))
        for dy in -radius...radius { for dx in -radius...radius where dx * dx + dy * dy <= radius * radius { put(&img, cx + dx, cy + dy, c) } }
    }

    static func circle(_ img: inout RGBImage, _ x: Double, _ y: Double, radius: Double, _ c: RGB) {
        guard x.isFinite, y.isFinite, radius.isFinite, radius > 0, radius < 1e4 else { return }
        let n = max(16, Int(radius * 8))
        for k in 0..<n {
            let t = 2 * Double.pi * Double(k) / Double(n)
            put(&img, Int((x + radius * cos(t)).rounded(.down)), Int((y + radius * sin(t)).rounded(.down)), c)
        }
    }

    static func rectangle(_ img: inout RGBImage, _ b: FaceBox, _ c: RGB) {
        guard [b.x, b.y, b.width, b.height].allSatisfy({ $0.isFinite && abs($0) < 1e6 }) else { return }
        let x0 = Int(b.x.rounded()), y0 = Int(b.y.rounded()), x1 = Int((b.x + b.width).rounded()), y1 = Int((b.y + b.height).rounded())
        guard x1 >= x0, y1 >= y0 else { return }
        for x in x0...x1 { put(&img, x, y0, c); put(&img, x, y1, c) }
        for y in y0...y1 { put(&img, x0, y, c); put(&img, x1, y, c) }
    }
}
