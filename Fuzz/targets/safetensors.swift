// fuzz-swiftpm-targets: FaceModel
// The safetensors reader (model files, checkpoints, datasets, coefficient files): any bytes either decode to
// tensors whose sizes match their shapes, or throw. Decoded files also go through the coefficient loader.
import FaceModel
import Foundation
@testable import Torch

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let data = Data(bytes: bytes, count: size)
    guard let file = try? Safetensors.decode(data) else { return 0 }
    for (name, t) in file.tensors {
        // Touch every element: a tensor that claims more bytes than the file holds would read out of bounds.
        guard let c = try? t.contiguous().to(.float64), (try? c.sum().item()) != nil else { fatalError("tensor \(name) unreadable") }
    }
    if let t = file.tensors["coefficients"] { _ = try? Coefficients(t) }
    // What decodes must encode and decode to the same tensors.
    guard let again = try? Safetensors.decode(Safetensors.encode(file.tensors, metadata: file.metadata)),
          again.tensors.keys.sorted() == file.tensors.keys.sorted(), again.metadata == file.metadata else {
        fatalError("re-encoding a decoded file failed")
    }
    return 0
}
