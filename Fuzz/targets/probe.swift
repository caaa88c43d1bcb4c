// fuzz-swiftpm-targets: Media
// The parsers of ffprobe's output (VideoProbe, AudioDecoder.duration), fed directly (no ffprobe): any bytes
// either give a VideoInfo with a sane size, rate and duration, or throw. The first byte picks the parser.
import Foundation
@testable import Media

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProbeOutput(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let data = Data(bytes: bytes + 1, count: size - 1)
    switch bytes[0] % 3 {
    case 0:
        guard let info = try? VideoProbe.parse(ffprobeJSON: data, path: "fuzz.mp4") else { return 0 }
        guard (try? MediaLimits.check(width: info.width, height: info.height)) != nil,
              info.fps.isFinite, info.fps > 0, info.fps <= 1000, info.duration.isFinite, info.duration >= 0,
              info.frameCount >= 0 else { fatalError("implausible VideoInfo \(info)") }
    case 1:
        guard VideoProbe.parseCount(data) >= 0 else { fatalError("negative frame count") }
    default:
        guard let d = try? AudioDecoder.parseDuration(data, path: "fuzz.wav") else { return 0 }
        guard d.isFinite, d > 0 else { fatalError("implausible duration \(d)") }
    }
    return 0
}
