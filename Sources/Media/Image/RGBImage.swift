import Foundation

/// An 8-bit RGB image: `pixels` holds `height` rows of `width` interleaved R, G, B bytes, no padding.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// Wraps existing pixels; throws if the count is not `width * height * 3` or the size is absurd.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        try MediaLimits.check(width: width, height: height)
        guard pixels.count == width * height * 3 else {
            throw MediaError.invalidArgument("\(width)x\(height) RGB image needs \(width * height * 3) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A uniformly coloured image.
    public init(width: Int, height: Int, fill: (r: UInt8, g: UInt8, b: UInt8) = (0, 0, 0)) throws {
        try MediaLimits.check(width: width, height: height)
        var px = [UInt8](repeating: 0, count: width * height * 3)
        px.withUnsafeMutableBufferPointer { p in
            for i in 0..<(width * height) {
                p[3 * i] = fill.r; p[3 * i + 1] = fill.g; p[3 * i + 2] = fill.b
            }
        }
        try self.init(width: width, height: height, pixels: px)
    }

    /// The pixel at (x, y) as (r, g, b). Coordinates must be inside the image.
    public func pixel(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func setPixel(x: Int, y: Int, _ rgb: (r: UInt8, g: UInt8, b: UInt8)) {
        let i = (y * width + x) * 3
        pixels[i] = rgb.r; pixels[i + 1] = rgb.g; pixels[i + 2] = rgb.b
    }

    /// The rectangle [x, x+w) × [y, y+h), which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) throws -> RGBImage {
        guard x >= 0, y >= 0, w > 0, h > 0, x + w <= width, y + h <= height else {
            throw MediaError.invalidArgument("crop (\(x), \(y), \(w)x\(h)) is outside the \(width)x\(height) image")
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let s = ((y + row) * width + x) * 3
                    let d = row * w * 3
                    for k in 0..<(w * 3) { dst[d + k] = src[s + k] }
                }
            }
        }
        return try RGBImage(width: w, height: h, pixels: out)
    }
}

// MARK: - File IO

extension RGBImage {
    /// The on-disk formats this type reads and writes.
    public enum FileFormat: Sendable {
        case png
        case jpeg(quality: Int)

        /// The format implied by a file extension (.png, .jpg, .jpeg; case-insensitive).
        public static func forExtension(of url: URL, jpegQuality: Int = 95) throws -> FileFormat {
            switch url.pathExtension.lowercased() {
            case "png": return .png
            case "jpg", "jpeg": return .jpeg(quality: jpegQuality)
            default:
                throw MediaError.unsupportedFormat("cannot choose an image format for '\(url.lastPathComponent)' (use .png, .jpg or .jpeg)")
            }
        }
    }

    /// Reads a PNG or JPEG file, recognised by its content (not its extension). Grayscale, palette,
    /// RGBA and 16-bit PNGs and grayscale/CMYK JPEGs are converted to 8-bit RGB; alpha is dropped.
    /// JPEGs are turned upright according to their EXIF orientation.
    public init(contentsOf url: URL) throws {
        let data = try readFile(url)
        do {
            self = try ImageCodec.decode(data)
        } catch let MediaError.corruptData(msg) {
            throw MediaError.corruptData("\(url.path): \(msg)")
        } catch let MediaError.unsupportedFormat(msg) {
            throw MediaError.unsupportedFormat("\(url.path): \(msg)")
        } catch let MediaError.invalidDimensions(msg) {
            throw MediaError.invalidDimensions("\(url.path): \(msg)")
        }
    }

    /// Decodes PNG or JPEG bytes held in memory.
    public init(encoded data: Data) throws {
        self = try ImageCodec.decode(data)
    }

    /// Writes the image, choosing PNG or JPEG (quality 95) from the extension. The file is written to a
    /// temporary sibling and renamed, so readers never see a half-written image.
    public func write(to url: URL, jpegQuality: Int = 95) throws {
        let format = try FileFormat.forExtension(of: url, jpegQuality: jpegQuality)
        try writeFileAtomically(try encoded(as: format), to: url)
    }

    /// The image encoded in memory.
    public func encoded(as format: FileFormat) throws -> Data {
        try ImageCodec.encode(self, as: format)
    }
}
