import Torch
import FaceModel
import Foundation
import Media

/// Derives where MediaPipe's 468 Face Mesh points lie on the morphable model (`MeshCorrespondence`):
/// 1. render the model with random identity, small expressions, texture, light and head pose (seeded);
/// 2. run the Face Mesh port on each render (detector → ROI → mesh, as on photos);
/// 3. for every predicted point take the visible triangle under it (the rasterizer's triangle id) and the
///    perspective-correct barycentrics of the point in that triangle, and carry that surface point to the
///    mean face (same triangle, same barycentrics);
/// 4. per landmark, the consensus is the coordinate-wise median of these mean-face points, snapped to the
///    closest point of the mean-face surface; its spread is the median distance of the samples to it.
/// Points whose samples disagree (silhouette points that slide along the outline, points hidden by the
/// nose under yaw) get a low weight 1 / (1 + (spread / 2 mm)²) or 0 when spread > `maxSpreadMM` or the point
/// missed the face in too many renders. The crop framing (`cropEnlarge`) is measured on frontal renders
/// of the mean face: render size / width of the landmarks' box, and the box centre's offset.
public enum MeshCorrespondenceBuilder {
    public struct Options: Sendable {
        public var renders = 40
        public var size = 320
        public var seed: UInt64 = 7
        public var maxSpreadMM = 5.0
        public var minHitRate = 0.6
        public init() {}
    }

