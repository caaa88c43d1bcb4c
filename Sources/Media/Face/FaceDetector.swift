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
///
/// Pyramid levels are scanned concurrently. Typical cost (release, one 2-core machine): ~0.25 s for a
/// 640×480 photo; detect once per video and reuse the crop transform, as FOMM's preprocessing does.
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
        // The pyramid levels, then one scan per level (levels run in parallel).
        var levels = [(factor: Double, sw: Int, sh: Int, winW: Int, winH: Int)]()
        var factor = 1.0
        while true {
            let winW = Int((Double(ww) * factor).rounded()), winH = Int((Double(wh) * factor).rounded())
            if winW > maxSide || winH > maxSide { break }
            let sw = Int((Double(image.width) / factor).rounded()), sh = Int((Double(image.height) / factor).rounded())
            if sw <= ww || sh <= wh { break }
            if winW >= options.minSize && winH >= options.minSize { levels.append((factor, sw, sh, winW, winH)) }
            factor *= options.scaleFactor
        }
        let hitsPerLevel = LevelHits(count: levels.count)
        let compiled = self.compiled
        DispatchQueue.concurrentPerform(iterations: levels.count) { i in
            let l = levels[i]
            let scaled = FaceDetector.resizeBilinear(gray, image.width, image.height, l.sw, l.sh)
            var hits = [(x: Int, y: Int, w: Int, h: Int)]()
            compiled.scan(scaled, l.sw, l.sh, step: l.factor >= 2 ? 1 : 2) { x, y in
                hits.append((Int((Double(x) * l.factor).rounded()), Int((Double(y) * l.factor).rounded()), l.winW, l.winH))
            }
            hitsPerLevel.set(i, hits)
        }
        let raw = hitsPerLevel.all()
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

/// Per-level hit lists filled from concurrent scans.
private final class LevelHits: @unchecked Sendable {
    private var levels: [[(x: Int, y: Int, w: Int, h: Int)]]
    private let lock = NSLock()
    init(count: Int) { levels = Array(repeating: [], count: count) }
    func set(_ i: Int, _ hits: [(x: Int, y: Int, w: Int, h: Int)]) { lock.lock(); levels[i] = hits; lock.unlock() }
    func all() -> [(x: Int, y: Int, w: Int, h: Int)] { lock.lock(); defer { lock.unlock() }; return levels.flatMap { $0 } }
}

/// The cascade flattened into raw buffers (no bounds checks or reference counting in the window
/// loop). Weak classifiers that are single stumps — all of them in OpenCV's frontal-face cascades —
/// take a fast path; deeper trees use the general walk.
final class CompiledCascade: @unchecked Sendable {
    let windowWidth: Int, windowHeight: Int
    let featureCount: Int
    let stageCount: Int
    let classifierCount: Int
    let allStumps: Bool
    private let rects: UnsafeMutablePointer<Int32>        // per feature: 3 × (x, y, w, h)
    private let weights: UnsafeMutablePointer<Float>      // per feature: 3 weights (0 = unused rect)
    private let stageThresholds: UnsafeMutablePointer<Float>
    private let stageEnds: UnsafeMutablePointer<Int>      // one past each stage's last classifier
    // Stump view (valid when allStumps): feature, threshold, left leaf, right leaf per classifier.
    private let stumpFeature: UnsafeMutablePointer<Int>
    private let stumpThreshold: UnsafeMutablePointer<Float>
    private let stumpLeft: UnsafeMutablePointer<Float>
    private let stumpRight: UnsafeMutablePointer<Float>
    // General trees.
    private let trees: [HaarCascade.WeakClassifier]

    init(_ c: HaarCascade) {
        windowWidth = c.windowWidth
        windowHeight = c.windowHeight
        featureCount = c.features.count
        stageCount = c.stages.count
        trees = c.stages.flatMap(\.classifiers)
        classifierCount = trees.count
        rects = .allocate(capacity: featureCount * 12)
        weights = .allocate(capacity: featureCount * 3)
        for (i, f) in c.features.enumerated() {
            for k in 0..<3 {
                if k < f.rects.count {
                    let q = f.rects[k]
                    rects[i * 12 + k * 4] = Int32(q.x); rects[i * 12 + k * 4 + 1] = Int32(q.y)
                    rects[i * 12 + k * 4 + 2] = Int32(q.width); rects[i * 12 + k * 4 + 3] = Int32(q.height)
                    weights[i * 3 + k] = q.weight
                } else {
                    for j in 0..<4 { rects[i * 12 + k * 4 + j] = 0 }
                    weights[i * 3 + k] = 0
                }
            }
        }
        stageThresholds = .allocate(capacity: stageCount)
        stageEnds = .allocate(capacity: stageCount)
        var end = 0
        for (i, st) in c.stages.enumerated() {
            stageThresholds[i] = st.threshold
            end += st.classifiers.count
            stageEnds[i] = end
        }
        allStumps = trees.allSatisfy { $0.nodes.count == 1 && $0.nodes[0].left <= 0 && $0.nodes[0].right <= 0 }
        stumpFeature = .allocate(capacity: classifierCount)
        stumpThreshold = .allocate(capacity: classifierCount)
        stumpLeft = .allocate(capacity: classifierCount)
        stumpRight = .allocate(capacity: classifierCount)
        for (i, t) in trees.enumerated() {
            let n = t.nodes[0]
            stumpFeature[i] = n.feature
            stumpThreshold[i] = n.threshold
            stumpLeft[i] = t.leaves[min(t.leaves.count - 1, max(0, -n.left))]
            stumpRight[i] = t.leaves[min(t.leaves.count - 1, max(0, -n.right))]
        }
    }

