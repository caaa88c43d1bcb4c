import Torch
import Foundation

/// Tiles images into one PNG/JPEG for inspection (e.g. source | target | generated per row).
public enum ImageGrid {
    /// Composes `images` row-major into `columns` columns. Cells are as large as the largest image;
    /// smaller images sit in the top-left of their cell. With `labels`, a caption strip in a built-in
    /// 5×7 pixel font is drawn above each tile (unknown characters render as '?').
    public static func compose(_ images: [RGBImage], columns: Int, labels: [String]? = nil, padding: Int = 2,
                               background: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)) throws -> RGBImage {
        guard !images.isEmpty else { throw MediaError.invalidArgument("image grid needs at least one image") }
        guard columns > 0 else { throw MediaError.invalidArgument("image grid needs columns > 0, got \(columns)") }
        guard padding >= 0, padding <= 1024 else { throw MediaError.invalidArgument("grid padding \(padding) out of range") }
        if let labels, labels.count != images.count {
            throw MediaError.invalidArgument("\(labels.count) labels for \(images.count) images")
        }
        let cellW = images.map(\.width).max()!
        let cellH = images.map(\.height).max()!
        let captionH = labels == nil ? 0 : BitmapFont.lineHeight + 2
        let cols = Swift.min(columns, images.count)
        let rows = (images.count + cols - 1) / cols
        let gridW = cols * cellW + (cols + 1) * padding
        let gridH = rows * (cellH + captionH) + (rows + 1) * padding
        var grid = try RGBImage(width: gridW, height: gridH, fill: background)
        for (k, image) in images.enumerated() {
            let x0 = padding + (k % cols) * (cellW + padding)
            let y0 = padding + (k / cols) * (cellH + captionH + padding)
            if let labels {
                BitmapFont.draw(labels[k], into: &grid, x: x0 + 1, y: y0 + 1, maxWidth: cellW - 1, color: (0, 0, 0))
            }
            grid.blit(image, x: x0, y: y0 + captionH)
        }
        return grid
    }

    /// Writes a grid of images (format from the extension, see `RGBImage.write`).
    public static func save(_ images: [RGBImage], columns: Int, to url: URL, labels: [String]? = nil,
                            padding: Int = 2) throws {
        try compose(images, columns: columns, labels: labels, padding: padding).write(to: url)
    }

    /// Writes a grid of image tensors in [-1, 1]. Each tensor is 3×H×W or B×3×H×W (each batch item
    /// becomes one tile, in order); `labels`, if given, has one entry per tile.
    public static func save(_ tensors: [Tensor], columns: Int, to url: URL, labels: [String]? = nil,
                            padding: Int = 2) throws {
        var images = [RGBImage]()
        for t in tensors {
            let s = t.shape
            if s.count == 4 && s[1] == 3 {
                for b in 0..<s[0] {
                    let item: Tensor
                    do { item = try t.select(0, b) } catch {
                        throw MediaError.invalidArgument("cannot split batch tensor \(s): \(error)")
                    }
                    images.append(try RGBImage(tensor: item))
                }
            } else {
                images.append(try RGBImage(tensor: t))
            }
        }
        try save(images, columns: columns, to: url, labels: labels, padding: padding)
    }
}

extension RGBImage {
    /// Copies `image` with its top-left corner at (x, y), clipping what falls outside.
    public mutating func blit(_ image: RGBImage, x: Int, y: Int) {
        let x0 = Swift.max(0, x), y0 = Swift.max(0, y)
        let x1 = Swift.min(width, x + image.width), y1 = Swift.min(height, y + image.height)
        guard x0 < x1, y0 < y1 else { return }
        let w = width
        image.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for yy in y0..<y1 {
                    let s = ((yy - y) * image.width + (x0 - x)) * 3
                    let d = (yy * w + x0) * 3
                    for k in 0..<((x1 - x0) * 3) { dst[d + k] = src[s + k] }
                }
            }
        }
    }
}