    public static func derive(renderer: FaceRenderer, analyzer: FaceAnalyzer, options: Options = Options(),
                              log: (String) -> Void = { _ in }) throws -> MeshCorrespondence {
        let model = renderer.model
        let mean = try model.meanShape.contiguous().floats()           // V×3
        let tri = model.triangleIndices
        let size = options.size
        var samples = [[SIMD3<Double>]](repeating: [], count: 468)
        var used = 0
        var framing = (enlarge: 1.6, shiftY: 0.0)
        var rng = SplitMix64(seed: options.seed)
        let light = SphericalHarmonics.frontalLight()
        let bg = RenderOptions(background: -0.2)
        let plainRenderer = try FaceRenderer(model: model, options: bg)
        for r in 0..<options.renders {
            var rho = [Float](repeating: 0, count: Coefficients.count)
            let frontal = r == 0
            if !frontal {
                for k in 0..<80 { rho[k] = 0.8 * rng.normal() }
                for k in 0..<64 where rng.chance(0.06) { rho[80 + k] = rng.uniform(0, 0.35) }
                for k in 144..<224 { rho[k] = 0.8 * rng.normal() }
            }
            for k in 0..<27 { rho[224 + k] = light[k] + (frontal ? 0 : 0.04 * rng.normal()) }
            if !frontal {
                rho[251] = rng.uniform(-0.15, 0.15); rho[252] = rng.uniform(-0.3, 0.3); rho[253] = rng.uniform(-0.12, 0.12)
                rho[254] = rng.uniform(-0.05, 0.05); rho[255] = rng.uniform(-0.05, 0.05)
            }
            let c = try Coefficients(Tensor(rho, shape: [1, Coefficients.count]))
            let out = try Torch.noGrad { try plainRenderer.render(c, width: size, height: size) }
            let image = try RGBImage(tensor: out.image.select(0, 0))
            guard let face = try analyzer.detect(image).first else { log("render \(r): no face detected, skipped"); continue }
            let mesh = try analyzer.landmarks(image: image, roi: FaceMeshLandmarker.roi(for: face))
            guard mesh.faceFlag >= 0.5 else { log("render \(r): face flag \(mesh.faceFlag), skipped"); continue }
            used += 1
            let ids = out.rasterizations[0].triangleIds
            let proj = try out.projected.contiguous().floats(), depth = try out.vertices.select(-1, 2).contiguous().floats()
            for k in 0..<468 {
                // MediaPipe puts pixel centres at integer coordinates, the renderer at +0.5.
                let p = mesh.landmarks[k] + SIMD3(0.5, 0.5, 0)
                guard let t = triangleUnder(p.x, p.y, ids: ids, size: size) else { continue }
                let v = (0..<3).map { Int(tri[3 * t + $0]) }
                let pts = v.map { SIMD2(Double(proj[2 * $0]), Double(proj[2 * $0 + 1])) }
                var w = barycentric(SIMD2(p.x, p.y), pts[0], pts[1], pts[2])
                // Perspective correction: screen weights / camera depth (camera at z = 10).
                w = SIMD3(w.x / (10 - Double(depth[v[0]])), w.y / (10 - Double(depth[v[1]])), w.z / (10 - Double(depth[v[2]])))
                w /= (w.x + w.y + w.z)
                var q = SIMD3<Double>(0, 0, 0)
                for i in 0..<3 { q += w[i] * SIMD3(Double(mean[3 * v[i]]), Double(mean[3 * v[i] + 1]), Double(mean[3 * v[i] + 2])) }
                samples[k].append(q)
            }
            if frontal {
                // Framing of the renderer's default camera, in landmark boxes.
                let b = ROITransform.boundingBox(mesh.landmarks.map { ($0.x, $0.y) })
                framing = (Double(size) / b.width, (b.centerY + 0.5 - Double(size) / 2) / Double(size))
            }
        }
        guard used >= 3 else { throw FaceAnalysisError.noFace("Face Mesh found the face in only \(used) of \(options.renders) renders") }

        var vertices: [[Int]] = [], barys: [[Double]] = [], weights: [Double] = [], spreads: [Double] = []
        for k in 0..<468 {
            let s = samples[k]
            let med = s.isEmpty ? SIMD3<Double>(0, 0, 0) : SIMD3(median(s.map(\.x)), median(s.map(\.y)), median(s.map(\.z)))
            let (verts, b, _) = closestSurfacePoint(med, mean: mean, triangles: tri)
            let spread = s.isEmpty ? 1e9 : median(s.map { simdLength($0 - med) }) * 100   // dm -> mm
            let hit = Double(s.count) / Double(used)
            var w = 1 / (1 + (spread / 2) * (spread / 2))
            if spread > options.maxSpreadMM || hit < options.minHitRate { w = 0 }
            vertices.append(verts); barys.append(b); weights.append(w); spreads.append(min(spread, 999))
        }
        let kept = weights.filter { $0 > 0 }.count
        log(String(format: "correspondence: %d renders used, %d of 468 points kept, median spread %.2f mm, crop enlarge %.3f",
                   used, kept, median(spreads), framing.enlarge))
        return MeshCorrespondence(vertices: vertices, barycentrics: barys,
                                  weights: weights, spreadMillimetres: spreads, cropEnlarge: framing.enlarge, cropShiftY: framing.shiftY,
                                  method: "renders \(options.renders) (\(used) used) at \(size)px, seed \(options.seed), max spread \(options.maxSpreadMM) mm, min hit rate \(options.minHitRate); MeshCorrespondenceBuilder")
    }

    /// The triangle covering the pixel under (x, y), or the nearest covered pixel's within 4 pixels
    /// (outline points fall just outside the silhouette; their spread then tells how much they slide).
    static func triangleUnder(_ x: Double, _ y: Double, ids: [Int32], size: Int) -> Int? {
        let cx = Int(x.rounded(.down)), cy = Int(y.rounded(.down))
        var best: (Int, Int)?
        for r in 0...4 {
            for dy in -r...r {
                for dx in -r...r where max(abs(dx), abs(dy)) == r {
                    let px = cx + dx, py = cy + dy
                    guard px >= 0, py >= 0, px < size, py < size else { continue }
                    let t = Int(ids[py * size + px])
                    if t >= 0, best == nil || dx * dx + dy * dy < best!.1 { best = (t, dx * dx + dy * dy) }
                }
            }
            if let b = best { return b.0 }
        }
        return nil
    }