    deinit {
        rects.deallocate(); weights.deallocate(); stageThresholds.deallocate(); stageEnds.deallocate()
        stumpFeature.deallocate(); stumpThreshold.deallocate(); stumpLeft.deallocate(); stumpRight.deallocate()
    }

    /// Calls `hit(x, y)` for every window position (top-left, in the scaled image) the cascade accepts.
    func scan(_ gray: [UInt8], _ w: Int, _ h: Int, step: Int, hit: (Int, Int) -> Void) {
        let stride = w + 1
        let cells = stride * (h + 1)
        let sum = UnsafeMutablePointer<Int>.allocate(capacity: cells)
        let sq = UnsafeMutablePointer<Int>.allocate(capacity: cells)
        let ofs = UnsafeMutablePointer<Int>.allocate(capacity: featureCount * 12)
        defer { sum.deallocate(); sq.deallocate(); ofs.deallocate() }
        for x in 0..<stride { sum[x] = 0; sq[x] = 0 }
        gray.withUnsafeBufferPointer { g in
            for y in 0..<h {
                var rowSum = 0, rowSq = 0
                let above = y * stride, here = (y + 1) * stride
                sum[here] = 0; sq[here] = 0
                for x in 0..<w {
                    let v = Int(g[y * w + x])
                    rowSum += v; rowSq += v * v
                    sum[here + x + 1] = sum[above + x + 1] + rowSum
                    sq[here + x + 1] = sq[above + x + 1] + rowSq
                }
            }
        }
        // Corner offsets of every feature rectangle relative to the window's top-left integral index.
        for f in 0..<featureCount {
            for k in 0..<3 {
                let b = f * 12 + k * 4
                let x = Int(rects[b]), y = Int(rects[b + 1]), rw = Int(rects[b + 2]), rh = Int(rects[b + 3])
                ofs[b] = y * stride + x
                ofs[b + 1] = y * stride + x + rw
                ofs[b + 2] = (y + rh) * stride + x
                ofs[b + 3] = (y + rh) * stride + x + rw
            }
        }
        // Variance window: the inner (W-2)×(H-2) area, as OpenCV's normrect.
        let nw = windowWidth - 2, nh = windowHeight - 2
        let n0 = stride + 1, n1 = stride + 1 + nw, n2 = (1 + nh) * stride + 1, n3 = (1 + nh) * stride + 1 + nw
        let area = Double(nw * nh)
        var y = 0
        while y + windowHeight <= h {
            var x = 0
            while x + windowWidth <= w {
                let base = y * stride + x
                let vs = sum[base + n3] - sum[base + n1] - sum[base + n2] + sum[base + n0]
                let vq = sq[base + n3] - sq[base + n1] - sq[base + n2] + sq[base + n0]
                let nf = area * Double(vq) - Double(vs) * Double(vs)
                if nf > 0 {
                    let norm = 1 / nf.squareRoot()
                    if area * norm < 0.1 && accepts(sum + base, ofs, Float(norm)) { hit(x, y) }
                }
                x += step
            }
            y += step
        }
    }

    /// The weighted rectangle sum of feature `f` at the window whose integral corner is `s`.
    @inline(__always)
    private func featureValue(_ s: UnsafeMutablePointer<Int>, _ ofs: UnsafeMutablePointer<Int>, _ f: Int) -> Float {
        let o = ofs + f * 12, wt = weights + f * 3
        var v = wt[0] * Float(s[o[3]] - s[o[1]] - s[o[2]] + s[o[0]])
        v += wt[1] * Float(s[o[7]] - s[o[5]] - s[o[6]] + s[o[4]])
        if wt[2] != 0 { v += wt[2] * Float(s[o[11]] - s[o[9]] - s[o[10]] + s[o[8]]) }
        return v
    }

    @inline(__always)
    private func accepts(_ s: UnsafeMutablePointer<Int>, _ ofs: UnsafeMutablePointer<Int>, _ norm: Float) -> Bool {
        var clf = 0
        for stage in 0..<stageCount {
            var stageSum: Float = 0
            let end = stageEnds[stage]
            if allStumps {
                while clf < end {
                    let v = featureValue(s, ofs, stumpFeature[clf]) * norm
                    stageSum += v < stumpThreshold[clf] ? stumpLeft[clf] : stumpRight[clf]
                    clf += 1
                }
            } else {
                while clf < end {
                    let tree = trees[clf]
                    var node = tree.nodes[0]
                    while true {
                        let v = featureValue(s, ofs, node.feature) * norm
                        let next = v < node.threshold ? node.left : node.right
                        if next <= 0 { stageSum += tree.leaves[-next]; break }
                        node = tree.nodes[next]
                    }
                    clf += 1
                }
            }
            if stageSum < stageThresholds[stage] { return false }
        }
        return true
    }
}
