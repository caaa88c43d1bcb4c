import Torch
import FaceModel
import Foundation

/// The motion half of ρ: expression β, pose p and gaze ω.
public struct MotionSample: Sendable {
    public var expression: [Float]  // 64
    public var pose: [Float]        // 6: pitch, yaw, roll (radians), translation x, y, z
    public var gaze: [Float]        // 4: (x, y) of the left and right pupil direction

    public static let neutral = MotionSample(expression: .init(repeating: 0, count: 64), pose: .init(repeating: 0, count: 6),
                                             gaze: .init(repeating: 0, count: 4))

    /// A random talking-head motion: a few active expression units (the jaw more often), a head pose
    /// within ±26° yaw, ±11° pitch, ±7° roll, and a shared gaze direction for both eyes.
    public static func random(_ rng: inout SplitMix64, jawIndex: Int?) -> MotionSample {
        var beta = [Float](repeating: 0, count: 64)
        for k in 0..<64 where rng.chance(0.1) { beta[k] = rng.uniform(0, 0.9) }
        if let j = jawIndex, rng.chance(0.5) { beta[j] = rng.uniform(0, 0.8) }
        let pose: [Float] = [rng.uniform(-0.2, 0.2), rng.uniform(-0.45, 0.45), rng.uniform(-0.12, 0.12),
                             rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06), 0]
        let gx = rng.uniform(-0.35, 0.35), gy = rng.uniform(-0.25, 0.25)
        return MotionSample(expression: beta, pose: pose, gaze: [gx, gy, gx, gy])
    }
}

/// One rendered training frame.
public struct SyntheticFrame {
    /// The photo-like image: 3×H×W in [-1, 1].
    public let image: Tensor
    /// I_3d: the plain 3DMM render of the same coefficients (no detail, no gaze, black background).
    public let render: Tensor
    /// ρ, 261.
    public let coefficients: Tensor
}

/// Renders synthetic identities under given motions: the plain 3DMM render I_3d, and a composite that
/// adds surface detail, gaze, hair, neck, glasses and background. Rendering happens at twice the
/// output size and is box-filtered down, so edges are anti-aliased.
public final class SyntheticFaceRenderer: @unchecked Sendable {
    public let size: Int
    public let model: MorphableModel
    public let anchors: FaceAnchors
    let plain: FaceRenderer
    let detailed: FaceRenderer
    let supersample = 2
    /// Index of the jaw-opening expression unit, if the model names one.
    public let jawIndex: Int?

    public init(model: MorphableModel, size: Int) throws {
        guard (16...512).contains(size) else { throw SyntheticDataError.invalid("synthetic image size must be 16...512, got \(size)") }
        self.size = size
        self.model = model
        anchors = try FaceAnchors(model: model)
        plain = try FaceRenderer(model: model, options: RenderOptions(background: -1, renderGaze: false))
        detailed = try FaceRenderer(model: model, options: RenderOptions(background: -1, renderGaze: true))
        jawIndex = model.expressionNames.firstIndex(of: "jawOpen")
    }

    public func coefficients(_ identity: SyntheticIdentity, _ motion: MotionSample) throws -> [Float] {
        identity.identity + motion.expression + identity.texture + identity.illumination + motion.pose + motion.gaze
    }

    /// Renders one identity under several motions (one batch through the renderer).
    public func frames(identity: SyntheticIdentity, motions: [MotionSample]) throws -> [SyntheticFrame] {
        guard !motions.isEmpty else { return [] }
        let rows = try motions.flatMap { try coefficients(identity, $0) }
        let c = try Coefficients(Tensor(rows, shape: [motions.count, Coefficients.count]))
        let s = size * supersample
        return try Torch.noGrad {
            let flat = try plain.render(c, width: s, height: s)
            let rich = try detailed.render(c, width: s, height: s)
            let plainSmall = try F.avgPool2d(flat.image, kernel: supersample)
            let richImages = try rich.image.contiguous().floats()
            let projected = try rich.projected.contiguous().floats()
            let landmarks = try rich.landmarks.contiguous().floats()
            let v = model.vertexCount
            var out: [SyntheticFrame] = []
            for n in 0..<motions.count {
                let composite = try compose(identity: identity, shaded: Array(richImages[(n * 3 * s * s)..<((n + 1) * 3 * s * s)]),
                                            raster: rich.rasterizations[n],
                                            projected: Array(projected[(n * v * 2)..<((n + 1) * v * 2)]),
                                            landmarks: Array(landmarks[(n * 136)..<((n + 1) * 136)]), size: s)
                let big = try Tensor(composite, shape: [1, 3, s, s])
                out.append(SyntheticFrame(image: try F.avgPool2d(big, kernel: supersample).squeeze(0),
                                          render: try plainSmall.select(0, n),
                                          coefficients: try c.tensor.select(0, n)))
            }
            return out
        }
    }

    // MARK: compositing (CPU, planar RGB in [-1, 1])