    static func barycentric(_ q: SIMD2<Double>, _ a: SIMD2<Double>, _ b: SIMD2<Double>, _ c: SIMD2<Double>) -> SIMD3<Double> {
        let v0 = b - a, v1 = c - a, v2 = q - a
        let det = v0.x * v1.y - v1.x * v0.y
        guard abs(det) > 1e-12 else { return SIMD3(1, 0, 0) }
        let l1 = (v2.x * v1.y - v1.x * v2.y) / det, l2 = (v0.x * v2.y - v2.x * v0.y) / det
        return SIMD3(1 - l1 - l2, l1, l2)
    }

    static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func simdLength(_ v: SIMD3<Double>) -> Double { (v * v).sum().squareRoot() }

    /// The closest point of the mean-face triangles to p: (vertex indices, barycentrics, distance).
    static func closestSurfacePoint(_ p: SIMD3<Double>, mean: [Float], triangles tri: [Int32]) -> ([Int], [Double], Double) {
        func vtx(_ i: Int) -> SIMD3<Double> { SIMD3(Double(mean[3 * i]), Double(mean[3 * i + 1]), Double(mean[3 * i + 2])) }
        var best: ([Int], [Double], Double) = ([0, 0, 0], [1, 0, 0], .infinity)
        for t in 0..<(tri.count / 3) {
            let v = [Int(tri[3 * t]), Int(tri[3 * t + 1]), Int(tri[3 * t + 2])]
            let (w, d) = closestOnTriangle(p, vtx(v[0]), vtx(v[1]), vtx(v[2]))
            if d < best.2 { best = (v, [w.x, w.y, w.z], d) }
        }
        return best
    }

    /// Closest point on triangle abc to p (Ericson, Real-Time Collision Detection §5.1.5): barycentrics, distance.
    static func closestOnTriangle(_ p: SIMD3<Double>, _ a: SIMD3<Double>, _ b: SIMD3<Double>, _ c: SIMD3<Double>) -> (SIMD3<Double>, Double) {
        func dot(_ u: SIMD3<Double>, _ v: SIMD3<Double>) -> Double { (u * v).sum() }
        let ab = b - a, ac = c - a, ap = p - a
        let d1 = dot(ab, ap), d2 = dot(ac, ap)
        var w: SIMD3<Double>
        if d1 <= 0 && d2 <= 0 { w = SIMD3(1, 0, 0) } else {
            let bp = p - b, d3 = dot(ab, bp), d4 = dot(ac, bp)
            if d3 >= 0 && d4 <= d3 { w = SIMD3(0, 1, 0) } else {
                let vc = d1 * d4 - d3 * d2
                if vc <= 0 && d1 >= 0 && d3 <= 0 { let v = d1 / (d1 - d3); w = SIMD3(1 - v, v, 0) } else {
                    let cp = p - c, d5 = dot(ab, cp), d6 = dot(ac, cp)
                    if d6 >= 0 && d5 <= d6 { w = SIMD3(0, 0, 1) } else {
                        let vb = d5 * d2 - d1 * d6
                        if vb <= 0 && d2 >= 0 && d6 <= 0 { let u = d2 / (d2 - d6); w = SIMD3(1 - u, 0, u) } else {
                            let va = d3 * d6 - d5 * d4
                            if va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0 {
                                let u = (d4 - d3) / ((d4 - d3) + (d5 - d6)); w = SIMD3(0, 1 - u, u)
                            } else {
                                let denom = 1 / (va + vb + vc)
                                let v = vb * denom, u = vc * denom
                                w = SIMD3(1 - v - u, v, u)
                            }
                        }
                    }
                }
            }
        }
        let q = w.x * a + w.y * b + w.z * c
        return (w, simdLength(p - q))
    }
}
