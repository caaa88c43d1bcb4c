import FaceAnalysis
import FaceModel
import Foundation
import Media

/// One number of a cell: its value, the gate it is held to and whether it passed (nil: reported, not gated).
public struct ExpressionMetric: Codable, Sendable, Equatable {
    public var name: String
    /// nil when it could not be measured (no face found, an empty region): a gated metric then fails.
    public var value: Double?
    /// The gate in words ("< 0.45"), or why it is only reported.
    public var gate: String
    public var pass: Bool?

    public init(_ name: String, _ value: Double?, gate: String, pass: Bool?) {
        self.name = name
        self.value = value
        self.gate = gate
        self.pass = pass
    }

    /// A gated metric: `test` decides on a measured value; no value fails.
    static func gated(_ name: String, _ value: Double?, gate: String, _ test: (Double) -> Bool) -> ExpressionMetric {
        ExpressionMetric(name, value, gate: gate, pass: value.map(test) ?? false)
    }
}

/// The scores of one cell (portrait × drive).
public struct ExpressionCellScore: Codable, Sendable {
    public var portrait: String
    public var drive: String
    public var metrics: [ExpressionMetric]

    public var failures: [ExpressionMetric] { metrics.filter { $0.pass == false } }
    public var gatedCount: Int { metrics.filter { $0.pass != nil }.count }
    public func metric(_ name: String) -> ExpressionMetric? { metrics.first { $0.name == name } }
}

/// What the scorer needs of one generated cell; geometry in pixels of the 256² face crop (x right, y down).
public struct ExpressionCellInput {
    public var portrait: String
    public var drive: ExpressionDrive
    /// The pipeline's output face crop (framing `.crop`), in the coordinates of the render camera.
    public var output: RGBImage
    /// ρ̂'s expression rendered in the source's pose: Face Mesh reads the asked mouth from it (its reading of a render's
    /// lips changes with the head's pose more than a photo's does).
    public var mouthRender: RGBImage
    /// ρ̂'s projected iBUG-68 landmarks.
    public var landmarks: [SIMD2<Double>]
    /// The same with the blink units put back to the source's: where the eye opening was, which a closed lid covers.
    public var openEyeLandmarks: [SIMD2<Double>]
    /// ρ̂'s pitch and yaw minus the source's (radians).
    public var askedPitch: Double
    public var askedYaw: Double

    public init(portrait: String, drive: ExpressionDrive, output: RGBImage, mouthRender: RGBImage,
                landmarks: [SIMD2<Double>], openEyeLandmarks: [SIMD2<Double>], askedPitch: Double, askedYaw: Double) {
        self.portrait = portrait
        self.drive = drive
        self.output = output
        self.mouthRender = mouthRender
        self.landmarks = landmarks
        self.openEyeLandmarks = openEyeLandmarks
        self.askedPitch = askedPitch
        self.askedYaw = askedYaw
    }
}

/// The source portrait's face crop as the readout networks see it.
public struct ExpressionSourceReadout {
    public let measurement: FaceMeasurement
    /// The readout of the render of the source's own ρ (nil when Face Mesh found no face there).
    public let render: FaceMeasurement?
    public var earLeft: Double { FaceGeometry.eyeAspectRatio(faceMesh: measurement.imageLandmarks, leftEye: true) }
    public var earRight: Double { FaceGeometry.eyeAspectRatio(faceMesh: measurement.imageLandmarks, leftEye: false) }
}

/// Scores cells of the expression set with networks independent of the generator: Face Mesh (eyes, mouth, and
/// through the landmark fit the pose), dlib (identity), and CIELAB statistics over regions the asked geometry ρ̂
/// defines (docs/EVALUATION.md, "Real-photo expression set").
public final class ExpressionScorer {
    /// The gates of issue #20, item 4.
    public enum Gate {
        /// dlib distance to the source (same person below 0.6 by dlib's own threshold).
        public static let identity = 0.45
        /// A closed eye's EAR is below this fraction of the same eye's in the source photo.
        public static let closedEyeFraction = 0.5
        /// Inner-lip gap within 20 % of the render's, with a floor of 20 % of `lipGapFloor` (a closed mouth).
        public static let lipGapRelative = 0.2
        public static let lipGapFloor = 0.1
        /// Read pose change vs asked, radians: the same fit on ρ̂'s own render reads yaw within 0.06 and pitch within
        /// 0.11 of ρ̂ (a smile reads as a nod), so pitch gets the larger tolerance (docs/EVALUATION.md).
        public static let yaw = 0.1
        public static let pitch = 0.15
        /// A closed lid's mean colour vs the skin below the eye (ΔE*ab), and its texture as a fraction of that skin's.
        public static let lidDeltaE = 12.0
        public static let lidTexture = 0.6
        /// Inner-mouth pixels with a* < 0.
        public static let greenFraction = 0.02
        /// The render shows teeth: the asked inner-lip gap (`mouth.lipGap.asked`, Face Mesh's 13–14 over 61–291) above
        /// this. ρ̂'s own 62 ↔ 66 cannot say it: the model's inner lips do not meet (Grace Hopper's closed mouth measures
        /// 0.095 there, more than the astronaut's smile with teeth showing, 0.066).
        public static let teethGap = 0.04
        /// Fewer inner-mouth pixels than this: no mouth metrics (a closed mouth).
        public static let mouthPixels = 20
    }

