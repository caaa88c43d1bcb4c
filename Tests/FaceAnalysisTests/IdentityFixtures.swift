import Foundation
import XCTest
@testable import FaceAnalysis
import Media
import Torch

/// dlib's reference outputs (scripts/fixtures/analysis_dlib.py) and the inputs they were made from.
enum IdentityFixtures {
    struct Result: Decodable {
        let kind: String
        let name: String
        let image: String?
        let ops: String?
        let box: [Int]?          // dlib rectangle: left, top, right, bottom (inclusive)
        let hog: [[Int]]?
        let parts: [[Int]]?
        let chip_rect: [Double]?
        let chip_angle: Double?
        let embedding: [Float]
    }

    struct Reference: Decodable { let results: [Result] }

    static func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture("dlib_reference.json")))
    }

    static func images() throws -> [Result] { try reference().results.filter { $0.kind == "image" } }
    static func result(_ name: String) throws -> Result {
        try XCTUnwrap(reference().results.first { $0.name == name }, "no reference result \(name)")
    }

    static func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/identity/\(name)", withExtension: nil), "missing fixture \(name)")
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The input image of a reference job: a file of Samples/ with the job's pixel operations applied
    /// exactly as analysis_dlib_ref.cpp applies them.
    static func image(of r: Result) throws -> RGBImage {
        var img = try RGBImage(contentsOf: repositoryRoot.appendingPathComponent(r.image!))
        var words = (r.ops ?? "").split(separator: " ").map(String.init)[...]
        func int() -> Int { Int(words.popFirst()!)! }
        while let op = words.popFirst() {
            switch op {
            case "flip": img = flip(img)
            case "crop": img = try img.cropped(x: int(), y: int(), width: int(), height: int())
            case "gain":
                let (num, den) = (int(), int())
                img.pixels = img.pixels.map { UInt8(min(255, Int($0) * num / den)) }
            case "up": img = try upscale(img, int())
            default: throw FaceIdentityError.invalidInput("unknown fixture op \(op)")
            }
        }
        return img
    }

    /// The job's box as a FaceBox (dlib's inclusive rectangle → x, y, width, height).
    static func box(of r: Result) -> FaceBox {
        let b = r.box!
        return FaceBox(x: Double(b[0]), y: Double(b[1]), width: Double(b[2] - b[0] + 1), height: Double(b[3] - b[1] + 1))
    }

    static func parts(of r: Result) throws -> FaceLandmarks5 {
        try FaceLandmarks5(r.parts!.map { SIMD2(Double($0[0]), Double($0[1])) })
    }

    static func flip(_ img: RGBImage) -> RGBImage {
        var out = img
        for y in 0..<img.height {
            for x in 0..<img.width { out.setPixel(x: img.width - 1 - x, y: y, img.pixel(x: x, y: y)) }
        }
        return out
    }

    static func upscale(_ img: RGBImage, _ k: Int) throws -> RGBImage {
        var out = try RGBImage(width: img.width * k, height: img.height * k)
        for y in 0..<out.height {
            for x in 0..<out.width { out.setPixel(x: x, y: y, img.pixel(x: x / k, y: y / k)) }
        }
        return out
    }

    /// The encoder with the installed models, or a failure that names the setup script.
    static func encoder() throws -> FaceIdentityEncoder {
        if let e = cached { return e }
        do {
            let e = try FaceIdentityEncoder.pretrained()
            cached = e
            return e
        } catch {
            XCTFail("\(error) — install the models with scripts/analysis/install_dlib.sh (scripts/setup.sh runs it)")
            throw error
        }
    }
    nonisolated(unsafe) private static var cached: FaceIdentityEncoder?

    static func cosine(_ a: [Float], _ b: [Float]) throws -> Double { try FaceIdentityEncoder.cosineSimilarity(a, b) }
}
