import Evaluation
import FaceModel
import Foundation
import Media
import Pipelines
import Torch

/// Runs the real-photo expression set (issue #20, item 4) through the pipeline and scores it. It lives here, not in
/// Evaluation or Pipelines, because it needs both: Pipelines cannot import Evaluation (Evaluation imports it), and
/// Evaluation's scoring stays independent of the generator it scores (it reads images and landmarks only).
public final class ExpressionSetRunner {
    public let pipeline: TalkingFacePipeline
    public let scorer: ExpressionScorer
    /// The folder with astronaut.png, grace_hopper.jpg and driving.png (+ its coefficient sidecar).
    public let samples: URL
    /// Seed of the sampler's noise (`PipelineConfiguration.seed`).
    public var seed: UInt64 = 0
    private var drivers: [String: Portrait] = [:]

    public struct Row {
        public let portrait: String
        /// The source's face crop (what the cells are compared with).
        public let source: RGBImage
        /// One output face crop per drive.
        public let outputs: [RGBImage]
        public let cells: [ExpressionCellScore]
    }

    public struct Result {
        public let rows: [Row]
        public let report: ExpressionSetReport
        public func grid() throws -> RGBImage {
            try ExpressionSetReport.grid(sources: rows.map(\.source), outputs: rows.map(\.outputs), report: report)
        }
    }

    public init(pipeline: TalkingFacePipeline, scorer: ExpressionScorer, samples: URL) {
        self.pipeline = pipeline
        self.scorer = scorer
        self.samples = samples
    }

    /// Every cell of `portraits` × `drives`; `progress(done, total, cell)` after each cell.
    public func run(portraits: [ExpressionPortrait], drives: [ExpressionDrive] = ExpressionDrive.allCases,
                    progress: ((Int, Int, String) -> Void)? = nil) throws -> Result {
        var rows: [Row] = []
        let total = portraits.count * drives.count
        for p in portraits {
            let done = rows.count * drives.count
            rows.append(try row(p, drives: drives) { k, name in progress?(done + k, total, name) })
        }
        let report = ExpressionSetReport(portraits: rows.map(\.portrait), drives: drives.map(\.rawValue), cells: rows.flatMap(\.cells),
                                         notes: Self.notes)
        return Result(rows: rows, report: report)
    }

    public static let notes = [
        "Portraits: Samples/astronaut.png (NASA, public domain) and Samples/grace_hopper.jpg (US Navy, public domain); "
            + "\"relit\", \"turned\" and \"smaller\" rows are variants of them made in code (a linear-light gain ramp 0.3→1.3 "
            + "from left to right; mirrored and rotated 10°; scaled to 0.7 in a canvas of the original size, edge-padded).",
        "Drives: Samples/driving.png; a real photo showing its teeth (astronaut.png, mirrored for the astronaut's own rows); "
            + "edits of the source's fitted ρ (blink units 1; jawOpen 0.3/0.6/0.9; mouthSmileLeft/Right 0.8; mouthPucker 0.8; "
            + "yaw ±25°, pitch ±15°).",
        "Each cell is the pipeline's 256² face crop (framing crop, warp composition, the model's own sampler, seed 0 unless --seed).",
    ]

