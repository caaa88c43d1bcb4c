import Torch
import Foundation
import XCTest
@testable import Media

final class FaceTests: XCTestCase {
    override func setUp() { Torch.configureThreads() }

    func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil), "missing fixture \(name)")
    }

    // MARK: crop and paste-back

    func testCropTransformMaths() throws {
        // A 40×60 box centred at (100, 80) in a 320×240 frame; side = 1.6 · 60 = 96.
        let box = FaceBox(x: 80, y: 50, width: 40, height: 60)
        let t = try FaceCropper.transform(for: box, imageWidth: 320, imageHeight: 240, size: 256)
        XCTAssertEqual(t.side, 96, accuracy: 1e-9)
        XCTAssertEqual(t.originX, 52, accuracy: 1e-9)
        XCTAssertEqual(t.originY, 32, accuracy: 1e-9)
        XCTAssertEqual(t.scale, 96.0 / 256, accuracy: 1e-12)
        let c = t.toSource(u: 128, v: 128)
        XCTAssertEqual(c.x, 100, accuracy: 1e-9)
        XCTAssertEqual(c.y, 80, accuracy: 1e-9)
        let back = t.toCrop(x: c.x, y: c.y)
        XCTAssertEqual(back.u, 128, accuracy: 1e-9)
        // Near a border the square is shifted inside, not shrunk.
        let edge = try FaceCropper.transform(for: FaceBox(x: 0, y: 0, width: 50, height: 50), imageWidth: 320, imageHeight: 240)
        XCTAssertEqual(edge.originX, 0); XCTAssertEqual(edge.originY, 0); XCTAssertEqual(edge.side, 80, accuracy: 1e-9)
        let free = try FaceCropper.transform(for: FaceBox(x: 0, y: 0, width: 50, height: 50), imageWidth: 320, imageHeight: 240, keepInside: false)
        XCTAssertEqual(free.originX, -15, accuracy: 1e-9)
        // Bad boxes and sizes are errors.
        assertThrowsMediaError(try FaceCropper.transform(for: FaceBox(x: 0, y: 0, width: 0, height: 5), imageWidth: 10, imageHeight: 10)) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try FaceCropper.transform(for: FaceBox(x: .nan, y: 0, width: 3, height: 5), imageWidth: 10, imageHeight: 10)) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try FaceCropper.transform(for: box, imageWidth: 320, imageHeight: 240, size: 100_000)) {
            if case .invalidDimensions = $0 { return true } else { return false }
        }
    }

    func testCropSamplesTheRightPixels() throws {
        // A frame whose pixel (x, y) encodes x in red and y in green.
        var frame = try RGBImage(width: 200, height: 150)
        for y in 0..<150 { for x in 0..<200 { frame.setPixel(x: x, y: y, (UInt8(x), UInt8(y), 77)) } }
        // Crop a 64-pixel square at scale 1 (size = side): pixels copy exactly.
        let box = FaceBox(x: 60, y: 40, width: 40, height: 40)
        let (crop, t) = try FaceCropper.crop(frame, box: box, size: 64, enlarge: 1.6)
        XCTAssertEqual(t.scale, 1, accuracy: 1e-12)
        XCTAssertTrue(crop.pixel(x: 0, y: 0) == (48, 28, 77))
        XCTAssertTrue(crop.pixel(x: 63, y: 10) == (111, 38, 77))
        // Upscaled 4×: values interpolate smoothly along the ramp.
        let (big, _) = try FaceCropper.crop(frame, box: box, size: 256, enlarge: 1.6)
        let reds = (0..<256).map { Int(big.pixel(x: $0, y: 100).r) }
        XCTAssertEqual(reds, reds.sorted())
        XCTAssertEqual(reds.first!, 48, accuracy: 1)
        XCTAssertEqual(reds.last!, 111, accuracy: 1)
        // Outside the image the edge pixel repeats.
        let (padded, _) = try FaceCropper.crop(frame, box: FaceBox(x: -30, y: 10, width: 40, height: 40), size: 64, keepInside: false)
        XCTAssertEqual(padded.pixel(x: 0, y: 20).r, 0)
        assertThrowsMediaError(try FaceCropper.crop(try RGBImage(width: 10, height: 10), transform: t)) {
            if case .invalidDimensions = $0 { return true } else { return false }
        }
    }

    /// Issue #21: the face square at the picture's own resolution holds the crop, is pixel-aligned, and crops and pastes
    /// back without resampling.
    func testNativeSquareHoldsTheCropAndCopiesPixels() throws {
        var frame = try RGBImage(width: 200, height: 150)
        for y in 0..<150 { for x in 0..<200 { frame.setPixel(x: x, y: y, (UInt8(x), UInt8(y), UInt8((x * 7 + y * 13) % 256))) } }
        let crop = CropTransform(originX: 30.3, originY: 20.7, scale: 0.4, cropSize: 256, sourceWidth: 200, sourceHeight: 150)
        let square = crop.nativeSquare(maxSize: 1024)
        XCTAssertEqual([square.originX, square.originY, square.scale], [30, 20, 1])
        // 30.3 + 102.4 = 132.7 → 133 − 30 = 103 wide; 20.7 + 102.4 = 123.1 → 124 − 20 = 104 high: the larger.
        XCTAssertEqual(square.cropSize, 104)
        XCTAssertLessThanOrEqual(square.originX, crop.originX)
        XCTAssertGreaterThanOrEqual(square.originX + square.side, crop.originX + crop.side)
        XCTAssertGreaterThanOrEqual(square.originY + square.side, crop.originY + crop.side)
        let pixels = try FaceCropper.crop(frame, transform: square)
        for (x, y) in [(0, 0), (17, 93), (103, 103)] { XCTAssertTrue(pixels.pixel(x: x, y: y) == frame.pixel(x: 30 + x, y: 20 + y)) }
        let back = try FaceCropper.pasteBack(pixels, into: frame, transform: square, feather: square.side * 0.06)
        XCTAssertEqual(back.pixels, frame.pixels, "an unchanged square pastes back as the picture itself")
        // Wider than the cap: the crop itself at the cap.
        XCTAssertEqual(crop.nativeSquare(maxSize: 64), crop.resized(to: 64))
    }

    func testPasteBackRoundTripAndFeather() throws {
        var frame = try RGBImage(width: 160, height: 120)
        for y in 0..<120 { for x in 0..<160 { frame.setPixel(x: x, y: y, (UInt8((x * 3) % 256), UInt8((y * 2) % 256), UInt8((x + y) % 256))) } }
        let box = FaceBox(x: 50, y: 30, width: 50, height: 50)
        let (crop, t) = try FaceCropper.crop(frame, box: box, size: 256)
        // Pasting the unmodified crop back changes the frame very little (resampling only).
        let same = try FaceCropper.pasteBack(crop, into: frame, transform: t, feather: 8)
        XCTAssertEqual(same.width, 160); XCTAssertEqual(same.height, 120)
        XCTAssertLessThan(meanAbsDiff(same.pixels, frame.pixels), 1.0)
        // A white "generated" crop: centre becomes white, outside untouched, the edge ramps smoothly.
        let white = try RGBImage(width: 128, height: 128, fill: (255, 255, 255))
        let pasted = try FaceCropper.pasteBack(white, into: frame, transform: t, feather: 10)
        let cx = Int(t.originX + t.side / 2), cy = Int(t.originY + t.side / 2)
        XCTAssertTrue(pasted.pixel(x: cx, y: cy) == (255, 255, 255))
        XCTAssertTrue(pasted.pixel(x: 2, y: 2) == frame.pixel(x: 2, y: 2))
        XCTAssertTrue(pasted.pixel(x: Int(t.originX) - 1, y: cy) == frame.pixel(x: Int(t.originX) - 1, y: cy))
        // Along a row entering the square, the white weight rises monotonically over ~feather pixels.
        let x0 = Int(t.originX.rounded(.up))
        let weights = (0..<14).map { k -> Double in
            let p = pasted.pixel(x: x0 + k, y: cy), f = frame.pixel(x: x0 + k, y: cy)
            return f.b == 255 ? 1 : (Double(p.b) - Double(f.b)) / (255 - Double(f.b))
        }
        XCTAssertLessThan(weights[0], 0.1)
        XCTAssertGreaterThan(weights[12], 0.98)
        for (a, b) in zip(weights, weights.dropFirst()) { XCTAssertLessThanOrEqual(a, b + 0.02) }
        // A mask of zeros keeps the frame.
        let masked = try FaceCropper.pasteBack(white, into: frame, transform: t, mask: [Float](repeating: 0, count: 128 * 128))
        XCTAssertTrue(masked == frame)
        assertThrowsMediaError(try FaceCropper.pasteBack(white, into: frame, transform: t, mask: [1, 2])) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        assertThrowsMediaError(try FaceCropper.pasteBack(try RGBImage(width: 10, height: 12), into: frame, transform: t)) {
            if case .invalidDimensions = $0 { return true } else { return false }
        }
        let tensorOut = try FaceCropper.pasteBack(tensor: try white.toTensor(), into: frame, transform: t)
        XCTAssertEqual(tensorOut.shape, [1, 3, 120, 160])
    }

    // MARK: detector

    func testCascadeParses() throws {
        let c = try HaarCascade.frontalFace()
        if ProcessInfo.processInfo.environment["TGDM_HAAR_CASCADE"] == nil {
            let used = HaarCascade.frontalFaceCandidates().first { FileManager.default.fileExists(atPath: $0.path) }
            XCTAssertTrue(used?.path.contains("_Media.resources") ?? false, "the shipped resource must be found, got \(String(describing: used))")
        }
        XCTAssertEqual(c.windowWidth, 24)
        XCTAssertEqual(c.windowHeight, 24)
        XCTAssertEqual(c.stages.count, 25)
        XCTAssertEqual(c.features.count, 2913)
        XCTAssertEqual(c.stages[0].classifiers.count, 9)
        XCTAssertEqual(Double(c.stages[0].threshold), -5.0425500869750977, accuracy: 1e-6)
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.xml")
        try Data("<opencv_storage><cascade><stageType>BOOST</stageType>".utf8).write(to: bad)
        assertThrowsMediaError(try HaarCascade(contentsOf: bad)) {
            switch $0 { case .corruptData, .unsupportedFormat: return true; default: return false }
        }
        try Data("<opencv_storage><cascade><width>24</b></cascade>".utf8).write(to: bad)
        assertThrowsMediaError(try HaarCascade(contentsOf: bad)) { if case .corruptData = $0 { return true } else { return false } }
        assertThrowsMediaError(try HaarCascade(contentsOf: dir.appendingPathComponent("none.xml"))) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
    }

    /// Same detections as OpenCV's detectMultiScale on the same image and cascade
    /// (fixture from scripts/fixtures/media_face.py).
    func testDetectorMatchesOpenCV() throws {
        let image = try RGBImage(contentsOf: try fixture("astronaut_256.png"))
        let json = try JSONSerialization.jsonObject(with: try Data(contentsOf: try fixture("face_opencv.json"))) as! [String: Any]
        let detector = try FaceDetector()
        for key in ["default", "strict"] {
            let entry = json[key] as! [String: Any]
            let params = entry["params"] as! [String: Any]
            var o = FaceDetector.Options()
            o.scaleFactor = params["scaleFactor"] as! Double
            o.minNeighbors = params["minNeighbors"] as! Int
            o.minSize = params["minSize"] as! Int
            let expected = (entry["boxes"] as! [[Int]]).map { FaceBox(x: Double($0[0]), y: Double($0[1]), width: Double($0[2]), height: Double($0[3])) }
            let found = try detector.detect(image, options: o)
            XCTAssertEqual(found.count, expected.count, "\(key): \(found)")
            for (f, e) in zip(found, expected) { XCTAssertGreaterThan(f.box.iou(e), 0.8, "\(key): \(f.box) vs OpenCV \(e)") }
        }
    }

    func testDetectorFindsTwoFacesAndNoneInNoise() throws {
        let face = try RGBImage(contentsOf: try fixture("astronaut_256.png")).cropped(x: 60, y: 0, width: 110, height: 110)
        var canvas = try RGBImage(width: 260, height: 130, fill: (90, 90, 90))
        canvas.blit(face, x: 10, y: 10)
        canvas.blit(face, x: 140, y: 10)
        let dets = try FaceDetector().detect(canvas)
        XCTAssertEqual(dets.count, 2, "\(dets)")
        let xs = dets.map(\.box.centerX).sorted()
        if xs.count == 2 {
            XCTAssertEqual(xs[0], 10 + 26 + 53 / 2, accuracy: 12)
            XCTAssertEqual(xs[1], 140 + 26 + 53 / 2, accuracy: 12)
        }
        // Smooth gradients and a flat image hold no faces.
        var gradient = try RGBImage(width: 128, height: 96)
        for y in 0..<96 { for x in 0..<128 { gradient.setPixel(x: x, y: y, (UInt8(x * 2), UInt8(y * 2), 100)) } }
        XCTAssertEqual(try FaceDetector().detect(gradient).count, 0)
        XCTAssertEqual(try FaceDetector().detect(try RGBImage(width: 20, height: 20)).count, 0, "smaller than the window")
        var bad = FaceDetector.Options()
        bad.scaleFactor = 1
        assertThrowsMediaError(try FaceDetector().detect(gradient, options: bad)) { if case .invalidArgument = $0 { return true } else { return false } }
    }

    /// Detect → crop → paste back keeps the frame size and the crop holds the face in its middle.
    func testDetectCropPastePipeline() throws {
        let image = try RGBImage(contentsOf: try fixture("astronaut_256.png"))
        let box = try XCTUnwrap(try FaceDetector().detectBest(image))
        let (crop, t) = try FaceCropper.crop(image, box: box, size: 256)
        let inCrop = t.toCrop(box)
        XCTAssertEqual(inCrop.centerX, 128, accuracy: 1)
        XCTAssertEqual(inCrop.width, 256 / 1.6, accuracy: 1)
        let out = try FaceCropper.pasteBack(crop, into: image, transform: t)
        XCTAssertEqual([out.width, out.height], [256, 256])
        XCTAssertLessThan(meanAbsDiff(out.pixels, image.pixels), 1.5)
    }
}
