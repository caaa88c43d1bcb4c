"""Converts MediaPipe's face .tflite models to safetensors for the Swift `MediaPipeGraph` network.

Usage: convert_mediapipe.py MODEL.tflite OUT.safetensors

Every operator of the TFLite graph except DEQUANTIZE (fp16 weights are dequantized here, once) becomes
`layers.N` of the Swift module, in execution order. Weights are stored in PyTorch layout:
CONV_2D OHWI -> OIHW, DEPTHWISE_CONV_2D 1HWC -> C1HW, PRELU 11C -> C. The graph topology (which tensor
feeds which operator, strides, paddings, fused activations) goes into the file's metadata as JSON under
"graph", so the Swift side rebuilds exactly the network of the .tflite file.
"""
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "facemodel"))
import safetensors_np  # noqa: E402
import tflite_reader  # noqa: E402

SUPPORTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RELU", "PRELU", "PAD", "MAX_POOL_2D", "RESHAPE", "CONCATENATION"}


def convert(path):
    m = tflite_reader.Model.load(path)
    dequantized = {o.outputs[0]: o.inputs[0] for o in m.operators if o.op == "DEQUANTIZE"}

    def const(i):
        v = m.constant(dequantized.get(i, i))
        return None if v is None else v.astype(np.float32) if v.dtype == np.float16 else v

    tensors, ops = {}, []
    for o in m.operators:
        if o.op == "DEQUANTIZE":
            continue
        if o.op not in SUPPORTED:
            raise SystemExit("%s: operator %s is not supported by the Swift port" % (path, o.op))
        k = len(ops)
        acts = [i for i in o.inputs if i >= 0 and const(i) is None]
        entry = {"op": o.op, "inputs": acts, "output": o.outputs[0], "options": o.options}
        if o.op == "CONV_2D":
            tensors["layers.%d.weight" % k] = const(o.inputs[1]).transpose(0, 3, 1, 2)
            tensors["layers.%d.bias" % k] = const(o.inputs[2])
        elif o.op == "DEPTHWISE_CONV_2D":
            if o.options["depth_multiplier"] != 1:
                raise SystemExit("depth multiplier %d is not supported" % o.options["depth_multiplier"])
            tensors["layers.%d.weight" % k] = const(o.inputs[1]).transpose(3, 0, 1, 2)
            tensors["layers.%d.bias" % k] = const(o.inputs[2])
        elif o.op == "PRELU":
            tensors["layers.%d.alpha" % k] = const(o.inputs[1]).reshape(-1)
        elif o.op == "PAD":
            entry["pads"] = const(o.inputs[1]).astype(int).tolist()
        elif o.op == "RESHAPE":
            entry["shape"] = m.tensors[o.outputs[0]].shape
        ops.append(entry)
    for k, (name, t) in enumerate(sorted(tensors.items())):
        if not np.all(np.isfinite(t)):
            raise SystemExit("%s: %s has non-finite values" % (path, name))
    graph = {"input": m.inputs[0], "input_shape": m.tensors[m.inputs[0]].shape,
             "outputs": m.outputs, "output_shapes": [m.tensors[i].shape for i in m.outputs],
             "output_names": [m.tensors[i].name for i in m.outputs], "ops": ops}
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    meta = {"graph": json.dumps(graph, sort_keys=True), "source": os.path.basename(path),
            "source_sha256": digest, "converter": "scripts/analysis/convert_mediapipe.py"}
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, meta


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    t, meta = convert(sys.argv[1])
    safetensors_np.save(t, sys.argv[2], metadata=meta)
    print("convert_mediapipe: %s -> %s (%d tensors, %d operators)" % (
        os.path.basename(sys.argv[1]), sys.argv[2], len(t), len(json.loads(meta["graph"])["ops"])))
