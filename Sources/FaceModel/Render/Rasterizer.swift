import Foundation

/// Which triangle covers each pixel: the output of `Rasterizer.rasterize`.
public struct Rasterization: Sendable {
    public let width: Int
    public let height: Int
    /// Row-major H×W triangle index per pixel, −1 where no triangle covers the pixel centre.
    public let triangleIds: [Int32]
    /// Camera depth of the visible surface per pixel (+∞ where empty).
    public let depth: [Float]

    public var coveredPixelCount: Int { triangleIds.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}

/// A z-buffer triangle rasterizer on the CPU. It decides visibility only: the colours and the
/// barycentric weights used for shading are recomputed in Torch from the projected vertices, so that
/// gradients reach shape, expression, pose and lighting (see `FaceRenderer`).
///
/// Rules: a pixel belongs to a triangle when its centre (j + 0.5, i + 0.5) lies inside or on an edge
/// of the projected triangle (either winding: no back-face culling); the nearest surface wins, with
/// depth interpolated perspective-correctly (1/depth is linear in screen space); on exact depth ties
/// the lower triangle index wins. Triangles with a vertex closer than `near` to the camera, or with a
/// non-finite coordinate, are skipped. Work is split into bands of rows that run in parallel
/// (DispatchQueue.concurrentPerform); each band only touches its own rows.
public enum Rasterizer {
    public static let near: Float = 1e-3

    /// - Parameters:
    ///   - pixels: V×2 flattened (u, v) pixel coordinates.
    ///   - depth: V camera depths (positive in front of the camera).
    ///   - triangles: T×3 flattened vertex indices.
    public static func rasterize(pixels: [Float], depth: [Float], triangles: [Int32], width: Int, height: Int,
                                 bandRows: Int = 8) throws -> Rasterization {
        guard width > 0, height > 0, width <= 8192, height <= 8192 else {
            throw FaceModelError.invalidArgument("image size \(width)×\(height) outside 1...8192")
        }
        let vcount = depth.count
        guard pixels.count == 2 * vcount else {
            throw FaceModelError.invalidArgument("\(pixels.count / 2) projected vertices but \(vcount) depths")
        }
        guard triangles.count % 3 == 0 else { throw FaceModelError.invalidArgument("triangle index count \(triangles.count) is not a multiple of 3") }
        let tcount = triangles.count / 3
        for i in triangles where i < 0 || Int(i) >= vcount {
            throw FaceModelError.invalidArgument("triangle index \(i) outside 0..<\(vcount)")
        }

        // Set-up: bounding rows of every usable triangle, binned into bands.
        let bands = (height + bandRows - 1) / bandRows
        var binned = [[Int32]](repeating: [], count: bands)
        var boxes = [Int32](repeating: 0, count: 4 * tcount)  // x0, x1, y0, y1 (inclusive pixel ranges)
        for t in 0..<tcount {
            let a = Int(triangles[3 * t]), b = Int(triangles[3 * t + 1]), c = Int(triangles[3 * t + 2])
            let za = depth[a], zb = depth[b], zc = depth[c]
            guard za > near, zb > near, zc > near, za.isFinite, zb.isFinite, zc.isFinite else { continue }
            let xa = pixels[2 * a], ya = pixels[2 * a + 1], xb = pixels[2 * b], yb = pixels[2 * b + 1]
            let xc = pixels[2 * c], yc = pixels[2 * c + 1]
            guard xa.isFinite, ya.isFinite, xb.isFinite, yb.isFinite, xc.isFinite, yc.isFinite else { continue }
            let det = (xb - xa) * (yc - ya) - (xc - xa) * (yb - ya)
            guard abs(det) > 1e-9 else { continue }
            // Pixel centres j + 0.5 inside [minX, maxX] → j in ceil(minX − 0.5) ... floor(maxX − 0.5).
            let x0 = max(0, Int((min(xa, xb, xc) - 0.5).rounded(.up)))
            let x1 = min(width - 1, Int((max(xa, xb, xc) - 0.5).rounded(.down)))
            let y0 = max(0, Int((min(ya, yb, yc) - 0.5).rounded(.up)))
            let y1 = min(height - 1, Int((max(ya, yb, yc) - 0.5).rounded(.down)))
            guard x0 <= x1, y0 <= y1 else { continue }
            boxes[4 * t] = Int32(x0); boxes[4 * t + 1] = Int32(x1); boxes[4 * t + 2] = Int32(y0); boxes[4 * t + 3] = Int32(y1)
            for band in (y0 / bandRows)...(y1 / bandRows) { binned[band].append(Int32(t)) }
        }

        var ids = [Int32](repeating: -1, count: width * height)
        var zbuf = [Float](repeating: .infinity, count: width * height)
        ids.withUnsafeMutableBufferPointer { idPtr in
            zbuf.withUnsafeMutableBufferPointer { zPtr in
                let idBase = idPtr.baseAddress!, zBase = zPtr.baseAddress!
                DispatchQueue.concurrentPerform(iterations: bands) { band in
                    let rowLo = band * bandRows, rowHi = min(height - 1, rowLo + bandRows - 1)
                    for tri in binned[band] {
                        let t = Int(tri)
                        let a = Int(triangles[3 * t]), b = Int(triangles[3 * t + 1]), c = Int(triangles[3 * t + 2])
                        let xa = pixels[2 * a], ya = pixels[2 * a + 1], xb = pixels[2 * b], yb = pixels[2 * b + 1]
                        let xc = pixels[2 * c], yc = pixels[2 * c + 1]
                        let inv = 1 / ((xb - xa) * (yc - ya) - (xc - xa) * (yb - ya))
                        let iza = 1 / depth[a], izb = 1 / depth[b], izc = 1 / depth[c]
                        let x0 = Int(boxes[4 * t]), x1 = Int(boxes[4 * t + 1])
                        let y0 = max(rowLo, Int(boxes[4 * t + 2])), y1 = min(rowHi, Int(boxes[4 * t + 3]))
                        if y0 > y1 { continue }
                        for i in y0...y1 {
                            let py = Float(i) + 0.5
                            for j in x0...x1 {
                                let px = Float(j) + 0.5
                                let w1 = ((px - xa) * (yc - ya) - (xc - xa) * (py - ya)) * inv
                                let w2 = ((xb - xa) * (py - ya) - (px - xa) * (yb - ya)) * inv
                                let w0 = 1 - w1 - w2
                                if w0 < 0 || w1 < 0 || w2 < 0 { continue }
                                let z = 1 / (w0 * iza + w1 * izb + w2 * izc)
                                let p = i * width + j
                                if z < zBase[p] {
                                    zBase[p] = z
                                    idBase[p] = tri
                                }
                            }
                        }
                    }
                }
            }
        }
        return Rasterization(width: width, height: height, triangleIds: ids, depth: zbuf)
    }
}
