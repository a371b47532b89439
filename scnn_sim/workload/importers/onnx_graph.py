"""Reading an ONNX graph node by node for :func:`~scnn_sim.workload.importers.onnx_model.read_onnx`.

The model is loaded, checked and shape-inferred here, and each node is turned into a conv, a
pooling note, a fully-connected layer, a counted shape op or a not-modelled op by
:class:`GraphReader`. onnx is imported on use by the caller and passed in.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.limits import BYTES_PER_WEIGHT, check_array_bytes, check_layer_memory
from scnn_sim.workload.importers import ModelImportError
from scnn_sim.workload.shapes import Layer, Pool, validate_layer

POOL_OPS = {"MaxPool": "max", "AveragePool": "avg", "LpPool": "lp", "GlobalMaxPool": "max",
            "GlobalAveragePool": "avg"}
FC_OPS = ("Gemm", "MatMul")
SHAPE_OPS = ("Flatten", "Reshape", "Squeeze", "Unsqueeze")
NOTHING_OPS = ("Relu", "Identity", "Dropout", "Constant")
#: ONNX tensor data types of weights that can be simulated (TensorProto codes): FLOAT, UINT8,
#: INT8, UINT16, INT16, INT32, INT64, FLOAT16, DOUBLE, UINT32, UINT64, BFLOAT16.
_REAL_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 16})
# Ops walked through when looking for the conv that feeds a pooling node.
_ELEMENTWISE = ("Relu", "BatchNormalization", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "Tanh",
                "HardSigmoid", "HardSwish", "Identity", "Dropout", "LRN", "Mul", "Add")


@dataclass(frozen=True)
class PoolNote:
    """A pooling node, recorded on the conv whose output it pools (``after``)."""

    node: str
    kind: str
    window: int | list[int]
    stride: int | list[int]
    padding: int | list[int]
    after: str | None
    ceil_mode: bool = False

    def as_pool(self) -> Pool | None:
        """The workload's :class:`Pool` of this node, or None when the PPU model has none
        (Lp pooling, non-square or asymmetric windows, padding above half the window)."""
        w, s, pad = self.window, self.stride, self.padding
        if self.kind not in ("max", "avg") or not isinstance(w, int) \
                or not isinstance(s, int) or not isinstance(pad, int) or pad > w // 2:
            return None
        return Pool(self.kind, w, s, pad, self.ceil_mode)

    def as_field(self) -> str:
        """The ``pool: {kind, window, stride, padding}`` flow mapping of a workload YAML."""
        return (f"pool: {{kind: {self.kind}, window: {self.window}, stride: {self.stride}, "
                f"padding: {self.padding}}}")


@dataclass
class OnnxImport:
    """What :func:`read_onnx` found in a model.

    Attributes
    ----------
    convs
        One entry per Conv node in graph order: ``(layer, weights [K, C/g, R, S] float32,
        input tensor name)``.
    fcs
        Fully-connected layers (``kind="fc"``) from Gemm/MatMul nodes, with their weight
        density.
    pools
        Pooling nodes.
    shape_ops, not_modelled
        Op type -> count of recognised shape ops, and of ops that are not modelled.
    graph_input
        Name of the model's (single) data input.
    """

    name: str
    opset: int
    convs: list[tuple[Layer, np.ndarray, str]] = field(default_factory=list)
    fcs: list[tuple[Layer, str]] = field(default_factory=list)
    pools: list[PoolNote] = field(default_factory=list)
    shape_ops: Counter = field(default_factory=Counter)
    not_modelled: Counter = field(default_factory=Counter)
    graph_input: str = ""
    model: Any = None


def _import_onnx_packages(need_runtime: bool) -> tuple[Any, Any]:
    try:
        import onnx
    except ImportError:
        raise ScnnSimError("importing ONNX needs the onnx package: pip install "
                           "'scnn-sim[onnx]'") from None
    ort: Any = None
    if need_runtime:
        try:
            import onnxruntime

            ort = onnxruntime
        except ImportError:
            raise ScnnSimError("--images needs onnxruntime: pip install 'scnn-sim[onnx]'") \
                from None
    return onnx, ort


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _node_label(node: Any, index: int) -> str:
    return node.name or (node.output[0] if node.output and node.output[0] else
                         f"{node.op_type}_{index}")


def _attrs(onnx: Any, node: Any) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _square(values: list[int], what: str, where: str) -> int:
    if len(set(values)) != 1:
        raise ModelImportError(f"{where}: non-square {what} {values} is not supported (SCNN "
                               f"layers have one {what} for both dimensions)")
    return int(values[0])


def _static_shape(onnx: Any, value_info: Any, where: str, what: str) -> list[int]:
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        raise ModelImportError(f"{where}: {what} has no known shape (shape inference failed)")
    dims = []
    for d in t.tensor_type.shape.dim:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            sym = d.dim_param or "?"
            raise ModelImportError(f"{where}: {what} has a symbolic dimension {sym!r}; give "
                                   f"--images (or --input-shape) to fix the input shape")
        dims.append(int(d.dim_value))
    return dims


def _conv_padding(attrs: dict[str, Any], R: int, S: int, H: int, W: int, stride: int,
                  where: str) -> int:
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4:
            raise ModelImportError(f"{where}: pads {pads} must have 4 values (2-D conv)")
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise ModelImportError(f"{where}: asymmetric pads {pads} (begin != end) are not "
                                   f"supported; SCNN models symmetric zero padding")
        return _square(pads[:2], "padding", where)
    if auto == "VALID":
        return 0
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        totals = [max((math.ceil(n / stride) - 1) * stride + k - n, 0)
                  for n, k in ((H, R), (W, S))]
        if any(t % 2 for t in totals):
            raise ModelImportError(f"{where}: auto_pad {auto} needs asymmetric padding "
                                   f"{totals} here; SCNN models symmetric zero padding")
        return _square([t // 2 for t in totals], "padding", where)
    raise ModelImportError(f"{where}: unknown auto_pad {auto!r}")


def _pool_note(node: Any, label: str, attrs: dict[str, Any], in_shape: list[int] | None,
               after: str | None) -> PoolNote:
    kind = POOL_OPS[node.op_type]
    if node.op_type.startswith("Global"):
        window: Any = in_shape[2:] if in_shape else "global"
        stride: Any = 1
        padding: Any = 0
    else:
        window = [int(k) for k in attrs.get("kernel_shape", [])]
        stride = [int(s) for s in attrs.get("strides", [1] * len(window))]
        pads = [int(p) for p in attrs.get("pads", [0] * 2 * len(window))]
        padding = pads[:len(pads) // 2] if pads[:len(pads) // 2] == pads[len(pads) // 2:] \
            else pads
    def one(v: Any) -> Any:
        return v[0] if isinstance(v, list) and v and len(set(v)) == 1 else v
    return PoolNote(node=label, kind=kind, window=one(window), stride=one(stride),
                    padding=one(padding), after=after,
                    ceil_mode=bool(attrs.get("ceil_mode", 0)))


def load_model(onnx: Any, p: Path, shown: str) -> Any:
    """Load and check the model at ``p`` (``shown`` in messages)."""
    if not p.is_file():
        raise ModelImportError(f"{shown}: no such ONNX file")
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf DecodeError, OSError, ...: all mean "not ONNX"
        raise ModelImportError(f"{shown}: not a readable ONNX model ({_one_line(exc)})") \
            from None
    if not model.graph.node:
        raise ModelImportError(f"{shown}: not an ONNX model (the graph has no nodes)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModelImportError(f"{shown}: invalid ONNX model: {_one_line(exc)}") from None
    return model


def constants(graph: Any) -> dict[str, Any]:
    """Initializers and ``Constant`` node values of ``graph`` by tensor name."""
    consts: dict[str, Any] = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                if a.name == "value":
                    consts[node.output[0]] = a.t
    return consts


def find_data_input(graph: Any, consts: dict[str, Any], shown: str) -> Any:
    """The graph's one data input (an input that is not a constant)."""
    data_inputs = [i for i in graph.input if i.name not in consts]
    if len(data_inputs) != 1:
        names = ", ".join(i.name for i in data_inputs) or "none"
        raise ModelImportError(f"{shown}: expected one data input, found {len(data_inputs)} "
                               f"({names})")
    return data_inputs[0]


