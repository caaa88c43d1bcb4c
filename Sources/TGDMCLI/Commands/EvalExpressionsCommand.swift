import ArgumentParser
import Evaluation
import Foundation
import Pipelines

/// `tgdm eval expressions`: the real-photo expression set (docs/EVALUATION.md). The work is `ExpressionSetRunner`.
struct EvalExpressionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expressions",
        abstract: "The real-photo expression set: portraits × drives (photos, blinks, jaw, smile, pout, head turns) scored by "
            + "Face Mesh, dlib and CIELAB region statistics.",
        discussion: """
        Writes DIR/grid.png (rows: portraits, columns: the source crop then the drives), DIR/cells.json (every metric of \
        every cell) and DIR/table.md (per-cell values with ✓/✗), and prints a summary. --portraits shipped runs the two \
        photos of Samples/; all adds their relit, turned and smaller variants (made in code).
        """)

    enum PortraitChoice: String, ExpressibleByArgument { case all, shipped }

    @Option(help: "Folder with astronaut.png, grace_hopper.jpg and driving.png (+ driving.coeffs.json).") var samples: String = "Samples"
    @Option(help: "all | shipped") var portraits: PortraitChoice = .all
    @Option(help: "Generator model (default: the shipped one).") var model: String?
    @Option(name: .shortAndLong, help: "Output folder.") var output: String = "out/expressions"
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runReportingErrors {
            try runtime.apply()
            let folder = try inputURL(samples)
            let runner = ExpressionSetRunner(pipeline: try TalkingFacePipeline(model: model.map(inputURL)), scorer: try ExpressionScorer(),
                                             samples: folder)
            runner.seed = runtime.seed
            let set = ExpressionSet.portraits(all: portraits == .all)
            let bar = ProgressBar("expressions", total: set.count * ExpressionDrive.allCases.count)
            let result = try runner.run(portraits: set) { done, _, cell in bar.update(done, status: cell) }
            // Written only once every cell ran: a failed run leaves no partial folder.
            let dir = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try result.report.write(to: dir)
            try result.grid().write(to: dir.appendingPathComponent("grid.png"))
            print(result.report.summary())
            let failed = result.report.failures.count, gated = result.report.cells.reduce(0) { $0 + $1.gatedCount }
            print("\(failed) of \(gated) gated metrics failed; \(dir.path)/grid.png, cells.json, table.md")
        }
    }
}
