import Foundation

/// One detected face: its box in image pixels and how many raw window hits were merged into it
/// (OpenCV's "neighbours", a confidence score).
public struct FaceDetection: Sendable, Equatable {
    public var box: FaceBox
    public var neighbors: Int
}

/// A Viola–Jones face detector: a Haar cascade (by default OpenCV's frontal-face cascade) evaluated
/// with integral images over an image pyramid, following OpenCV's `CascadeClassifier::detectMultiScale`:
///
/// - the image is converted to 8-bit luma (Y = 0.299 R + 0.587 G + 0.114 B) and, for each scale
///   f = 1, s, s², ... (s = `scaleFactor`), resized bilinearly to round(W/f) × round(H/f); the 24×24
///   window slides with a step of 2 pixels (1 once f ≥ 2) and maps back to a round(24f) box;
/// - each window is normalised by its standard deviation over the inner 22×22 area and rejected when
///   that deviation is below 10 grey levels (flat regions cannot be faces);
/// - a window is a face when every stage's sum of weak-classifier leaves reaches the stage threshold;
/// - hits are grouped like OpenCV's `groupRectangles` (boxes within 20% of each other merge into
///   their average; groups with ≤ `minNeighbors` hits are dropped, as are small groups inside bigger
///   stronger ones), and finally any remaining overlap (IoU > `overlapThreshold`) is suppressed,
///   keeping the group with more hits.
public struct FaceDetector: Sendable {
    public struct Options: Sendable {
        public var scaleFactor = 1.1
        public var minNeighbors = 3
        /// Smallest face side in pixels (the cascade's window, 24, is the absolute minimum).
        public var minSize = 30
        /// Largest face side in pixels (nil = the image's smaller side).
        public var maxSize: Int? = nil
        public var overlapThreshold = 0.3
        public init() {}
    }

    public let cascade: HaarCascade
    private let compiled: CompiledCascade

    /// A detector for `cascade`, or for the bundled frontal-face cascade when nil.
    public init(cascade: HaarCascade? = nil) throws {
        let c = try cascade ?? HaarCascade.frontalFace()
        self.cascade = c
        compiled = CompiledCascade(c)
    }

    /// Faces in `image`, most confident first.
    public func detect(_ image: RGBImage, options: Options = Options()) throws -> [FaceDetection] {
        guard options.scaleFactor.isFinite, options.scaleFactor > 1.0001, options.scaleFactor <= 4 else {
            throw MediaError.invalidArgument("scaleFactor must be in (1, 4], got \(options.scaleFactor)")
        }
        guard options.minNeighbors >= 0, options.minSize >= 1 else { throw MediaError.invalidArgument("minNeighbors and minSize must be non-negative") }
        let gray = FaceDetector.luma(image)
        let ww = cascade.windowWidth, wh = cascade.windowHeight
        let maxSide = options.maxSize ?? min(image.width, image.height)
        var raw = [(x: Int, y: Int, w: Int, h: Int)]()
        var factor = 1.0
        while true {
            let winW = Int((Double(ww) * factor).rounded()), winH = Int((Double(wh) * factor).rounded())
            if winW > maxSide || winH > maxSide { break }
            let sw = Int((Double(image.width) / factor).rounded()), sh = Int((Double(image.height) / factor).rounded())
            if sw <= ww || sh <= wh { break }
            if winW >= options.minSize && winH >= options.minSize {
                let scaled = FaceDetector.resizeBilinear(gray, image.width, image.height, sw, sh)
                let step = factor >= 2 ? 1 : 2
                compiled.scan(scaled, sw, sh, step: step) { x, y in
                    raw.append((Int((Double(x) * factor).rounded()), Int((Double(y) * factor).rounded()), winW, winH))
                }
            }
            factor *= options.scaleFactor
        }
        let grouped = FaceDetector.groupRectangles(raw, minNeighbors: options.minNeighbors, eps: 0.2)
        return FaceDetector.suppressOverlaps(grouped, iou: options.overlapThreshold)
    }

