// fuzz-swiftpm-targets: FaceModel
// The coefficient JSON reader (sidecars NAME.coeffs.json, `--driving-coeffs`, `tgdm render --coeffs`): any bytes
// either give N × 261 finite coefficients or throw; what loads must save and load to the same values.
@testable import FaceModel
import Foundation
import Torch

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCoefficientJSON(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let data = Data(bytes: bytes, count: size)
    guard let c = try? Coefficients.decodeJSON(data) else { return 0 }
    guard c.tensor.shape == [c.batch, Coefficients.count], let values = try? c.tensor.floats(),
          values.allSatisfy({ $0.isFinite }) else { fatalError("decoded coefficients are malformed") }
    guard let json = try? c.jsonData(), let again = try? Coefficients.decodeJSON(json),
          (try? again.tensor.floats()) == values else { fatalError("JSON round trip changed the coefficients") }
    return 0
}
