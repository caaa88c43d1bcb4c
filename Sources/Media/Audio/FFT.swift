import Foundation

/// An in-place iterative radix-2 complex FFT (Double precision) with precomputed twiddles, and the
/// power spectrum of a real frame computed through one half-size complex FFT (the standard
/// "two-for-one" packing), which halves the work of a full complex transform.
struct FFT {
    let size: Int // complex transform length (a power of two)
    private let cosTable: [Double]
    private let sinTable: [Double]
    private let bitReverse: [Int]

    init(size: Int) throws {
        guard size >= 2, size & (size - 1) == 0, size <= 1 << 20 else {
            throw MediaError.invalidArgument("FFT size must be a power of two in 2...2^20, got \(size)")
        }
        self.size = size
        cosTable = (0..<(size / 2)).map { Foundation.cos(-2 * Double.pi * Double($0) / Double(size)) }
        sinTable = (0..<(size / 2)).map { Foundation.sin(-2 * Double.pi * Double($0) / Double(size)) }
        let bits = size.trailingZeroBitCount
        bitReverse = (0..<size).map { i in
            var r = 0, v = i
            for _ in 0..<bits { r = (r << 1) | (v & 1); v >>= 1 }
            return r
        }
    }

    /// Forward transform X[k] = Σ x[n] e^{-2πikn/N}, in place.
    func forward(re: UnsafeMutablePointer<Double>, im: UnsafeMutablePointer<Double>) {
        for i in 0..<size {
            let j = bitReverse[i]
            if j > i { swap(&re[i], &re[j]); swap(&im[i], &im[j]) }
        }
        var len = 2
        while len <= size {
            let half = len / 2, step = size / len
            var start = 0
            while start < size {
                var t = 0
                for k in start..<(start + half) {
                    let wr = cosTable[t], wi = sinTable[t]
                    let xr = re[k + half], xi = im[k + half]
                    let vr = xr * wr - xi * wi, vi = xr * wi + xi * wr
                    re[k + half] = re[k] - vr; im[k + half] = im[k] - vi
                    re[k] += vr; im[k] += vi
                    t += step
                }
                start += len
            }
            len <<= 1
        }
    }
}

/// |rfft(x, n)|² for real x of length n = 2 · fft.size, returning n/2 + 1 bins.
struct RealPowerSpectrum {
    let n: Int
    private let fft: FFT
    private let twiddleCos: [Double]
    private let twiddleSin: [Double]
    private var re: [Double]
    private var im: [Double]

    init(n: Int) throws {
        guard n >= 4, n & (n - 1) == 0 else { throw MediaError.invalidArgument("real FFT size must be a power of two >= 4, got \(n)") }
        self.n = n
        fft = try FFT(size: n / 2)
        twiddleCos = (0...(n / 2)).map { Foundation.cos(-2 * Double.pi * Double($0) / Double(n)) }
        twiddleSin = (0...(n / 2)).map { Foundation.sin(-2 * Double.pi * Double($0) / Double(n)) }
        re = [Double](repeating: 0, count: n / 2)
        im = [Double](repeating: 0, count: n / 2)
    }

    /// Writes n/2 + 1 power values for `frame` (zero-padded or truncated to n) into `power`.
    mutating func compute(_ frame: UnsafeBufferPointer<Double>, into power: UnsafeMutableBufferPointer<Double>) {
        let m = n / 2
        // Pack even samples as real parts and odd samples as imaginary parts: z[k] = x[2k] + i x[2k+1].
        for k in 0..<m {
            re[k] = 2 * k < frame.count ? frame[2 * k] : 0
            im[k] = 2 * k + 1 < frame.count ? frame[2 * k + 1] : 0
        }
        re.withUnsafeMutableBufferPointer { r in
            im.withUnsafeMutableBufferPointer { i in fft.forward(re: r.baseAddress!, im: i.baseAddress!) }
        }
        // Unpack: X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[m-k]) / 2, O = (Z[k] - conj Z[m-k]) / 2i.
        for k in 0...m {
            let a = k % m, b = (m - k) % m
            let zr = re[a], zi = im[a], cr = re[b], ci = -im[b]
            let er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci)
            let dr = 0.5 * (zr - cr), di = 0.5 * (zi - ci)
            let orr = di, oi = -dr // divide by i
            let wr = twiddleCos[k], wi = twiddleSin[k]
            let xr = er + orr * wr - oi * wi
            let xi = ei + orr * wi + oi * wr
            power[k] = xr * xr + xi * xi
        }
    }
}