def fix_input_shape(data_input: Any, input_shape: tuple[int, ...], shown: str) -> None:
    """Give ``data_input`` the dimensions ``input_shape`` (in place)."""
    dims = data_input.type.tensor_type.shape.dim
    if len(dims) != len(input_shape):
        raise ModelImportError(f"{shown}: input {data_input.name!r} has rank {len(dims)}, "
                               f"given shape {list(input_shape)}")
    for d, v in zip(dims, input_shape, strict=True):
        if d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != v:
            raise ModelImportError(f"{shown}: input {data_input.name!r} has dimension "
                                   f"{d.dim_value}, given {v} (shape {list(input_shape)})")
        d.Clear()
        d.dim_value = int(v)


def inferred_infos(onnx: Any, model: Any, shown: str) -> dict[str, Any]:
    """Value infos by tensor name after (non-strict) shape inference."""
    try:
        # Not strict: a shape problem downstream must not hide a conv that SCNN cannot model.
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as exc:
        raise ModelImportError(f"{shown}: shape inference failed: {_one_line(exc)}") from None
    g = inferred.graph
    return {v.name: v for v in [*g.input, *g.value_info, *g.output]}


class GraphReader:
    """Reads the nodes of a checked, shape-inferred graph into an :class:`OnnxImport`."""

    def __init__(self, onnx: Any, numpy_helper: Any, result: OnnxImport, graph: Any,
                 consts: dict[str, Any], infos: dict[str, Any], shown: str, batch: int) -> None:
        self.onnx = onnx
        self.numpy_helper = numpy_helper
        self.result = result
        self.consts = consts
        self.infos = infos
        self.shown = shown
        self.batch = batch
        self.producer: dict[str, Any] = {}
        for node in graph.node:
            for o in node.output:
                self.producer[o] = node
        self.conv_of_output: dict[str, str] = {}
        self.used_names: set[str] = set()

    def shape_of(self, name: str, where: str, what: str) -> list[int]:
        if name not in self.infos:
            raise ModelImportError(f"{where}: {what} {name!r} has no known shape "
                                   f"(shape inference failed)")
        return _static_shape(self.onnx, self.infos[name], where, what)

    def declared(self, name: str, where: str, what: str) -> list[int]:
        """The declared dims of constant ``name``, checked before its array is built: a
        real dtype, no zero dimension, and within the size gate."""
        onnx = self.onnx
        if name not in self.consts:
            raise ModelImportError(f"{where}: {what} {name!r} is not a constant initializer "
                                   f"(computed weights are not supported)")
        t = self.consts[name]
        if t.data_type not in _REAL_TYPES:
            kind = onnx.TensorProto.DataType.Name(t.data_type) \
                if t.data_type in onnx.TensorProto.DataType.values() else t.data_type
            raise ModelImportError(f"{where}: {what} {name!r} has data type {kind}; "
                                   f"weights must be real numbers")
        dims = [int(d) for d in t.dims]
        if any(d <= 0 for d in dims):
            raise ModelImportError(f"{where}: {what} {name!r} has shape {dims}: an empty "
                                   f"tensor (zero filters or channels) cannot be simulated")
        check_array_bytes(dims, BYTES_PER_WEIGHT, f"{where}: {what} {name!r}")
        return dims

    def const(self, name: str, where: str, what: str) -> np.ndarray:
        dims = self.declared(name, where, what)
        try:
            arr = np.asarray(self.numpy_helper.to_array(self.consts[name]))
        except Exception as exc:  # malformed raw_data, external data missing, ...
            raise ModelImportError(f"{where}: {what} {name!r} cannot be read: "
                                   f"{_one_line(exc)}") from None
        if list(arr.shape) != dims or arr.dtype.kind not in "biuf":
            raise ModelImportError(f"{where}: {what} {name!r} holds {arr.dtype} "
                                   f"{list(arr.shape)}, declared {dims}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ModelImportError(f"{where}: {what} {name!r} contains NaN or Inf")
        return arr

    def unique(self, label: str) -> str:
        # torch.onnx names nodes "/features/0/Conv": the leading "/" carries nothing.
        name = label.replace("|", "_").strip().lstrip("/") or "layer"
        if name in (".",):
            name = "layer"
        base, n = name, 1
        while name in self.used_names:
            n += 1
            name = f"{base}_{n}"
        self.used_names.add(name)
        return name

    def read_node(self, node: Any, index: int) -> None:
        """Record node ``index`` of the graph in the result."""
        label = _node_label(node, index)
        where = f"{self.shown}:{label}"
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            self.result.not_modelled[f"{node.domain}.{op}"] += 1
        elif op == "Conv":
            self._conv(node, label, where)
        elif op in POOL_OPS:
            self._pool(node, label, where)
        elif op in FC_OPS:
            self._fc(node, label, where)
        elif op in SHAPE_OPS:
            self.result.shape_ops[op] += 1
        elif op not in NOTHING_OPS:
            self.result.not_modelled[op] += 1

    def _conv(self, node: Any, label: str, where: str) -> None:
        attrs = _attrs(self.onnx, node)
        x_shape = self.shape_of(node.input[0], where, "input")
        if len(node.input) < 2 or not node.input[1]:
            raise ModelImportError(f"{where}: a Conv without weights")
        w_dims = self.declared(node.input[1], where, "weights")
        if len(w_dims) != 4 or len(x_shape) != 4:
            raise ModelImportError(f"{where}: only 2-D convolutions are supported (weights "
                                   f"{w_dims}, input {x_shape})")
        dil = [int(d) for d in attrs.get("dilations", [1, 1])]
        if any(d != 1 for d in dil):
            raise ModelImportError(f"{where}: dilations {dil} are not supported "
                                   f"(must be 1)")
        stride = _square([int(s) for s in attrs.get("strides", [1, 1])], "stride", where)
        if stride < 1:
            raise ModelImportError(f"{where}: stride {stride} must be a positive integer")
        K, Cg, R, S = w_dims
        _, C, H, W = x_shape
        padding = _conv_padding(attrs, R, S, H, W, stride, where)
        groups = int(attrs.get("group", 1))
        if groups < 1 or Cg * groups != C:
            raise ModelImportError(f"{where}: weights {w_dims} with group={groups} "
                                   f"do not fit an input of {C} channels")
        name = self.unique(label)
        layer = Layer(name=name, C=C, K=K, R=R, S=S, H=H, W=W, stride=stride,
                      padding=padding, groups=groups, kind="conv")
        try:
            validate_layer(layer, where)
        except ScnnSimError as exc:
            raise ModelImportError(str(exc)) from None
        # The size gate `run` applies, on the declared shapes, before any array is built.
        check_layer_memory(layer, where, batch=self.batch)
        w = self.const(node.input[1], where, "weights").astype(np.float32)
        layer = dataclasses.replace(layer, weight_density=float(np.count_nonzero(w)) / w.size)
        self.result.convs.append((layer, w, node.input[0]))
        self.conv_of_output[node.output[0]] = name

    def _pool(self, node: Any, label: str, where: str) -> None:
        attrs = _attrs(self.onnx, node)
        src, after = node.input[0], None
        while True:
            if src in self.conv_of_output:
                after = self.conv_of_output[src]
                break
            prev = self.producer.get(src)
            if prev is None or prev.op_type not in _ELEMENTWISE:
                break
            src = prev.input[0]
        if after is None and self.result.convs:
            after = self.result.convs[-1][0].name
        in_shape = self.shape_of(node.input[0], where, "input") if node.input[0] in self.infos \
            else None
        self.result.pools.append(_pool_note(node, label, attrs, in_shape, after))

    def _fc(self, node: Any, label: str, where: str) -> None:
        op = node.op_type
        attrs = _attrs(self.onnx, node)
        if node.input[1] not in self.consts or (op == "Gemm" and attrs.get("transA", 0)):
            self.result.not_modelled[f"{op} (non-constant or transposed input)"] += 1
            return
        if len(self.declared(node.input[1], where, "weights")) != 2:
            self.result.not_modelled[f"{op} (weights of rank "
                                     f"{len(self.consts[node.input[1]].dims)})"] += 1
            return
        wt = self.const(node.input[1], where, "weights")
        Cin, K = (wt.shape[1], wt.shape[0]) if op == "Gemm" and attrs.get("transB", 0) \
            else wt.shape
        layer = Layer(name=self.unique(label), C=int(Cin), K=int(K), R=1, S=1, H=1, W=1,
                      kind="fc", weight_density=float(np.count_nonzero(wt)) / wt.size)
        self.result.fcs.append((layer, node.input[0]))
