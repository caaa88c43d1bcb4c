import FaceModel
import Foundation
import Media

/// The real-photo expression test set (issue #20, item 4): rows are portraits, columns are drives.
public enum ExpressionSet {
    /// Side of the face crop every cell is scored in (the pipeline's crop framing at the render camera).
    public static let cropSize = 256

    /// The two public-domain photos shipped in Samples/, and the variants made from them in code.
    public static func portraits(all: Bool) -> [ExpressionPortrait] {
        let photos = [ExpressionPortrait(photo: "astronaut.png", variant: .original),
                      ExpressionPortrait(photo: "grace_hopper.jpg", variant: .original)]
        guard all else { return photos }
        let variants: [ExpressionPortrait.Variant] = [.relit, .turned, .smaller]
        return photos + variants.flatMap { v in photos.map { ExpressionPortrait(photo: $0.photo, variant: v) } }
    }
}

/// One row of the set: a photo of Samples/ as it is or a variant of it made deterministically at run time.
public struct ExpressionPortrait: Codable, Sendable, Equatable {
    public enum Variant: String, Codable, Sendable, CaseIterable {
        case original
        /// Lit from the subject's right (image left dark): a smooth horizontal gain ramp in linear light.
        case relit
        /// Mirrored and rotated 10° in the image plane.
        case turned
        /// Scaled to 0.7 in the middle of a canvas of the original size, padded by the edge colour (at 0.6 the astronaut's
        /// face, about 65 px of 512, is below what BlazeFace's short-range model finds).
        case smaller
    }

    /// File name in Samples/.
    public var photo: String
    public var variant: Variant

    public init(photo: String, variant: Variant) {
        self.photo = photo
        self.variant = variant
    }

    public var name: String {
        let base = (photo as NSString).deletingPathExtension
        return variant == .original ? base : "\(base) \(variant.rawValue)"
    }

    /// The picture of this row made from the photo.
    public func image(from photo: RGBImage) -> RGBImage {
        switch variant {
        case .original: return photo
        case .relit: return PortraitVariants.relit(photo)
        case .turned: return PortraitVariants.rotated(PortraitVariants.mirrored(photo), degrees: 10)
        case .smaller: return PortraitVariants.scaledInPlace(photo, scale: 0.7)
        }
    }
}

/// Deterministic edits of a portrait (pure functions of the pixels).
public enum PortraitVariants {
    public static func mirrored(_ image: RGBImage) -> RGBImage {
        var out = image
        for y in 0..<image.height {
            for x in 0..<image.width { out.setPixel(x: image.width - 1 - x, y: y, image.pixel(x: x, y: y)) }
        }
        return out
    }

    /// Light falling from one side: every pixel's linear-light value times a gain that rises smoothly (smoothstep)
    /// from `dark` at the left edge to `bright` at the right edge.
    public static func relit(_ image: RGBImage, dark: Double = 0.3, bright: Double = 1.3) -> RGBImage {
        var lut = [Double](repeating: 0, count: 256)
        for v in 0..<256 {
            let c = Double(v) / 255
            lut[v] = c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        func encode(_ l: Double) -> UInt8 {
            let c = min(max(l, 0), 1)
            let s = c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055
            return UInt8((s * 255).rounded())
        }
        var out = image
        for x in 0..<image.width {
            let t = (Double(x) + 0.5) / Double(image.width)
            let gain = dark + (bright - dark) * t * t * (3 - 2 * t)
            for y in 0..<image.height {
                let o = 3 * (y * image.width + x)
                for c in 0..<3 { out.pixels[o + c] = encode(lut[Int(image.pixels[o + c])] * gain) }
            }
        }
        return out
    }

    /// Rotated about the centre (counter-clockwise on screen for positive degrees), bilinear, edges replicated.
    public static func rotated(_ image: RGBImage, degrees: Double) -> RGBImage {
        let a = degrees * .pi / 180
        let cx = Double(image.width) / 2, cy = Double(image.height) / 2
        // Output pixel (x, y) samples the input at the inverse rotation (y points down, so screen-CCW is −a here).
        return resampled(image) { x, y in
            let dx = x - cx, dy = y - cy
            return (cx + cos(a) * dx - sin(a) * dy, cy + sin(a) * dx + cos(a) * dy)
        }
    }

    /// Scaled by `scale` about the centre into a canvas of the same size; outside the scaled picture the edge colour.
    public static func scaledInPlace(_ image: RGBImage, scale: Double) -> RGBImage {
        // Bilinear sampling of a strong reduction would alias: pre-shrink with the antialiased resampler, then place.
        let w = max(1, Int((Double(image.width) * scale).rounded())), h = max(1, Int((Double(image.height) * scale).rounded()))
        let small = (try? image.resized(width: w, height: h)) ?? image
        let ox = (Double(image.width) - Double(w)) / 2, oy = (Double(image.height) - Double(h)) / 2
        return resampled(small, width: image.width, height: image.height) { x, y in (x - ox, y - oy) }
    }

    /// Output pixel centres (x + ½, y + ½) mapped to continuous input coordinates by `map`; bilinear with clamped
    /// (edge-replicating) taps.
    static func resampled(_ image: RGBImage, width: Int? = nil, height: Int? = nil,
                          map: (Double, Double) -> (Double, Double)) -> RGBImage {
        let w = width ?? image.width, h = height ?? image.height
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let (sx, sy) = map(Double(x) + 0.5, Double(y) + 0.5)
                let fx = sx - 0.5, fy = sy - 0.5
                let x0 = Int(floor(fx)), y0 = Int(floor(fy))
                let tx = fx - Double(x0), ty = fy - Double(y0)
                func tap(_ xi: Int, _ yi: Int, _ c: Int) -> Double {
                    let cx = min(max(xi, 0), image.width - 1), cy = min(max(yi, 0), image.height - 1)
                    return Double(image.pixels[3 * (cy * image.width + cx) + c])
                }
                for c in 0..<3 {
                    let v = (1 - ty) * ((1 - tx) * tap(x0, y0, c) + tx * tap(x0 + 1, y0, c))
                        + ty * ((1 - tx) * tap(x0, y0 + 1, c) + tx * tap(x0 + 1, y0 + 1, c))
                    pixels[3 * (y * w + x) + c] = UInt8(min(max(v.rounded(), 0), 255))
                }
            }
        }
        return try! RGBImage(width: w, height: h, pixels: pixels)
    }
}

