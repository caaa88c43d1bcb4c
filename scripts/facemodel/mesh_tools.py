"""Small numpy helpers for building the default face model: OBJ/target parsing, an orthographic
z-buffer used to place landmarks, and a PNG writer for previews. numpy only."""
import gzip
import struct
import zlib

import numpy as np


def read_obj(path):
    """Vertices (V,3), quads/polygons as a list, and the group name of each face."""
    verts, faces, groups, group = [], [], [], None
    with open(path) as f:
        for line in f:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f "):
                faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
                groups.append(group)
    return np.array(verts, dtype=np.float64), faces, np.array(groups)


def read_target(path, vertex_count):
    """A MakeHuman .target file (lines 'index dx dy dz') as a dense (V,3) displacement."""
    opener = gzip.open if path.endswith(".gz") else open
    delta = np.zeros((vertex_count, 3))
    with opener(path, "rt") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or parts[0].startswith("#"):
                continue
            delta[int(parts[0])] = [float(x) for x in parts[1:4]]
    return delta


def rasterize_ortho(xy, depth, tris, size, scale, center):
    """Orthographic z-buffer (larger depth = nearer). Returns the triangle id per pixel (-1 = none)
    and the depth. xy are model (x, y); image row 0 is the top."""
    px = (xy[:, 0] - center[0]) * scale + size / 2
    py = size / 2 - (xy[:, 1] - center[1]) * scale
    ids = np.full((size, size), -1, dtype=np.int64)
    zbuf = np.full((size, size), -np.inf)
    for t, (a, b, c) in enumerate(tris):
        xs = np.array([px[a], px[b], px[c]])
        ys = np.array([py[a], py[b], py[c]])
        x0, x1 = max(0, int(np.floor(xs.min()))), min(size - 1, int(np.ceil(xs.max())))
        y0, y1 = max(0, int(np.floor(ys.min()))), min(size - 1, int(np.ceil(ys.max())))
        if x1 < x0 or y1 < y0:
            continue
        det = (xs[1] - xs[0]) * (ys[2] - ys[0]) - (xs[2] - xs[0]) * (ys[1] - ys[0])
        if abs(det) < 1e-12:
            continue
        gx, gy = np.meshgrid(np.arange(x0, x1 + 1) + 0.5, np.arange(y0, y1 + 1) + 0.5)
        w1 = ((gx - xs[0]) * (ys[2] - ys[0]) - (xs[2] - xs[0]) * (gy - ys[0])) / det
        w2 = ((xs[1] - xs[0]) * (gy - ys[0]) - (gx - xs[0]) * (ys[1] - ys[0])) / det
        w0 = 1 - w1 - w2
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        z = w0 * depth[a] + w1 * depth[b] + w2 * depth[c]
        zsub = zbuf[y0:y1 + 1, x0:x1 + 1]
        isub = ids[y0:y1 + 1, x0:x1 + 1]
        win = inside & (z > zsub)
        zsub[win] = z[win]
        isub[win] = t
    return ids, zbuf


def write_png(path, rgb):
    """rgb: (H,W,3) floats in [0,1]."""
    img = np.clip(np.asarray(rgb) * 255 + 0.5, 0, 255).astype(np.uint8)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[i].tobytes() for i in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))
