"""A minimal reader of TensorFlow Lite flatbuffers (numpy only, no TensorFlow, no `tflite` package).

It reads what the MediaPipe face models need: tensors (shape, type, buffer, name), operators with
their builtin options, and constant buffers. Field numbers follow tensorflow/lite/schema/schema.fbs.
"""
import struct

import numpy as np

# BuiltinOperator codes (schema.fbs) of the ops these models use.
OPS = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
       6: "DEQUANTIZE", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6",
       22: "RESHAPE", 34: "PAD", 54: "PRELU", 124: "DENSIFY"}
# TensorType codes.
TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
PADDING = {0: "SAME", 1: "VALID"}
ACTIVATION = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


class _Table:
    """A flatbuffer table at byte `pos` of `buf`."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        vt_size = struct.unpack_from("<H", buf, vt)[0]
        self.fields = [struct.unpack_from("<H", buf, vt + 4 + 2 * i)[0] for i in range((vt_size - 4) // 2)]

    def _off(self, i):
        return self.fields[i] if i < len(self.fields) else 0

    def scalar(self, i, fmt, default=0):
        o = self._off(i)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + o)[0] if o else default

    def _indirect(self, i):
        o = self._off(i)
        if not o:
            return None
        p = self.pos + o
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, i):
        p = self._indirect(i)
        return _Table(self.buf, p) if p is not None else None

    def string(self, i):
        p = self._indirect(i)
        if p is None:
            return None
        n = struct.unpack_from("<I", self.buf, p)[0]
        return bytes(self.buf[p + 4:p + 4 + n]).decode()

    def vector(self, i, fmt):
        p = self._indirect(i)
        if p is None:
            return []
        n = struct.unpack_from("<I", self.buf, p)[0]
        return list(struct.unpack_from("<%d%s" % (n, fmt), self.buf, p + 4))

    def bytes_vector(self, i):
        p = self._indirect(i)
        if p is None:
            return b""
        n = struct.unpack_from("<I", self.buf, p)[0]
        return bytes(self.buf[p + 4:p + 4 + n])

    def tables(self, i):
        p = self._indirect(i)
        if p is None:
            return []
        n = struct.unpack_from("<I", self.buf, p)[0]
        out = []
        for k in range(n):
            e = p + 4 + 4 * k
            out.append(_Table(self.buf, e + struct.unpack_from("<I", self.buf, e)[0]))
        return out


class Tensor:
    def __init__(self, index, shape, dtype, buffer, name, sparse):
        self.index, self.shape, self.dtype, self.buffer, self.name, self.sparse = index, shape, dtype, buffer, name, sparse


class Operator:
    def __init__(self, op, inputs, outputs, options):
        self.op, self.inputs, self.outputs, self.options = op, inputs, outputs, options


def _options(op, t):
    """Builtin options of the ops we port (field numbers from schema.fbs)."""
    if t is None:
        return {}
    if op == "CONV_2D":
        return dict(padding=PADDING[t.scalar(0, "b")], stride_w=t.scalar(1, "i"), stride_h=t.scalar(2, "i"),
                    activation=ACTIVATION[t.scalar(3, "b")], dilation_w=t.scalar(4, "i", 1), dilation_h=t.scalar(5, "i", 1))
    if op == "DEPTHWISE_CONV_2D":
        return dict(padding=PADDING[t.scalar(0, "b")], stride_w=t.scalar(1, "i"), stride_h=t.scalar(2, "i"),
                    depth_multiplier=t.scalar(3, "i"), activation=ACTIVATION[t.scalar(4, "b")],
                    dilation_w=t.scalar(5, "i", 1), dilation_h=t.scalar(6, "i", 1))
    if op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return dict(padding=PADDING[t.scalar(0, "b")], stride_w=t.scalar(1, "i"), stride_h=t.scalar(2, "i"),
                    filter_w=t.scalar(3, "i"), filter_h=t.scalar(4, "i"), activation=ACTIVATION[t.scalar(5, "b")])
    if op in ("ADD", "MUL"):
        return dict(activation=ACTIVATION[t.scalar(0, "b")])
    if op == "CONCATENATION":
        return dict(axis=t.scalar(0, "i"), activation=ACTIVATION[t.scalar(1, "b")])
    return {}


class Model:
    """The first subgraph of a .tflite file: tensors, operators (in execution order) and constants."""

    def __init__(self, data):
        self.data = data
        root = _Table(data, struct.unpack_from("<I", data, 0)[0])
        codes = []
        for oc in root.tables(1):
            code = oc.scalar(3, "i", 0) or oc.scalar(0, "b", 0)
            codes.append(OPS.get(code, "CODE_%d" % code) if not oc.string(1) else "CUSTOM_" + oc.string(1))
        self.buffers = [b.bytes_vector(0) for b in root.tables(4)]
        g = root.tables(2)[0]
        self.tensors = []
        for i, t in enumerate(g.tables(0)):
            self.tensors.append(Tensor(i, t.vector(0, "i"), TYPES.get(t.scalar(1, "b"), None), t.scalar(2, "I"),
                                       t.string(3), t.table(6) is not None))
        self.inputs, self.outputs = g.vector(1, "i"), g.vector(2, "i")
        self.operators = []
        for o in g.tables(3):
            op = codes[o.scalar(0, "I")]
            self.operators.append(Operator(op, o.vector(1, "i"), o.vector(2, "i"), _options(op, o.table(4))))

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            return cls(f.read())

    def constant(self, index):
        """The constant value of tensor `index` (numpy, original dtype), or None when it is computed."""
        t = self.tensors[index]
        raw = self.buffers[t.buffer] if t.buffer < len(self.buffers) else b""
        if not raw:
            return None
        if t.sparse:
            raise ValueError("tensor %s is sparse; densify it first" % t.name)
        return np.frombuffer(raw, dtype=t.dtype).reshape(t.shape).copy()
