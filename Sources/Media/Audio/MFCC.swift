import Torch
import Foundation

/// MFCC features with the conventions of the python_speech_features package (`psf.mfcc` with its
/// defaults), which the talking-face literature (ATVGnet, EAMM, PC-AVS-style audio front ends) uses:
///
/// - input: mono float samples in [-1, 1] at 16 kHz (`AudioDecoder.decode(url, sampleRate: 16000)`);
/// - pre-emphasis y[n] = x[n] − 0.97·x[n−1] (y[0] = x[0]);
/// - frames of round(0.025·16000) = 400 samples every round(0.01·16000) = 160 samples (100 rows per
///   second); frame count = 1 if N ≤ 400 else 1 + ceil((N − 400) / 160), the last frame zero-padded;
/// - rectangular window (psf's default `winfunc`; `.hamming` is available but is not the reference);
/// - power spectrum |rfft(frame, 512)|² / 512 (257 bins); frame energy = its sum (0 → machine eps);
/// - 26 triangular mel filters from 0 Hz to 8 kHz with psf's bin rounding
///   (bin = floor((512 + 1) · mel2hz(m) / 16000), mel = 2595·log10(1 + f/700));
/// - log of the filter energies (0 → eps), orthonormal DCT-II, first 13 coefficients;
/// - sinusoidal lifter 1 + (22/2)·sin(πn/22);
/// - appendEnergy: coefficient 0 is replaced by log(frame energy).
///
/// Computation is in Double (like numpy) and the result is stored as Float.
public struct MFCCConfig: Sendable, Equatable {
    public enum Window: Sendable, Equatable { case rectangular, hamming }

    public var sampleRate: Int = 16000
    public var windowSeconds: Double = 0.025
    public var hopSeconds: Double = 0.01
    public var cepstrumCount: Int = 13
    public var filterCount: Int = 26
    public var fftSize: Int = 512
    public var lowFrequency: Double = 0
    /// nil = sampleRate / 2.
    public var highFrequency: Double? = nil
    public var preemphasis: Double = 0.97
    public var cepstralLifter: Int = 22
    public var appendEnergy: Bool = true
    public var window: Window = .rectangular

    public init() {}

    /// Samples per analysis window and per hop (psf rounds half up).
    public var windowLength: Int { Int((windowSeconds * Double(sampleRate) + 0.5).rounded(.down)) }
    public var hopLength: Int { Int((hopSeconds * Double(sampleRate) + 0.5).rounded(.down)) }
    /// MFCC rows per second of audio (100 with the defaults).
    public var rowsPerSecond: Double { Double(sampleRate) / Double(hopLength) }
}

/// A T × C matrix of MFCC rows (row-major), one row per hop.
public struct MFCCFeatures: Sendable, Equatable {
    public let rowCount: Int
    public let coefficientCount: Int
    public var values: [Float]

    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * coefficientCount)..<((i + 1) * coefficientCount)] }
    public func value(row: Int, coefficient: Int) -> Float { values[row * coefficientCount + coefficient] }

    /// A T × C float32 tensor.
    public func toTensor() throws -> Tensor { try Tensor(values, shape: [rowCount, coefficientCount]) }
}

public struct MFCC: Sendable {
    public let config: MFCCConfig
    private let filterBank: [[(bin: Int, weight: Double)]] // sparse rows of the mel filter matrix
    private let dct: [Double] // cepstrumCount × filterCount, orthonormal DCT-II rows
    private let lifter: [Double]
    private let windowWeights: [Double]