    func compose(identity: SyntheticIdentity, shaded: [Float], raster: Rasterization, projected: [Float],
                 landmarks lm: [Float], size s: Int) throws -> [Float] {
        let plane = s * s
        var out = [Float](repeating: 0, count: 3 * plane)
        func point(_ k: Int) -> SIMD2<Float> { SIMD2(lm[2 * k], lm[2 * k + 1]) }
        func mean(_ r: ClosedRange<Int>) -> SIMD2<Float> { r.map(point).reduce(SIMD2<Float>(0, 0), +) / Float(r.count) }
        func len(_ v: SIMD2<Float>) -> Float { (v * v).sum().squareRoot() }
        func put(_ p: Int, _ c: RGB) { out[p] = c.r * 2 - 1; out[plane + p] = c.g * 2 - 1; out[2 * plane + p] = c.b * 2 - 1 }

        // A face frame from the landmarks: `up` from chin to brows, `right` across, unit = face height.
        let brow = mean(17...26), chin = point(8)
        let faceHeight = Swift.max(len(brow - chin), 1)
        let up = (brow - chin) / faceHeight
        let right = SIMD2<Float>(-up.y, up.x)
        let faceWidth = Swift.max(len(point(16) - point(0)), 1)
        let hair = identity.hair
        let headCentre = brow + up * (0.3 * faceHeight)
        let headA = 0.72 * faceWidth * (1 + hair.volume), headB = 1.0 * faceHeight * (1 + hair.volume)

        // Mean skin colour of the rendered face, for the neck.
        var skin = RGB(0, 0, 0), covered = 0
        for p in 0..<plane where raster.triangleIds[p] >= 0 {
            skin.r += (shaded[p] + 1) / 2; skin.g += (shaded[plane + p] + 1) / 2; skin.b += (shaded[2 * plane + p] + 1) / 2
            covered += 1
        }
        skin = covered > 0 ? skin.scaled(1 / Float(covered)) : RGB(0.7, 0.55, 0.45)
        let neck = skin.scaled(identity.neckTone)
        let bg = identity.background
        let bgDir = SIMD2<Float>(Foundation.cos(bg.angle), Foundation.sin(bg.angle))
        let tri = model.triangleIndices

        for y in 0..<s {
            for x in 0..<s {
                let p = y * s + x
                let q = SIMD2<Float>(Float(x) + 0.5, Float(y) + 0.5)
                // Background: a gradient with optional soft stripes, fixed in the image like a real set.
                let t = ((q / Float(s) - 0.5) * bgDir).sum() + 0.5
                var c = bg.first.mixed(bg.second, Swift.max(0, Swift.min(1, t)))
                if bg.stripes > 0 {
                    let w = 0.5 + 0.5 * Foundation.sin(bg.stripes * 6.28 * t + bg.stripePhase)
                    c = c.scaled(0.85 + 0.15 * w)
                }
                let d = q - headCentre
                let hu = (d * right).sum() / headA, hv = (d * up).sum() / headB
                let rel = ((q - brow) * up).sum() / faceHeight          // height above the brows
                let inHead = hu * hu + hv * hv < 1
                let strand = 0.85 + 0.15 * Foundation.sin(hair.stripeFrequency * Foundation.atan2(hu, hv + 1.2) + hair.stripePhase)
                let hairColor = hair.color.scaled(strand * (1 - 0.25 * Swift.min(1, hu * hu + hv * hv)))
                // Hair behind the head: the top of the head, and down the sides for long hair.
                if inHead && rel > -hair.length && (rel > 0 || Swift.abs(hu) > 0.55) { c = hairColor }
                // Neck: a band below the jaw, between the jaw corners.
                let lateral = ((q - chin) * right).sum() / faceWidth
                if rel < -0.6 && Swift.abs(lateral) < 0.22 + 0.04 * (-rel - 0.6) && rel > -2.5 { c = neck }
                // Face with surface detail.
                let tid = raster.triangleIds[p]
                if tid >= 0 {
                    let i0 = Int(tri[3 * Int(tid)]), i1 = Int(tri[3 * Int(tid) + 1]), i2 = Int(tri[3 * Int(tid) + 2])
                    let a = SIMD2(projected[2 * i0], projected[2 * i0 + 1]), b = SIMD2(projected[2 * i1], projected[2 * i1 + 1])
                    let cc = SIMD2(projected[2 * i2], projected[2 * i2 + 1])
                    let w = barycentric(q, a, b, cc)
                    var rgb = [shaded[p], shaded[plane + p], shaded[2 * plane + p]]
                    for ch in 0..<3 {
                        let det = w.x * identity.vertexDetail[3 * i0 + ch] + w.y * identity.vertexDetail[3 * i1 + ch]
                            + w.z * identity.vertexDetail[3 * i2 + ch]
                        rgb[ch] = Swift.max(-1, Swift.min(1, rgb[ch] + det))
                    }
                    c = RGB((rgb[0] + 1) / 2, (rgb[1] + 1) / 2, (rgb[2] + 1) / 2)
                    // Fringe: hair covers the forehead above the hairline.
                    if rel > hair.hairline && inHead { c = hairColor }
                }
                put(p, c)
            }
        }
        if let g = identity.glasses { drawGlasses(&out, g, left: mean(36...41), right: mean(42...47), eyeWidth: len(point(39) - point(36)), size: s) }
        return out
    }

