import Foundation
import XCTest
@testable import Media

/// EXIF orientation and CMYK JPEGs (photos from cameras, phones and print workflows).
final class ImageOrientationTests: XCTestCase {
    /// Left half red, right half blue.
    func halves(width: Int, height: Int) throws -> RGBImage {
        var img = try RGBImage(width: width, height: height)
        for y in 0..<height { for x in 0..<width { img.setPixel(x: x, y: y, x < width / 2 ? (230, 20, 20) : (20, 20, 230)) } }
        return img
    }

    /// A JPEG with an APP1 Exif segment carrying `orientation` (little- or big-endian TIFF).
    func jpeg(_ img: RGBImage, orientation: Int, littleEndian: Bool) throws -> Data {
        let plain = try img.encoded(as: .jpeg(quality: 95))
        func u16(_ v: Int) -> [UInt8] { littleEndian ? [UInt8(v & 255), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 255)] }
        func u32(_ v: Int) -> [UInt8] { littleEndian ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF) }
        let tiff: [UInt8] = (littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]) + u16(42) + u32(8)
            + u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0) + u32(0)
        let payload: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0] + tiff
        let len = payload.count + 2
        let app1: [UInt8] = [0xFF, 0xE1, UInt8(len >> 8), UInt8(len & 255)] + payload
        return Data([0xFF, 0xD8] + app1 + Array(plain.dropFirst(2)))
    }

    func testExifOrientationTurnsJPEGsUpright() throws {
        let src = try halves(width: 32, height: 16)
        for little in [true, false] {
            // 1: unchanged; 3: 180°, red ends on the right; 6: rotate clockwise, red (left) ends on top;
            // 8: counter-clockwise, red ends at the bottom.
            let cases: [(Int, Int, Int, (Int, Int))] = [(1, 32, 16, (2, 8)), (3, 32, 16, (29, 8)), (6, 16, 32, (8, 2)), (8, 16, 32, (8, 29))]
            for (o, w, h, redAt) in cases {
                let img = try RGBImage(encoded: jpeg(src, orientation: o, littleEndian: little))
                XCTAssertEqual(img.width, w, "orientation \(o)")
                XCTAssertEqual(img.height, h, "orientation \(o)")
                XCTAssertGreaterThan(img.pixel(x: redAt.0, y: redAt.1).r, 150, "orientation \(o)")
                XCTAssertLessThan(img.pixel(x: w - 1 - redAt.0, y: h - 1 - redAt.1).r, 100, "orientation \(o)")
            }
        }
    }

    func testCorruptExifIsIgnored() throws {
        var data = try jpeg(try halves(width: 8, height: 8), orientation: 6, littleEndian: true)
        data[12] = 0x58 // break the TIFF byte-order mark: orientation unreadable -> image as stored
        let img = try RGBImage(encoded: data)
        XCTAssertEqual(img.width, 8)
    }

    /// An Adobe (inverted) CMYK JPEG written by Pillow: left half cyan, right half black.
    func testAdobeCMYKJPEGDecodesToRGB() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/cmyk_adobe.jpg", withExtension: nil))
        let img = try RGBImage(contentsOf: url)
        XCTAssertEqual(img.width, 32)
        let cyan = img.pixel(x: 4, y: 8), black = img.pixel(x: 28, y: 8)
        XCTAssertLessThan(cyan.r, 40); XCTAssertGreaterThan(cyan.g, 215); XCTAssertGreaterThan(cyan.b, 215)
        XCTAssertLessThan(Int(black.r) + Int(black.g) + Int(black.b), 60)
    }
}
