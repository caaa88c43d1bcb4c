import Foundation

/// A shippable TGDM model file: only the EMA weights (float32, `ema.` prefix) and the metadata of a
/// trainer checkpoint, so `TGDMCheckpoint.loadModel(from:useEMA: true)` reads it while it is a fraction
/// of the size (no optimiser moments, no raw weights). It cannot resume training.
public enum TGDMModelExport {
    public static let format = "tgdm-model-ema-v1"

    /// Writes the stripped file; returns its size in bytes. `notes` go into the metadata.
    @discardableResult
    public static func writeEMAOnly(checkpoint: URL, to output: URL, notes: [String: String] = [:]) throws -> Int {
        guard FileManager.default.fileExists(atPath: checkpoint.path) else { throw TGDMError.checkpoint("no checkpoint at \(checkpoint.path)") }
        let file = try Safetensors.load(checkpoint)
        _ = try TGDMCheckpoint.loadModel(from: checkpoint, useEMA: true)   // it must hold a complete, loadable EMA
        var tensors: [String: Tensor] = [:]
        for (k, v) in file.tensors where k.hasPrefix("ema.") { tensors[k] = try v.to(.cpu).to(.float32).contiguous() }
        var metadata = notes
        metadata["format"] = format
        metadata["model_config"] = file.metadata["model_config"]
        if let t = file.metadata["training_config"] { metadata["training_config"] = t }
        if let step = file.tensors["trainer.step"] { metadata["step"] = String(Int(try step.item())) }
        try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Safetensors.save(tensors, metadata: metadata, to: output)
        let attributes = try FileManager.default.attributesOfItem(atPath: output.path)
        return (attributes[.size] as? NSNumber)?.intValue ?? 0
    }
}