    public init(config: MFCCConfig = MFCCConfig()) throws {
        let c = config
        guard (1000...384_000).contains(c.sampleRate) else { throw MediaError.invalidArgument("MFCC sample rate \(c.sampleRate) out of range") }
        guard c.windowLength >= 2, c.hopLength >= 1 else { throw MediaError.invalidArgument("MFCC window/hop too short") }
        guard c.fftSize >= 4, c.fftSize & (c.fftSize - 1) == 0, c.fftSize <= 1 << 16 else {
            throw MediaError.invalidArgument("MFCC FFT size must be a power of two in 4...65536, got \(c.fftSize)")
        }
        guard c.windowLength <= c.fftSize else {
            // psf truncates frames longer than the FFT; we refuse, since it silently drops audio.
            throw MediaError.invalidArgument("MFCC window (\(c.windowLength) samples) is longer than the FFT (\(c.fftSize))")
        }
        guard c.filterCount >= 1, c.filterCount <= 512 else { throw MediaError.invalidArgument("bad MFCC filter count \(c.filterCount)") }
        guard c.cepstrumCount >= 1, c.cepstrumCount <= c.filterCount else {
            throw MediaError.invalidArgument("MFCC cepstrum count must be 1...\(c.filterCount), got \(c.cepstrumCount)")
        }
        let high = c.highFrequency ?? Double(c.sampleRate) / 2
        guard c.lowFrequency >= 0, high > c.lowFrequency, high <= Double(c.sampleRate) / 2 else {
            throw MediaError.invalidArgument("MFCC frequency range \(c.lowFrequency)...\(high) Hz is invalid")
        }
        guard c.cepstralLifter >= 0 else { throw MediaError.invalidArgument("MFCC lifter must be >= 0") }
        self.config = c
        filterBank = MFCC.melFilterBank(config: c, high: high)
        let nf = c.filterCount
        var d = [Double](repeating: 0, count: c.cepstrumCount * nf)
        for k in 0..<c.cepstrumCount {
            let scale = k == 0 ? (1 / Double(nf)).squareRoot() : (2 / Double(nf)).squareRoot()
            for n in 0..<nf { d[k * nf + n] = scale * Foundation.cos(Double.pi * Double(k) * (2 * Double(n) + 1) / (2 * Double(nf))) }
        }
        dct = d
        lifter = (0..<c.cepstrumCount).map { n in
            c.cepstralLifter > 0 ? 1 + Double(c.cepstralLifter) / 2 * Foundation.sin(Double.pi * Double(n) / Double(c.cepstralLifter)) : 1
        }
        let w = c.windowLength
        switch c.window {
        case .rectangular: windowWeights = [Double](repeating: 1, count: w)
        case .hamming: windowWeights = (0..<w).map { 0.54 - 0.46 * Foundation.cos(2 * Double.pi * Double($0) / Double(w - 1)) }
        }
    }

    static func hzToMel(_ hz: Double) -> Double { 2595 * log10(1 + hz / 700) }
    static func melToHz(_ mel: Double) -> Double { 700 * (pow(10, mel / 2595) - 1) }

    /// psf.get_filterbanks: triangles between mel-spaced FFT bins (integer bins, floor rounding).
    static func melFilterBank(config c: MFCCConfig, high: Double) -> [[(bin: Int, weight: Double)]] {
        let lowMel = hzToMel(c.lowFrequency), highMel = hzToMel(high)
        let points = (0..<(c.filterCount + 2)).map { lowMel + (highMel - lowMel) * Double($0) / Double(c.filterCount + 1) }
        let bins = points.map { (Double(c.fftSize + 1) * melToHz($0) / Double(c.sampleRate)).rounded(.down) }
        let binCount = c.fftSize / 2 + 1
        var bank = [[(bin: Int, weight: Double)]]()
        for j in 0..<c.filterCount {
            var row = [(bin: Int, weight: Double)]()
            let (b0, b1, b2) = (bins[j], bins[j + 1], bins[j + 2])
            for i in stride(from: Int(b0), to: Int(b1), by: 1) where i < binCount { row.append((i, (Double(i) - b0) / (b1 - b0))) }
            for i in stride(from: Int(b1), to: Int(b2), by: 1) where i < binCount { row.append((i, (b2 - Double(i)) / (b2 - b1))) }
            bank.append(row)
        }
        return bank
    }

    /// The number of MFCC rows psf produces for `sampleCount` samples.
    public func rowCount(sampleCount: Int) -> Int {
        let w = config.windowLength, h = config.hopLength
        if sampleCount <= w { return 1 }
        return 1 + Int((Double(sampleCount - w) / Double(h)).rounded(.up))
    }

    /// MFCC rows for `samples` (mono, in [-1, 1], at `config.sampleRate`).
    /// Throws `emptyAudio` for an empty signal and `invalidArgument` for NaN/infinite samples.
    public func compute(_ samples: [Float]) throws -> MFCCFeatures {
        var stream = try MFCCStream(self)
        try stream.append(samples)
        return try stream.finish()
    }