/// One column of the set: what drives the portrait.
public enum ExpressionDrive: String, Codable, Sendable, CaseIterable {
    /// Samples/driving.png (its coefficient sidecar).
    case drivingPhoto = "driving.png"
    /// A real photo that shows its teeth: Samples/astronaut.png (for the astronaut's own rows, her mirror image).
    case teethPhoto = "teeth photo"
    case blinkLeft = "blink L", blinkRight = "blink R", blinkBoth = "blink both"
    case jaw03 = "jaw 0.3", jaw06 = "jaw 0.6", jaw09 = "jaw 0.9"
    case smile, pout
    case yawPlus = "yaw +25", yawMinus = "yaw -25", pitchPlus = "pitch +15", pitchMinus = "pitch -15"

    /// Units set on the source's fitted β (ARKit-style blend-shape weights, 0 = neutral, 1 = full).
    public var expressionEdits: [String: Float] {
        switch self {
        case .blinkLeft: return ["eyeBlinkLeft": 1]
        case .blinkRight: return ["eyeBlinkRight": 1]
        case .blinkBoth: return ["eyeBlinkLeft": 1, "eyeBlinkRight": 1]
        case .jaw03: return ["jawOpen": 0.3]
        case .jaw06: return ["jawOpen": 0.6]
        case .jaw09: return ["jawOpen": 0.9]
        case .smile: return ["mouthSmileLeft": 0.8, "mouthSmileRight": 0.8]
        case .pout: return ["mouthPucker": 0.8]
        default: return [:]
        }
    }

    /// Pose change (pitch, yaw) in radians added to the source's: pitch > 0 turns the face down, yaw > 0 turns
    /// the nose toward the image's right (docs/FACEMODEL.md, Renderer).
    public var poseChange: (pitch: Float, yaw: Float) {
        let deg = Float.pi / 180
        switch self {
        case .yawPlus: return (0, 25 * deg)
        case .yawMinus: return (0, -25 * deg)
        case .pitchPlus: return (15 * deg, 0)
        case .pitchMinus: return (-15 * deg, 0)
        default: return (0, 0)
        }
    }

    /// Driven by a photo's coefficients rather than by edits of the source's own.
    public var isPhoto: Bool { self == .drivingPhoto || self == .teethPhoto }

    /// Eyes asked to close (the subject's left / right).
    public var closedEyes: (left: Bool, right: Bool) {
        (self == .blinkLeft || self == .blinkBoth, self == .blinkRight || self == .blinkBoth)
    }

    /// ρ_d: the source's fitted ρ with this drive's expression units and pose changed (nil for photo drives).
    public func coefficients(editing source: [Float], expressionNames: [String]) throws -> [Float]? {
        guard !isPhoto else { return nil }
        guard source.count == Coefficients.count else {
            throw EvaluationError.invalidInput("ρ has \(source.count) values, expected \(Coefficients.count)")
        }
        var rho = source
        let beta = CoefficientPart.expression.range.lowerBound
        for (name, value) in expressionEdits {
            guard let k = expressionNames.firstIndex(of: name) else {
                throw EvaluationError.invalidInput("the face model has no expression unit \(name)")
            }
            rho[beta + k] = value
        }
        let pose = CoefficientPart.pose.range.lowerBound
        rho[pose] += poseChange.pitch
        rho[pose + 1] += poseChange.yaw
        return rho
    }

    /// ρ̂ with the blink units put back to the source's: the eye opening the closed lid now covers.
    public static func openEyes(_ rho: [Float], source: [Float], expressionNames: [String]) -> [Float] {
        var out = rho
        let beta = CoefficientPart.expression.range.lowerBound
        for name in ["eyeBlinkLeft", "eyeBlinkRight"] {
            if let k = expressionNames.firstIndex(of: name) { out[beta + k] = source[beta + k] }
        }
        return out
    }
}