    func drawGlasses(_ out: inout [Float], _ g: SyntheticIdentity.Glasses, left: SIMD2<Float>, right: SIMD2<Float>, eyeWidth: Float, size s: Int) {
        let plane = s * s
        let r = g.radius * eyeWidth
        let half = g.thickness * Float(s) / 128
        let axis = right - left
        let dist = Swift.max((axis * axis).sum().squareRoot(), 1e-3)
        let dir = axis / dist
        let bridgeA = left + dir * r, bridgeB = right - dir * r
        for y in 0..<s {
            for x in 0..<s {
                let q = SIMD2<Float>(Float(x) + 0.5, Float(y) + 0.5)
                let dl = ((q - left) * (q - left)).sum().squareRoot(), dr = ((q - right) * (q - right)).sum().squareRoot()
                var on = Swift.abs(dl - r) < half || Swift.abs(dr - r) < half
                if !on && dist > 2 * r {
                    let t = Swift.max(0, Swift.min(1, ((q - bridgeA) * (bridgeB - bridgeA)).sum() / Swift.max(((bridgeB - bridgeA) * (bridgeB - bridgeA)).sum(), 1e-6)))
                    let e = q - (bridgeA + (bridgeB - bridgeA) * t)
                    on = (e * e).sum().squareRoot() < half
                }
                if on {
                    let p = y * s + x
                    out[p] = g.color.r * 2 - 1; out[plane + p] = g.color.g * 2 - 1; out[2 * plane + p] = g.color.b * 2 - 1
                }
            }
        }
    }
}

/// Screen-space barycentric weights of q in triangle (a, b, c), clamped to the triangle.
@inline(__always) func barycentric(_ q: SIMD2<Float>, _ a: SIMD2<Float>, _ b: SIMD2<Float>, _ c: SIMD2<Float>) -> SIMD3<Float> {
    let v0 = b - a, v1 = c - a, v2 = q - a
    let den = v0.x * v1.y - v1.x * v0.y
    guard Swift.abs(den) > 1e-9 else { return SIMD3(1, 0, 0) }
    var l1 = (v2.x * v1.y - v1.x * v2.y) / den
    var l2 = (v0.x * v2.y - v2.x * v0.y) / den
    l1 = Swift.max(0, Swift.min(1, l1)); l2 = Swift.max(0, Swift.min(1 - l1, l2))
    return SIMD3(1 - l1 - l2, l1, l2)
}

public enum SyntheticDataError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let m): return m }
    }
}

extension MotionSample {
    /// A smooth talking-head sequence: head turns and nods as slow sinusoids, the jaw opening and closing
    /// at a syllable rate, a smile that comes and goes, blinks and a drifting gaze.
    public static func sequence(frames: Int, fps: Double = 25, seed: UInt64, model: MorphableModel) -> [MotionSample] {
        var rng = SplitMix64(dataSeed: seed)
        let names = model.expressionNames
        func unit(_ name: String) -> Int? { names.firstIndex(of: name) }
        let jaw = unit("jawOpen"), smileL = unit("mouthSmileLeft"), smileR = unit("mouthSmileRight")
        let blinkL = unit("eyeBlinkLeft"), blinkR = unit("eyeBlinkRight"), brow = unit("browInnerUp")
        let phases = (0..<8).map { _ in rng.uniform(0, 6.28) }
        return (0..<frames).map { i in
            let t = Float(Double(i) / fps)
            var m = MotionSample.neutral
            m.pose[1] = 0.35 * Foundation.sin(2 * .pi * 0.25 * t + phases[0])
            m.pose[0] = 0.12 * Foundation.sin(2 * .pi * 0.4 * t + phases[1])
            m.pose[2] = 0.06 * Foundation.sin(2 * .pi * 0.3 * t + phases[2])
            if let j = jaw { m.expression[j] = Swift.max(0, 0.55 * Foundation.sin(2 * .pi * 3.0 * t + phases[3])) }
            let smile = Swift.max(0, 0.7 * Foundation.sin(2 * .pi * 0.2 * t + phases[4]))
            if let a = smileL { m.expression[a] = smile }
            if let b = smileR { m.expression[b] = smile }
            if let b = brow { m.expression[b] = Swift.max(0, 0.6 * Foundation.sin(2 * .pi * 0.15 * t + phases[5])) }
            let blink: Float = (Int(t * 10) % 31 == 0) ? 1 : 0
            if let l = blinkL { m.expression[l] = blink }
            if let r = blinkR { m.expression[r] = blink }
            let gx = 0.3 * Foundation.sin(2 * .pi * 0.17 * t + phases[6]), gy = 0.15 * Foundation.sin(2 * .pi * 0.23 * t + phases[7])
            m.gaze = [gx, gy, gx, gy]
            return m
        }
    }
}
