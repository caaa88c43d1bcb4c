import CImageCodecs
import Foundation

/// Bridges the C codecs (libpng, libjpeg-turbo) to Swift errors.
enum ImageCodec {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    enum Sniffed { case png, jpeg }

    /// Recognises PNG and JPEG by their leading bytes.
    static func sniff(_ data: Data) -> Sniffed? {
        if data.count >= 8, Array(data.prefix(8)) == pngSignature { return .png }
        if data.count >= 3, data[data.startIndex] == 0xFF, data[data.startIndex + 1] == 0xD8,
           data[data.startIndex + 2] == 0xFF { return .jpeg }
        return nil
    }

    static func decode(_ data: Data) throws -> RGBImage {
        if data.isEmpty { throw MediaError.corruptData("empty file") }
        guard let kind = sniff(data) else {
            throw MediaError.unsupportedFormat("not a PNG or JPEG file (unrecognised leading bytes)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var msg = [CChar](repeating: 0, count: 512)
        let rc: Int32 = data.withUnsafeBytes { raw in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            switch kind {
            case .png: return cic_png_decode(base, raw.count, &out, &w, &h, &msg, msg.count)
            case .jpeg: return cic_jpeg_decode(base, raw.count, &out, &w, &h, &msg, msg.count)
            }
        }
        defer { cic_free(out) }
        try check(rc, msg)
        guard let out else { throw MediaError.corruptData("decoder returned no pixels") }
        let n = Int(w) * Int(h) * 3
        let image = try RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: out, count: n)))
        // JPEGs from cameras and phones say how to turn them upright.
        return kind == .jpeg ? try ExifOrientation.apply(ExifOrientation.read(jpeg: data), to: image) : image
    }

    static func encode(_ image: RGBImage, as format: RGBImage.FileFormat) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var msg = [CChar](repeating: 0, count: 512)
        let rc: Int32 = image.pixels.withUnsafeBufferPointer { px in
            switch format {
            case .png:
                return cic_png_encode(px.baseAddress, Int32(image.width), Int32(image.height), &out, &size, &msg, msg.count)
            case .jpeg(let quality):
                return cic_jpeg_encode(px.baseAddress, Int32(image.width), Int32(image.height), Int32(quality),
                                       &out, &size, &msg, msg.count)
            }
        }
        defer { cic_free(out) }
        try check(rc, msg)
        guard let out else { throw MediaError.io("encoder returned no data") }
        return Data(bytes: out, count: size)
    }

    private static func check(_ rc: Int32, _ msg: [CChar]) throws {
        if Int(rc) == CIC_OK { return }
        let text = String(cString: msg)
        switch Int(rc) {
        case CIC_ERR_DIMENSIONS: throw MediaError.invalidDimensions(text)
        case CIC_ERR_ARGUMENT: throw MediaError.invalidArgument(text)
        case CIC_ERR_MEMORY: throw MediaError.io("out of memory: \(text)")
        default: throw MediaError.corruptData(text)
        }
    }
}
