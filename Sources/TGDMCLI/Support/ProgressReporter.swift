import Foundation
import Pipelines

/// Shows a job's typed progress as terminal bars (one per stage) and honours Ctrl-C.
final class ProgressReporter {
    private var bars: [String: ProgressBar] = [:]

    private func update(_ label: String, _ done: Int, _ total: Int, status: String = "") {
        let bar = bars[label] ?? ProgressBar(label, total: total)
        bars[label] = bar
        bar.update(done, status: status)
        if done >= total { bars[label] = nil }   // a later stage with this label gets a fresh bar
    }

    var handler: PipelineProgressHandler {
        { [self] p in
            switch p {
            case .analyzing(let what, let done, let total): update("analyse \(what.rawValue)", done, total)
            case .denoising(let step, let steps, let frames, let total):
                // Per-step bars only for stills; videos show frames.
                if total == 1 { update("denoise", step, steps) } else { _ = frames }
            case .frames(let done, let total): if total > 1 { update("frames", done, total) }
            case .writing: break
            }
            return stopRequested == 0
        }
    }
}