    func row(_ p: ExpressionPortrait, drives: [ExpressionDrive], progress: (Int, String) -> Void) throws -> Row {
        let size = ExpressionSet.cropSize
        let photo = try RGBImage(contentsOf: samples.appendingPathComponent(p.photo))
        let source = try pipeline.portraits.estimate(frame: p.image(from: photo), name: p.name)
        let crop = try source.cropImage(size: size)
        let sourceRender = try Torch.noGrad {
            try RGBImage(tensor: pipeline.renderer.render(source.coefficients, width: size, height: size).image)
        }
        let readout = try scorer.readSource(crop, render: sourceRender, name: p.name)
        let rhoS = try source.coefficients.tensor.squeeze(0).floats()
        let names = pipeline.renderer.model.expressionNames
        var rows: [Coefficients] = []
        for d in drives {
            if let edited = try d.coefficients(editing: rhoS, expressionNames: names) {
                rows.append(try Coefficients(Tensor(edited, shape: [1, Coefficients.count])))
            } else {
                rows.append(try driver(d, for: p).coefficients)
            }
        }

        var config = PipelineConfiguration()
        config.framing = .crop
        config.outputSize = size
        config.batchSize = drives.count
        config.seed = seed
        // One job for the row when each frame is conditioned on its own ρ̂ alone; a model with a temporal window
        // would read its neighbours' drives, so it gets one job per cell.
        let jobs = pipeline.generator.config.temporalRadius == 0 ? [rows] : rows.map { [$0] }
        var outputs: [RGBImage] = [], rhoHat: [[Float]] = []
        for job in jobs {
            let result = try pipeline.generate(.reenact(source: source, driver: .motion(try Coefficients.concatenate(job), fps: 25)),
                                               configuration: config)
            outputs += result.frames.map(\.output)
            for i in 0..<result.coefficients.batch { rhoHat.append(try result.coefficients.frame(i).tensor.squeeze(0).floats()) }
        }

        let pose = CoefficientPart.pose.range.lowerBound
        var cells: [ExpressionCellScore] = []
        for (k, d) in drives.enumerated() {
            let rho = try Coefficients(Tensor(rhoHat[k], shape: [1, Coefficients.count]))
            let openEyes = ExpressionDrive.openEyes(rhoHat[k], source: rhoS, expressionNames: names)
            let open = try Coefficients(Tensor(openEyes, shape: [1, Coefficients.count]))
            let inSourcePose = try rho.replacing(.pose, with: source.coefficients.pose)
            let (mouthRender, landmarks, openLandmarks) = try Torch.noGrad {
                let mouth = try RGBImage(tensor: pipeline.renderer.render(inSourcePose, width: size, height: size).image)
                return (mouth, try points(pipeline.renderer.landmarks(coefficients: rho, size: size)),
                        try points(pipeline.renderer.landmarks(coefficients: open, size: size)))
            }
            let input = ExpressionCellInput(portrait: p.name, drive: d, output: outputs[k], mouthRender: mouthRender,
                                            landmarks: landmarks,
                                            openEyeLandmarks: openLandmarks, askedPitch: Double(rhoHat[k][pose] - rhoS[pose]),
                                            askedYaw: Double(rhoHat[k][pose + 1] - rhoS[pose + 1]))
            cells.append(scorer.score(input, source: readout))
            progress(k + 1, "\(p.name) × \(d.rawValue)")
        }
        return Row(portrait: p.name, source: crop, outputs: outputs, cells: cells)
    }

    /// 1 × 68 × 2 landmarks as points.
    func points(_ t: Tensor) throws -> [SIMD2<Double>] {
        let v = try t.contiguous().floats()
        return stride(from: 0, to: v.count, by: 2).map { SIMD2(Double(v[$0]), Double(v[$0 + 1])) }
    }

    /// The photo that drives a photo column (fitted once).
    func driver(_ d: ExpressionDrive, for p: ExpressionPortrait) throws -> Portrait {
        let mirrored = d == .teethPhoto && p.photo == "astronaut.png"
        let key = d == .drivingPhoto ? "driving.png" : mirrored ? "astronaut.png mirrored" : "astronaut.png"
        if let cached = drivers[key] { return cached }
        let portrait: Portrait
        switch d {
        case .drivingPhoto: portrait = try pipeline.portrait(samples.appendingPathComponent("driving.png"))
        default:
            let photo = try RGBImage(contentsOf: samples.appendingPathComponent("astronaut.png"))
            portrait = try pipeline.portraits.estimate(frame: mirrored ? PortraitVariants.mirrored(photo) : photo, name: key)
        }
        drivers[key] = portrait
        return portrait
    }
}
