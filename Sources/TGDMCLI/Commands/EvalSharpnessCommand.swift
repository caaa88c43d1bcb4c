import ArgumentParser
import Evaluation
import Foundation
import Media
import Pipelines

/// `tgdm eval sharpness`: how much of the photo's detail and outline sharpness a full-frame output keeps (issue #21),
/// with the face composed at the photo's own resolution and, for comparison, at a fixed size.
struct EvalSharpnessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sharpness",
        abstract: "Detail kept by full-frame reenactments: band-pass detail in the face box and gradient along the face outline, over the photo's.",
        discussion: """
        Each source is reenacted by each driver (default: itself — the identity drive — and Samples/driving.png) with the \
        face at the photo's own resolution and at --compare size. Detail: luminance difference of Gaussians (σ 1 and 2 px) \
        in the photo's Face Mesh box, as a fraction of the photo's. Outline: mean gradient within 2 px of Face Mesh's face \
        oval of the output, over the photo's along its own. Prints a Markdown table.
        """)

    @Option(name: .customLong("source"), help: "Source portraits.") var sources: [String]
    @Option(name: .customLong("driving"), help: "Driving pictures (default: each source itself, then Samples/driving.png).") var drivers: [String] = []
    @Option(help: "The fixed face size to compare with.") var compare: Int = 256
    @Option(help: "Generator model (default: the shipped one).") var model: String?
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("give at least one --source") }
        guard (16...2048).contains(compare) else { throw ValidationError("--compare must be in 16...2048") }
    }

    func run() throws {
        try runReportingErrors {
            try runtime.apply()
            let pipeline = try TalkingFacePipeline(model: model.map(inputURL))
            let mesh = try FaceMeasurer(options: .init(identity: false, coefficients: false, emotion: false))
            print("| source | driver | face square | detail | outline gradient |")
            print("|---|---|---|---|---|")
            for path in sources {
                let source = try pipeline.portrait(inputURL(path))
                let photo = try mesh.measure(source.frame, name: source.name)
                let box = try Detail.box(of: photo.imageLandmarks)
                let photoOutline = try Detail.outlineGradient(source.frame, outline: Detail.faceOval(photo.imageLandmarks))
                let driverPaths = drivers.isEmpty ? [path, "Samples/driving.png"] : drivers
                for d in driverPaths {
                    let driver = d == path ? source : try pipeline.portrait(inputURL(d))
                    for size in [nil, compare] {
                        var config = PipelineConfiguration()
                        config.seed = runtime.seed
                        config.outputSize = size
                        let output = try pipeline.generate(.reenact(source: source, driver: .image(driver)), configuration: config).frames[0].output
                        let readout = try mesh.measure(output, name: "output")
                        let detail = try Detail.ratio(output, to: source.frame, in: box)
                        let outline = try Detail.outlineGradient(output, outline: Detail.faceOval(readout.imageLandmarks)) / photoOutline
                        let square = config.compositeSquare(for: source.crop)
                        let label = size == nil ? "native \(square.cropSize)²" : "fixed \(square.cropSize)² (\(Int(square.side.rounded())) px in the photo)"
                        print(String(format: "| %@ | %@ | %@ | %.3f | %.3f |", source.name, d == path ? "itself" : driver.name, label, detail, outline))
                    }
                }
            }
        }
    }
}
