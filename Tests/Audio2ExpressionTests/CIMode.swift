import Foundation
import XCTest

/// A missing dependency (a model, ffmpeg, espeak-ng, the built executable) skips a test on a developer's
/// machine but fails it under TGDM_CI=1 (`.ci/run`): setup installs everything, so in CI a skip would hide a
/// broken install. Test targets cannot share code; each target that can skip has this copy.
func requireOrSkip(_ available: Bool, _ why: @autoclosure () -> String) throws {
    guard !available else { return }
    if ProcessInfo.processInfo.environment["TGDM_CI"] == "1" { throw MissingDependency(message: why() + " (required under TGDM_CI=1)") }
    throw XCTSkip(why())
}

struct MissingDependency: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