    /// The most confident face (ties: the larger), or nil when there is none.
    public func detectBest(_ image: RGBImage, options: Options = Options()) throws -> FaceBox? {
        try detect(image, options: options).first?.box
    }

    // MARK: - Pyramid helpers

    /// 8-bit luma with OpenCV's fixed-point RGB2GRAY weights.
    static func luma(_ image: RGBImage) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<o.count {
                    let y = (Int(p[3 * i]) * 4899 + Int(p[3 * i + 1]) * 9617 + Int(p[3 * i + 2]) * 1868 + 8192) >> 14
                    o[i] = UInt8(min(255, y))
                }
            }
        }
        return out
    }

    /// Plain bilinear resize (pixel centres aligned, edge clamped, no antialiasing) like OpenCV's
    /// INTER_LINEAR, so the pyramid matches what the cascade was tuned on.
    static func resizeBilinear(_ src: [UInt8], _ w: Int, _ h: Int, _ tw: Int, _ th: Int) -> [UInt8] {
        if tw == w && th == h { return src }
        let sx = Double(w) / Double(tw), sy = Double(h) / Double(th)
        func taps(_ n: Int, _ s: Double, _ limit: Int) -> ([Int], [Float]) {
            var i0 = [Int](repeating: 0, count: n), f = [Float](repeating: 0, count: n)
            for d in 0..<n {
                let p = (Double(d) + 0.5) * s - 0.5
                var base = Int(p.rounded(.down))
                var frac = Float(p - Double(base))
                if base < 0 { base = 0; frac = 0 }
                if base >= limit - 1 { base = limit - 1; frac = 0 }
                i0[d] = base; f[d] = frac
            }
            return (i0, f)
        }
        let (xi, xf) = taps(tw, sx, w), (yi, yf) = taps(th, sy, h)
        var out = [UInt8](repeating: 0, count: tw * th)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<th {
                    let r0 = yi[y] * w, r1 = min(yi[y] + 1, h - 1) * w, fy = yf[y]
                    for x in 0..<tw {
                        let c0 = xi[x], c1 = min(xi[x] + 1, w - 1), fx = xf[x]
                        let top = Float(s[r0 + c0]) * (1 - fx) + Float(s[r0 + c1]) * fx
                        let bottom = Float(s[r1 + c0]) * (1 - fx) + Float(s[r1 + c1]) * fx
                        o[y * tw + x] = UInt8(min(255, max(0, (top * (1 - fy) + bottom * fy).rounded())))
                    }
                }
            }
        }
        return out
    }

    // MARK: - Grouping

    /// OpenCV's groupRectangles: partition by similarity, average each class, drop weak classes and
    /// classes nested in stronger ones.
    static func groupRectangles(_ rects: [(x: Int, y: Int, w: Int, h: Int)], minNeighbors: Int, eps: Double) -> [FaceDetection] {
        let n = rects.count
        guard n > 0 else { return [] }
        var parent = Array(0..<n)
        func find(_ i: Int) -> Int {
            var r = i
            while parent[r] != r { r = parent[r] }
            var j = i
            while parent[j] != r { let next = parent[j]; parent[j] = r; j = next }
            return r
        }
        func similar(_ a: (x: Int, y: Int, w: Int, h: Int), _ b: (x: Int, y: Int, w: Int, h: Int)) -> Bool {
            let delta = eps * Double(min(a.w, b.w) + min(a.h, b.h)) * 0.5
            return Double(abs(a.x - b.x)) <= delta && Double(abs(a.y - b.y)) <= delta
                && Double(abs(a.x + a.w - b.x - b.w)) <= delta && Double(abs(a.y + a.h - b.y - b.h)) <= delta
        }
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) where similar(rects[i], rects[j]) {
            let a = find(i), b = find(j)
            if a != b { parent[b] = a }
        } }
        var classOf = [Int: Int]()
        var sums = [(x: Double, y: Double, w: Double, h: Double)]()
        var counts = [Int]()
        for i in 0..<n {
            let root = find(i)
            let c: Int
            if let k = classOf[root] { c = k } else { c = sums.count; classOf[root] = c; sums.append((0, 0, 0, 0)); counts.append(0) }
            sums[c].x += Double(rects[i].x); sums[c].y += Double(rects[i].y)
            sums[c].w += Double(rects[i].w); sums[c].h += Double(rects[i].h)
            counts[c] += 1
        }
        let avg = sums.enumerated().map { (k, s) -> (x: Int, y: Int, w: Int, h: Int) in
            let m = Double(counts[k])
            return (Int((s.x / m).rounded()), Int((s.y / m).rounded()), Int((s.w / m).rounded()), Int((s.h / m).rounded()))
        }
        var out = [FaceDetection]()
        for i in 0..<avg.count where counts[i] > minNeighbors {
            let r1 = avg[i], n1 = counts[i]
            var nested = false
            for j in 0..<avg.count where j != i && counts[j] > minNeighbors {
                let r2 = avg[j], n2 = counts[j]
                let dx = Int(Double(r2.w) * eps), dy = Int(Double(r2.h) * eps)
                if r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx && r1.y + r1.h <= r2.y + r2.h + dy
                    && (n2 > max(3, n1) || n1 < 3) { nested = true; break }
            }
            if !nested {
                out.append(FaceDetection(box: FaceBox(x: Double(r1.x), y: Double(r1.y), width: Double(r1.w), height: Double(r1.h)), neighbors: n1))
            }
        }
        return out
    }

    /// Greedy non-maximum suppression by neighbour count, then area.
    static func suppressOverlaps(_ dets: [FaceDetection], iou: Double) -> [FaceDetection] {
        let sorted = dets.sorted { $0.neighbors != $1.neighbors ? $0.neighbors > $1.neighbors : $0.box.area > $1.box.area }
        var kept = [FaceDetection]()
        for d in sorted where !kept.contains(where: { $0.box.iou(d.box) > iou }) { kept.append(d) }
        return kept
    }
}