    let measurer: FaceMeasurer
    let mesh: FaceMeasurer

    /// `fast`: the landmark fit of the pose with 60 steps and no gaze stage (the pose settles in the rigid stage).
    public init(fast: Bool = true) throws {
        var options = FaceMeasurer.Options(identity: true, coefficients: true, emotion: false)
        if fast {
            options.fitter.iterations = 60
            options.fitter.gazeIterations = 0
        }
        measurer = try FaceMeasurer(options: options)
        mesh = try FaceMeasurer(options: .init(identity: false, coefficients: false, emotion: false))
    }

    /// `crop`: the source's face crop; `render`: its own ρ rendered in the same camera.
    public func readSource(_ crop: RGBImage, render: RGBImage, name: String) throws -> ExpressionSourceReadout {
        ExpressionSourceReadout(measurement: try measurer.measure(crop, name: name),
                                render: try? mesh.measure(render, name: "render of \(name)"))
    }

    public func score(_ cell: ExpressionCellInput, source: ExpressionSourceReadout) -> ExpressionCellScore {
        let out = try? measurer.measure(cell.output, name: "\(cell.portrait) × \(cell.drive.rawValue)")
        let mouthRender = try? mesh.measure(cell.mouthRender, name: "mouth render of \(cell.portrait) × \(cell.drive.rawValue)")
        var metrics: [ExpressionMetric] = []

        let identity = out?.embedding.flatMap { e in source.measurement.embedding.flatMap { try? FaceIdentityEncoder.distance(e, $0) } }
        metrics.append(.gated("identity", identity, gate: "< \(Gate.identity)") { $0 < Gate.identity })

        metrics += eyes(cell, out: out, source: source)
        let lip = lipGap(cell, out: out, render: mouthRender, source: source)
        metrics += lip
        metrics += pose(cell, out: out, source: source)
        let lab = LabImage(cell.output)
        metrics += Self.lids(closedEyes: cell.drive.closedEyes, openEyeLandmarks: cell.openEyeLandmarks, lab: lab)
        // Without a reading of the render, ρ̂'s own gap decides (an over-estimate for closed mouths, see `Gate.teethGap`).
        let asked = lip.first { $0.name == "mouth.lipGap.asked" }?.value ?? FaceGeometry.ibugLipGap(cell.landmarks)
        metrics += Self.mouth(landmarks: cell.landmarks, lab: lab, showsTeeth: asked > Gate.teethGap)
        return ExpressionCellScore(portrait: cell.portrait, drive: cell.drive.rawValue, metrics: metrics)
    }

    func eyes(_ cell: ExpressionCellInput, out: FaceMeasurement?, source: ExpressionSourceReadout) -> [ExpressionMetric] {
        let asked = cell.drive.closedEyes
        return [(true, "left", asked.left, source.earLeft), (false, "right", asked.right, source.earRight)].map { left, side, closed, was in
            let ear = out.map { FaceGeometry.eyeAspectRatio(faceMesh: $0.imageLandmarks, leftEye: left) }
            let limit = Gate.closedEyeFraction * was
            if closed {
                return .gated("eye.\(side).EAR", ear, gate: String(format: "< %.3f (half the source's %.3f)", limit, was)) { $0 < limit }
            }
            return ExpressionMetric("eye.\(side).EAR", ear, gate: String(format: "reported (source %.3f)", was), pass: nil)
        }
    }

    /// Face Mesh reads the inner-lip gap (13–14 over 61–291) on both sides: the output against ρ̂'s render. The model's
    /// own inner-lip points (iBUG 62/66) are not where Face Mesh puts 13/14 (`mouth.lipGap.model`, reported), and Face
    /// Mesh reads a photo's lips, teeth showing, differently from a render's: the asked gap is the render's plus that
    /// portrait's offset (its photo's gap minus the render of its own ρ), so only the motion is compared.
    func lipGap(_ cell: ExpressionCellInput, out: FaceMeasurement?, render: FaceMeasurement?,
                source: ExpressionSourceReadout) -> [ExpressionMetric] {
        let model = FaceGeometry.ibugLipGap(cell.landmarks)
        var m = [ExpressionMetric("mouth.lipGap.model", model, gate: "reported (ρ̂'s iBUG 62–66 over 48–54)", pass: nil)]
        m.append(ExpressionMetric("mouth.lipGap.render", render?.mouthOpening, gate: "reported (Face Mesh on ρ̂'s render)", pass: nil))
        guard let render, let sourceRender = source.render?.mouthOpening else {
            m.append(ExpressionMetric("mouth.lipGap", out?.mouthOpening, gate: "not gated: Face Mesh found no face in a render", pass: nil))
            return m
        }
        let offset = source.measurement.mouthOpening - sourceRender
        let asked = render.mouthOpening + offset
        let tolerance = Gate.lipGapRelative * max(asked, Gate.lipGapFloor)
        let how = String(format: "reported (render %.3f %+.3f photo offset)", render.mouthOpening, offset)
        m.append(ExpressionMetric("mouth.lipGap.asked", asked, gate: how, pass: nil))
        m.append(.gated("mouth.lipGap", out?.mouthOpening, gate: String(format: "%.3f ± %.3f", asked, tolerance)) {
            abs($0 - asked) <= tolerance
        })
        return m
    }

