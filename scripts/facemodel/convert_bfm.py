#!/usr/bin/env python3
"""Converts Deep3DFaceRecon's BFM_model_front.mat into TGDM's morphable-model safetensors format.

For users who hold a Basel Face Model licence (the BFM cannot be redistributed, so it is not in this
repository). The .mat layout read here is the one Deep3DFaceRecon_pytorch builds from BFM 2009 +
the FaceWarehouse expression basis:
    meanshape [1, 3N] (or [3N, 1])  idBase [3N, 80]  exBase [3N, 64]
    meantex   [1, 3N], 0-255        texBase [3N, 80], 0-255 units
    tri       [T, 3], 1-based       keypoints [68] (or [1, 68]), 1-based
    skinmask  [N] optional          (point_buf, frontmask2_idx, tri_mask2 are not needed)
Shape units are kept (Deep3DFaceRecon's BFM is in decimetres: BFM micrometres / 1e5); the mean shape
is recentred to zero mean unless --no-recenter; textures are divided by 255 to linear [0, 1].
Deep3DFaceRecon's triangle winding already gives outward normals with (v1 − v0) × (v2 − v0).

Usage: python3 scripts/facemodel/convert_bfm.py BFM/BFM_model_front.mat out.safetensors
Needs numpy and scipy (pip install scipy, or Debian's python3-scipy).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import save  # noqa: E402


def convert(mat, recenter=True):
    def get(key, required=True):
        if key not in mat:
            if required:
                raise SystemExit(f"the .mat file has no '{key}' (keys: {sorted(k for k in mat if not k.startswith('__'))})")
            return None
        return np.asarray(mat[key])

    mean = get("meanshape").astype(np.float64).reshape(-1, 3)
    n = len(mean)
    if recenter:
        mean = mean - mean.mean(0, keepdims=True)
    bases = {}
    for key, out, k in (("idBase", "id_basis", 80), ("exBase", "exp_basis", 64), ("texBase", "tex_basis", 80)):
        b = get(key).astype(np.float32)
        if b.shape != (3 * n, k):
            raise SystemExit(f"'{key}' has shape {b.shape}, expected {(3 * n, k)}")
        bases[out] = b
    bases["tex_basis"] = bases["tex_basis"] / 255.0
    tex = get("meantex").astype(np.float64).reshape(-1, 3) / 255.0
    if len(tex) != n:
        raise SystemExit(f"'meantex' has {len(tex)} vertices, 'meanshape' has {n}")
    tri = get("tri").astype(np.int64) - 1
    if tri.ndim != 2 or tri.shape[1] != 3 or tri.min() < 0 or tri.max() >= n:
        raise SystemExit(f"'tri' must be T×3 1-based indices into {n} vertices")
    kp = get("keypoints").astype(np.int64).reshape(-1) - 1
    if kp.shape != (68,) or kp.min() < 0 or kp.max() >= n:
        raise SystemExit("'keypoints' must be 68 1-based vertex indices")
    tensors = {"mean_shape": mean.astype(np.float32), "mean_texture": tex.astype(np.float32),
               "triangles": tri.astype(np.int32), "landmarks": kp.astype(np.int32), **bases}
    skin = get("skinmask", required=False)
    if skin is not None and skin.size == n:
        tensors["skin_mask"] = (skin.reshape(-1) > 0).astype(np.uint8)
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mat")
    ap.add_argument("out")
    ap.add_argument("--no-recenter", action="store_true")
    args = ap.parse_args()
    from scipy.io import loadmat
    tensors = convert(loadmat(args.mat), recenter=not args.no_recenter)
    save(tensors, args.out, metadata={
        "format": "tgdm-morphable-model", "version": "1", "units": "decimetre",
        "name": "bfm09-front (converted)", "source": os.path.basename(args.mat),
        "license": "Basel Face Model licence: do not redistribute",
    })
    print(f"wrote {args.out}: {len(tensors['mean_shape'])} vertices, {len(tensors['triangles'])} triangles")


if __name__ == "__main__":
    main()