/// The cascade flattened into arrays for fast evaluation.
struct CompiledCascade: Sendable {
    let windowWidth: Int, windowHeight: Int
    let rects: [Int32]        // per feature: 3 rects × (x, y, w, h); unused third rect has w = h = 0
    let weights: [Float]      // per feature: 3 weights (0 for the unused rect)
    let stageThresholds: [Float]
    let stageEnds: [Int]      // classifier index one past each stage's last
    let classifierNodeStart: [Int]
    let classifierLeafStart: [Int]
    let nodeLeft: [Int32], nodeRight: [Int32], nodeFeature: [Int32], nodeThreshold: [Float]
    let leaves: [Float]

    init(_ c: HaarCascade) {
        windowWidth = c.windowWidth
        windowHeight = c.windowHeight
        var r = [Int32](), w = [Float]()
        for f in c.features {
            for k in 0..<3 {
                if k < f.rects.count {
                    let q = f.rects[k]
                    r += [Int32(q.x), Int32(q.y), Int32(q.width), Int32(q.height)]
                    w.append(q.weight)
                } else { r += [0, 0, 0, 0]; w.append(0) }
            }
        }
        rects = r; weights = w
        var st = [Float](), se = [Int](), ns = [Int](), ls = [Int]()
        var nl = [Int32](), nr = [Int32](), nf = [Int32](), nt = [Float](), lv = [Float]()
        for s in c.stages {
            st.append(s.threshold)
            for wc in s.classifiers {
                ns.append(nl.count); ls.append(lv.count)
                for n in wc.nodes {
                    nl.append(Int32(n.left)); nr.append(Int32(n.right)); nf.append(Int32(n.feature)); nt.append(n.threshold)
                }
                lv += wc.leaves
            }
            se.append(ns.count)
        }
        stageThresholds = st; stageEnds = se; classifierNodeStart = ns; classifierLeafStart = ls
        nodeLeft = nl; nodeRight = nr; nodeFeature = nf; nodeThreshold = nt; leaves = lv
    }