    /// One MFCC row of a pre-emphasised frame (`frame` holds `windowLength` samples), into `out`.
    func row(_ frame: UnsafeBufferPointer<Double>, scratch: inout MFCCScratch, into out: UnsafeMutableBufferPointer<Float>) {
        let c = config
        let w = c.windowLength, nfft = c.fftSize, bins = nfft / 2 + 1, nf = c.filterCount
        let eps = Double.ulpOfOne
        for i in 0..<w { scratch.frame[i] = frame[i] * windowWeights[i] }
        scratch.frame.withUnsafeBufferPointer { f in scratch.power.withUnsafeMutableBufferPointer { scratch.spectrum.compute(f, into: $0) } }
        var energy = 0.0
        for k in 0..<bins { scratch.power[k] /= Double(nfft); energy += scratch.power[k] }
        if energy == 0 { energy = eps }
        for j in 0..<nf {
            var e = 0.0
            for tap in filterBank[j] { e += scratch.power[tap.bin] * tap.weight }
            scratch.logMel[j] = Foundation.log(e == 0 ? eps : e)
        }
        for k in 0..<c.cepstrumCount {
            var v = 0.0
            for n in 0..<nf { v += dct[k * nf + n] * scratch.logMel[n] }
            out[k] = Float(v * lifter[k])
        }
        if c.appendEnergy { out[0] = Float(Foundation.log(energy)) }
    }
}

/// Per-row work buffers of `MFCC.row`.
struct MFCCScratch {
    var spectrum: RealPowerSpectrum
    var power: [Double]
    var frame: [Double]
    var logMel: [Double]
    init(_ c: MFCCConfig) throws {
        spectrum = try RealPowerSpectrum(n: c.fftSize)
        power = [Double](repeating: 0, count: c.fftSize / 2 + 1)
        frame = [Double](repeating: 0, count: c.windowLength)
        logMel = [Double](repeating: 0, count: c.filterCount)
    }
}

/// MFCCs of a signal that arrives in pieces (an ffmpeg pipe): the same rows as `MFCC.compute` on the whole
/// signal, bit for bit, while holding only the samples of frames not yet complete (one window) and the rows.
/// `append` pieces of any size, then `finish` pads the last frame with zeros as psf does.
public struct MFCCStream {
    public let mfcc: MFCC
    /// Samples appended so far.
    public private(set) var sampleCount = 0
    private var pending: [Double] = []        // pre-emphasised samples from absolute index `pendingStart`
    private var pendingStart = 0
    private var previous: Float = 0           // the last raw sample, for the pre-emphasis of the next piece
    private var rows: [Float] = []
    private var rowCount = 0
    private var scratch: MFCCScratch

    public init(_ mfcc: MFCC) throws {
        self.mfcc = mfcc
        scratch = try MFCCScratch(mfcc.config)
    }

    /// Adds samples (mono, in [-1, 1]); throws `invalidArgument` for NaN/infinite ones.
    public mutating func append(_ samples: [Float]) throws {
        if let bad = samples.firstIndex(where: { !$0.isFinite }) {
            throw MediaError.invalidArgument("audio sample \(sampleCount + bad) is NaN or infinite")
        }
        let c = mfcc.config
        pending.reserveCapacity(pending.count + samples.count)
        for x in samples {
            // y[0] = x[0], y[n] = x[n] − k·x[n−1]
            pending.append(sampleCount == 0 ? Double(x) : Double(x) - c.preemphasis * Double(previous))
            previous = x
            sampleCount += 1
        }
        // Frames whose samples have all arrived; a partial last frame waits for `finish` (psf zero-pads it).
        while rowCount * c.hopLength + c.windowLength <= sampleCount { emitRow() }
        // Drop samples no later frame reads (in large steps, so the copying stays linear).
        let firstNeeded = rowCount * c.hopLength
        if firstNeeded - pendingStart >= 1 << 16 {
            pending.removeFirst(firstNeeded - pendingStart)
            pendingStart = firstNeeded
        }
    }

    /// The rows of the whole signal. Throws `emptyAudio` when nothing was appended.
    public mutating func finish() throws -> MFCCFeatures {
        guard sampleCount > 0 else { throw MediaError.emptyAudio("cannot compute MFCC of an empty signal") }
        let c = mfcc.config
        let total = mfcc.rowCount(sampleCount: sampleCount)
        let padded = (total - 1) * c.hopLength + c.windowLength
        pending.append(contentsOf: repeatElement(0, count: max(0, padded - (pendingStart + pending.count))))
        while rowCount < total { emitRow() }
        return MFCCFeatures(rowCount: total, coefficientCount: c.cepstrumCount, values: rows)
    }

    private mutating func emitRow() {
        let c = mfcc.config
        let start = rowCount * c.hopLength - pendingStart
        var out = [Float](repeating: 0, count: c.cepstrumCount)
        pending.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                mfcc.row(UnsafeBufferPointer(rebasing: p[start..<(start + c.windowLength)]), scratch: &scratch, into: o)
            }
        }
        rows.append(contentsOf: out)
        rowCount += 1
    }
}
