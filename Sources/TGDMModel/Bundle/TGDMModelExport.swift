import Foundation
import Torch

/// A shippable TGDM model file: only the EMA weights (float32, `ema.` prefix) and the describing metadata of a
/// trainer checkpoint (config, schedule, default sampler), so `TGDMModelBundle.load` reads it while it is a
/// fraction of the size (no optimiser moments, no raw weights). It cannot resume training.
public enum TGDMModelExport {
    public static let format = "tgdm-model-ema-v1"

    /// Writes the stripped file; returns its size in bytes. `notes` go into the metadata.
    @discardableResult
    public static func writeEMAOnly(checkpoint: URL, to output: URL, notes: [String: String] = [:], steps: Int? = nil) throws -> Int {
        var bundle = try TGDMModelBundle.load(from: checkpoint, weights: .ema)   // it must hold a complete, loadable EMA
        if let steps {
            var sampler = bundle.defaultSampler
            sampler.steps = steps
            bundle = TGDMModelBundle(model: bundle.model, schedule: bundle.schedule, defaultSampler: sampler, metadata: bundle.metadata)
        }
        var metadata = notes
        for key in ["training_config", "step"] { if let v = bundle.metadata[key] { metadata[key] = v } }
        try bundle.save(to: output, metadata: metadata)
        let attributes = try FileManager.default.attributesOfItem(atPath: output.path)
        return (attributes[.size] as? NSNumber)?.intValue ?? 0
    }
}