    /// Calls `hit(x, y)` for every window position (top-left, in the scaled image) the cascade accepts.
    func scan(_ gray: [UInt8], _ w: Int, _ h: Int, step: Int, hit: (Int, Int) -> Void) {
        let stride = w + 1
        var sum = [Int](repeating: 0, count: stride * (h + 1))
        var sq = [Int](repeating: 0, count: stride * (h + 1))
        gray.withUnsafeBufferPointer { g in
            sum.withUnsafeMutableBufferPointer { s in
                sq.withUnsafeMutableBufferPointer { q in
                    for y in 0..<h {
                        var rowSum = 0, rowSq = 0
                        for x in 0..<w {
                            let v = Int(g[y * w + x])
                            rowSum += v; rowSq += v * v
                            s[(y + 1) * stride + x + 1] = s[y * stride + x + 1] + rowSum
                            q[(y + 1) * stride + x + 1] = q[y * stride + x + 1] + rowSq
                        }
                    }
                }
            }
        }
        // Corner offsets of every feature rectangle relative to the window's top-left integral index.
        let featureCount = weights.count / 3
        var ofs = [Int](repeating: 0, count: featureCount * 12)
        for f in 0..<featureCount {
            for k in 0..<3 {
                let b = (f * 3 + k) * 4
                let x = Int(rects[b]), y = Int(rects[b + 1]), rw = Int(rects[b + 2]), rh = Int(rects[b + 3])
                let o = (f * 3 + k) * 4
                ofs[o] = y * stride + x
                ofs[o + 1] = y * stride + x + rw
                ofs[o + 2] = (y + rh) * stride + x
                ofs[o + 3] = (y + rh) * stride + x + rw
            }
        }
        // Variance window: the inner (W-2)×(H-2) area, as OpenCV's normrect.
        let nx = 1, ny = 1, nw = windowWidth - 2, nh = windowHeight - 2
        let n0 = ny * stride + nx, n1 = ny * stride + nx + nw, n2 = (ny + nh) * stride + nx, n3 = (ny + nh) * stride + nx + nw
        let area = Double(nw * nh)
        sum.withUnsafeBufferPointer { s in
            sq.withUnsafeBufferPointer { q in
                ofs.withUnsafeBufferPointer { of in
                    weights.withUnsafeBufferPointer { wt in
                        var y = 0
                        while y + windowHeight <= h {
                            var x = 0
                            while x + windowWidth <= w {
                                let base = y * stride + x
                                let vs = s[base + n3] - s[base + n1] - s[base + n2] + s[base + n0]
                                let vq = q[base + n3] - q[base + n1] - q[base + n2] + q[base + n0]
                                let nf = area * Double(vq) - Double(vs) * Double(vs)
                                if nf > 0 {
                                    let norm = 1 / nf.squareRoot()
                                    if area * norm < 0.1 && accepts(s, of, wt, base, Float(norm)) { hit(x, y) }
                                }
                                x += step
                            }
                            y += step
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private func accepts(_ s: UnsafeBufferPointer<Int>, _ of: UnsafeBufferPointer<Int>, _ wt: UnsafeBufferPointer<Float>,
                         _ base: Int, _ norm: Float) -> Bool {
        var classifier = 0
        for stage in 0..<stageThresholds.count {
            var stageSum: Float = 0
            let end = stageEnds[stage]
            while classifier < end {
                var node = classifierNodeStart[classifier]
                let leafBase = classifierLeafStart[classifier]
                while true {
                    let f = Int(nodeFeature[node])
                    var value: Float = 0
                    for k in 0..<3 {
                        let wk = wt[f * 3 + k]
                        if wk == 0 { continue }
                        let o = (f * 3 + k) * 4
                        let rs = s[base + of[o + 3]] - s[base + of[o + 1]] - s[base + of[o + 2]] + s[base + of[o]]
                        value += wk * Float(rs)
                    }
                    let next = value * norm < nodeThreshold[node] ? nodeLeft[node] : nodeRight[node]
                    if next <= 0 {
                        stageSum += leaves[leafBase + Int(-next)]
                        break
                    }
                    node = classifierNodeStart[classifier] + Int(next)
                }
                classifier += 1
            }
            if stageSum < stageThresholds[stage] { return false }
        }
        return true
    }
}