    /// The landmark fit's pitch and yaw of the output minus those of the source crop, against ρ̂'s minus the source's.
    func pose(_ cell: ExpressionCellInput, out: FaceMeasurement?, source: ExpressionSourceReadout) -> [ExpressionMetric] {
        let p = CoefficientPart.pose.range.lowerBound
        func read(_ k: Int) -> Double? {
            guard let o = out?.coefficients, let s = source.measurement.coefficients else { return nil }
            return Double(o[p + k] - s[p + k])
        }
        return [("pose.pitch", 0, cell.askedPitch, Gate.pitch), ("pose.yaw", 1, cell.askedYaw, Gate.yaw)].map { name, k, asked, tolerance in
            .gated(name, read(k), gate: String(format: "%+.3f ± %.2f rad", asked, tolerance)) { abs($0 - asked) <= tolerance }
        }
    }

    /// A closed lid (where the open eye was) against the skin just below the eye.
    public static func lids(closedEyes asked: (left: Bool, right: Bool), openEyeLandmarks: [SIMD2<Double>],
                            lab: LabImage) -> [ExpressionMetric] {
        var m: [ExpressionMetric] = []
        for (left, side, closed) in [(true, "left", asked.left), (false, "right", asked.right)] where closed {
            let opening = FaceGeometry.ibugEye(leftEye: left).map { openEyeLandmarks[$0] }
            let lid = PixelRegion.polygon(opening, width: lab.width, height: lab.height)
            let skin = FaceGeometry.skinBelowEye(openEyeLandmarks, leftEye: left, width: lab.width, height: lab.height)
            let dE = lab.mean(lid).flatMap { a in lab.mean(skin).map { CIELab.deltaE(a, $0) } }
            let texture = lab.texture(lid).flatMap { a in lab.texture(skin).flatMap { $0 > 0 ? a / $0 : nil } }
            m.append(.gated("lid.\(side).deltaE", dE, gate: "< \(Gate.lidDeltaE) from the skin below the eye") { $0 < Gate.lidDeltaE })
            m.append(.gated("lid.\(side).texture", texture, gate: "≥ \(Gate.lidTexture) of the skin's L* std") { $0 >= Gate.lidTexture })
        }
        return m
    }

    /// The inner mouth (`FaceGeometry.innerMouth` of ρ̂) and the lips (48–59 less the inner mouth). Teeth and cavity are the lightest and
    /// the darkest quarter of the inner mouth's L*: an open mouth shows both, and neither may be green.
    public static func mouth(landmarks l: [SIMD2<Double>], lab: LabImage, showsTeeth: Bool) -> [ExpressionMetric] {
        let inner = FaceGeometry.innerMouth(l, width: lab.width, height: lab.height)
        guard inner.count >= Gate.mouthPixels else {
            return [ExpressionMetric("mouth.green", nil, gate: "not gated: \(inner.count) inner-mouth pixels", pass: nil)]
        }
        var m = [ExpressionMetric.gated("mouth.green", lab.greenFraction(inner), gate: "< \(Gate.greenFraction) of \(inner.count) px") {
            $0 < Gate.greenFraction
        }]
        guard showsTeeth else { return m }
        let lips = FaceGeometry.outerMouth(l, width: lab.width, height: lab.height).subtracting(inner)
        let light = lab.lightness(inner).sorted()
        let quarter = max(1, light.count / 4)
        let cavity = light.prefix(quarter).reduce(0, +) / Double(quarter)
        let teeth = light.suffix(quarter).reduce(0, +) / Double(quarter)
        let lipL = lab.mean(lips)?.x
        m.append(.gated("mouth.teeth", lipL.map { teeth - $0 }, gate: String(format: "L* %.1f − lips' > 0", teeth)) { $0 > 0 })
        let cavityGate = String(format: "min(lips, teeth) − L* %.1f > 0", cavity)
        m.append(.gated("mouth.cavity", lipL.map { min($0, teeth) - cavity }, gate: cavityGate) { $0 > 0 })
        return m
    }
}
