import Foundation

/// The parts of libespeak-ng's C API (speak_lib.h, espeak-ng 1.49+) this module needs, loaded with
/// dlopen so the package needs neither the -dev headers nor a link-time dependency. libespeak-ng.so.1
/// is installed with the espeak-ng program.
///
/// The library is process-global and not thread-safe, so every use goes through `ESpeakLibrary.lock`.
final class ESpeakLibrary: @unchecked Sendable {
    typealias InitializeFn = @convention(c) (Int32, Int32, UnsafePointer<CChar>?, Int32) -> Int32
    typealias SynthCallback = @convention(c) (UnsafeMutablePointer<Int16>?, Int32, UnsafeMutableRawPointer?) -> Int32
    typealias SetSynthCallbackFn = @convention(c) (SynthCallback?) -> Void
    typealias SetVoiceByNameFn = @convention(c) (UnsafePointer<CChar>?) -> Int32
    typealias SetParameterFn = @convention(c) (Int32, Int32, Int32) -> Int32
    typealias SynthFn = @convention(c) (UnsafeRawPointer?, Int, UInt32, Int32, UInt32, UInt32,
                                        UnsafeMutablePointer<UInt32>?, UnsafeMutableRawPointer?) -> Int32
    typealias SynchronizeFn = @convention(c) () -> Int32

    // speak_lib.h constants
    static let audioOutputSynchronous: Int32 = 2
    static let initializePhonemeEvents: Int32 = 0x0001
    static let initializePhonemeIPA: Int32 = 0x0002
    static let initializeDontExit: Int32 = 0x8000
    static let parameterRate: Int32 = 1
    static let parameterVolume: Int32 = 2
    static let parameterPitch: Int32 = 3
    static let positionCharacter: Int32 = 1
    static let charsUTF8: UInt32 = 1
    // espeak_EVENT_TYPE
    static let eventListTerminated: Int32 = 0
    static let eventPhoneme: Int32 = 7
    static let eventEnd: Int32 = 5
    static let eventMessageTerminated: Int32 = 6
    /// sizeof(espeak_EVENT) on LP64: 6 ints, a pointer, an 8-byte union.
    static let eventSize = 40

    let sampleRate: Int
    let setSynthCallback: SetSynthCallbackFn
    let setVoiceByName: SetVoiceByNameFn
    let setParameter: SetParameterFn
    let synth: SynthFn
    let synchronize: SynchronizeFn

    static let lock = NSLock()
    nonisolated(unsafe) private static var shared: ESpeakLibrary?
    nonisolated(unsafe) private static var loadError: MediaError?

    /// The loaded and initialised library (call with `lock` held).
    static func load() throws -> ESpeakLibrary {
        if let shared { return shared }
        if let loadError { throw loadError }
        do {
            let lib = try ESpeakLibrary()
            shared = lib
            return lib
        } catch let e as MediaError {
            loadError = e
            throw e
        }
    }

    private init() throws {
        guard MemoryLayout<Int>.size == 8 else { throw MediaError.toolMissing("espeak-ng bindings assume a 64-bit platform") }
        var handle: UnsafeMutableRawPointer?
        for name in ["libespeak-ng.so.1", "libespeak-ng.so", "libespeak-ng.1.dylib", "libespeak-ng.dylib"] {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { break }
        }
        guard let handle else {
            throw MediaError.toolMissing("libespeak-ng (the espeak-ng library) cannot be loaded; install espeak-ng")
        }
        func symbol<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else { throw MediaError.toolMissing("libespeak-ng lacks \(name)") }
            return unsafeBitCast(p, to: T.self)
        }
        let initialize = try symbol("espeak_Initialize", InitializeFn.self)
        setSynthCallback = try symbol("espeak_SetSynthCallback", SetSynthCallbackFn.self)
        setVoiceByName = try symbol("espeak_SetVoiceByName", SetVoiceByNameFn.self)
        setParameter = try symbol("espeak_SetParameter", SetParameterFn.self)
        synth = try symbol("espeak_Synth", SynthFn.self)
        synchronize = try symbol("espeak_Synchronize", SynchronizeFn.self)
        let rate = initialize(ESpeakLibrary.audioOutputSynchronous, 0, nil,
                              ESpeakLibrary.initializePhonemeEvents | ESpeakLibrary.initializeDontExit)
        guard rate > 0 else { throw MediaError.toolFailed("espeak_Initialize failed (is espeak-ng-data installed?)") }
        sampleRate = Int(rate)
    }
}
