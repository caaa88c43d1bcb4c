import ArgumentParser
import Evaluation
import Foundation

/// `tgdm eval talk`: what a talking-face video shows, read back by Face Mesh (`TalkReadout`).
struct EvalTalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "talk",
        abstract: "Read a talking-face video back with Face Mesh: mouth against the audio, blinks a minute, head motion.",
        discussion: """
        Works on any video with a face (the output of `tgdm talk` or `tgdm video`, or a real recording for reference). \
        Prints a table with the reference ranges of issue #22; --json writes the numbers.
        """)

    @Argument(help: "The video (its own audio track is read for the lip-sync correlation).") var video: String
    @Option(help: "Also write the readout as JSON.") var json: String?
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runReportingErrors {
            try runtime.apply()
            let url = try inputURL(video)
            let measurer = try FaceMeasurer(options: .init(identity: false, coefficients: true, emotion: false))
            var bar: ProgressBar?
            let readout = try TalkReadout.read(video: url, measurer: measurer) { done, total in
                if bar == nil { bar = ProgressBar("frames", total: max(total, done)) }
                bar?.update(done)
                return true
            }
            print(readout.markdown())
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(readout).write(to: URL(fileURLWithPath: json))
            }
        }
    }
}
