"""Import an ONNX model: its Conv nodes, weights and (real or synthetic) input activations.

What is read, node by node in graph order:

* ``Conv``: weights (an initializer or ``Constant``), ``strides``, ``pads``, ``dilations``,
  ``group``, ``auto_pad``. SCNN layers have one stride and one symmetric zero padding for both
  dimensions: asymmetric or non-square pads, non-square strides, dilations other than 1 and
  non-2-D convolutions are refused with one line naming the node. Bias is not modelled (as in
  :func:`scnn_sim.workload.export.from_torch`).
* ``MaxPool``, ``AveragePool``, ``GlobalMaxPool``, ``GlobalAveragePool``, ``LpPool``: recorded
  as a pooling note ``{kind, window, stride, padding}`` on the conv that produces the pooled
  tensor (found by walking back through element-wise ops such as ReLU and batch norm); with
  ``--shapes-only`` a square max or average pool becomes that conv's ``pool:`` field, which the
  workload loader applies in the PPU model (other pools stay comments saying why).
* ``Gemm`` and ``MatMul`` with a constant 2-D weight: recorded as fully-connected layers.
* ``Flatten``, ``Reshape``, ``Squeeze``, ``Unsqueeze``: recorded (shape changes only).
* ``Relu`` (SCNN's PPU applies it), ``Identity``, ``Dropout``, ``Constant``: nothing to model.
* Any other op (batch norm, add, concat, softmax ...) is *not modelled*: listed by the caller,
  one line per op type with its count.

Activations: with ``images`` (``[N, C, H, W]``) the model runs in onnxruntime with every conv
input added as a graph output, so each conv gets its real input; otherwise each conv gets
seeded synthetic post-ReLU activations at ``act_density`` (a conv reading the graph input
directly gets density 1.0: an image is dense).

onnx and onnxruntime are optional (``pip install 'scnn-sim[onnx]'``) and imported on use.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.limits import (
    BYTES_PER_ACTIVATION,
    BYTES_PER_WEIGHT,
    check_array_bytes,
    check_layer_memory,
)
from scnn_sim.inputs.readers import as_path, npy_header
from scnn_sim.workload.importers import ModelImportError
from scnn_sim.workload.shapes import Layer, Pool, validate_layer

__all__ = ["DEFAULT_ACT_DENSITY", "OnnxImport", "PoolNote", "import_onnx", "read_onnx"]

#: Density of synthetic input activations of every conv but those reading the model input.
DEFAULT_ACT_DENSITY = 0.5

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


def read_onnx(path: str | os.PathLike, *, input_shape: tuple[int, ...] | None = None
              ) -> OnnxImport:
    """Parse, check and shape-infer an ONNX model and collect its convs, pools and fc layers.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.onnx`` file.
    input_shape : tuple of int, optional
        ``(N, C, H, W)`` to give the data input (replaces symbolic dimensions).

    Returns
    -------
    OnnxImport

    Raises
    ------
    ModelImportError
        Unreadable or malformed model, more than one data input, a conv that SCNN cannot
        model, or weights that are not constants; one line naming the node.
    """
    onnx, _ = _import_onnx_packages(False)
    from onnx import numpy_helper

    p = as_path(path, "ONNX model", ModelImportError)
    shown = str(path)
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

    graph = model.graph
    consts: dict[str, Any] = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                if a.name == "value":
                    consts[node.output[0]] = a.t
    data_inputs = [i for i in graph.input if i.name not in consts]
    if len(data_inputs) != 1:
        names = ", ".join(i.name for i in data_inputs) or "none"
        raise ModelImportError(f"{shown}: expected one data input, found {len(data_inputs)} "
                               f"({names})")
    data_input = data_inputs[0]
    if input_shape is not None:
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
    try:
        # Not strict: a shape problem downstream must not hide a conv that SCNN cannot model.
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as exc:
        raise ModelImportError(f"{shown}: shape inference failed: {_one_line(exc)}") from None
    g = inferred.graph
    infos = {v.name: v for v in [*g.input, *g.value_info, *g.output]}
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                default=0)
    result = OnnxImport(name=p.stem, opset=int(opset), graph_input=data_input.name,
                        model=model)

    producer: dict[str, Any] = {}
    for node in graph.node:
        for o in node.output:
            producer[o] = node

    batch = int(input_shape[0]) if input_shape else 1

    def shape_of(name: str, where: str, what: str) -> list[int]:
        if name not in infos:
            raise ModelImportError(f"{where}: {what} {name!r} has no known shape "
                                   f"(shape inference failed)")
        return _static_shape(onnx, infos[name], where, what)

    def declared(name: str, where: str, what: str) -> list[int]:
        """The declared dims of constant ``name``, checked before its array is built: a
        real dtype, no zero dimension, and within the size gate."""
        if name not in consts:
            raise ModelImportError(f"{where}: {what} {name!r} is not a constant initializer "
                                   f"(computed weights are not supported)")
        t = consts[name]
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

    def const(name: str, where: str, what: str) -> np.ndarray:
        dims = declared(name, where, what)
        try:
            arr = np.asarray(numpy_helper.to_array(consts[name]))
        except Exception as exc:  # malformed raw_data, external data missing, ...
            raise ModelImportError(f"{where}: {what} {name!r} cannot be read: "
                                   f"{_one_line(exc)}") from None
        if list(arr.shape) != dims or arr.dtype.kind not in "biuf":
            raise ModelImportError(f"{where}: {what} {name!r} holds {arr.dtype} "
                                   f"{list(arr.shape)}, declared {dims}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ModelImportError(f"{where}: {what} {name!r} contains NaN or Inf")
        return arr

    conv_of_output: dict[str, str] = {}
    used_names: set[str] = set()

    def unique(label: str) -> str:
        # torch.onnx names nodes "/features/0/Conv": the leading "/" carries nothing.
        name = label.replace("|", "_").strip().lstrip("/") or "layer"
        if name in (".",):
            name = "layer"
        base, n = name, 1
        while name in used_names:
            n += 1
            name = f"{base}_{n}"
        used_names.add(name)
        return name

    for index, node in enumerate(graph.node):
        label = _node_label(node, index)
        where = f"{shown}:{label}"
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            result.not_modelled[f"{node.domain}.{op}"] += 1
            continue
        if op == "Conv":
            attrs = _attrs(onnx, node)
            x_shape = shape_of(node.input[0], where, "input")
            if len(node.input) < 2 or not node.input[1]:
                raise ModelImportError(f"{where}: a Conv without weights")
            w_dims = declared(node.input[1], where, "weights")
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
            name = unique(label)
            layer = Layer(name=name, C=C, K=K, R=R, S=S, H=H, W=W, stride=stride,
                          padding=padding, groups=groups, kind="conv")
            try:
                validate_layer(layer, where)
            except ScnnSimError as exc:
                raise ModelImportError(str(exc)) from None
            # The size gate `run` applies, on the declared shapes, before any array is built.
            check_layer_memory(layer, where, batch=batch)
            w = const(node.input[1], where, "weights").astype(np.float32)
            layer = dataclasses.replace(layer, weight_density=float(np.count_nonzero(w)) / w.size)
            result.convs.append((layer, w, node.input[0]))
            conv_of_output[node.output[0]] = name
        elif op in POOL_OPS:
            attrs = _attrs(onnx, node)
            src, after = node.input[0], None
            while True:
                if src in conv_of_output:
                    after = conv_of_output[src]
                    break
                prev = producer.get(src)
                if prev is None or prev.op_type not in _ELEMENTWISE:
                    break
                src = prev.input[0]
            if after is None and result.convs:
                after = result.convs[-1][0].name
            in_shape = shape_of(node.input[0], where, "input") if node.input[0] in infos \
                else None
            result.pools.append(_pool_note(node, label, attrs, in_shape, after))
        elif op in FC_OPS:
            attrs = _attrs(onnx, node)
            if node.input[1] not in consts or (op == "Gemm" and attrs.get("transA", 0)):
                result.not_modelled[f"{op} (non-constant or transposed input)"] += 1
                continue
            if len(declared(node.input[1], where, "weights")) != 2:
                result.not_modelled[f"{op} (weights of rank "
                                    f"{len(consts[node.input[1]].dims)})"] += 1
                continue
            wt = const(node.input[1], where, "weights")
            Cin, K = (wt.shape[1], wt.shape[0]) if op == "Gemm" and attrs.get("transB", 0) \
                else wt.shape
            layer = Layer(name=unique(label), C=int(Cin), K=int(K), R=1, S=1, H=1, W=1,
                          kind="fc", weight_density=float(np.count_nonzero(wt)) / wt.size)
            result.fcs.append((layer, node.input[0]))
        elif op in SHAPE_OPS:
            result.shape_ops[op] += 1
        elif op in NOTHING_OPS:
            continue
        else:
            result.not_modelled[op] += 1
    if not result.convs:
        raise ModelImportError(f"{shown}: the model has no Conv node")
    return result


def _load_images(path: str | os.PathLike) -> np.ndarray:
    p = Path(path)
    try:
        with open(p, "rb") as fh:  # the reader policy: dtype and size from the header first
            shape, _ = npy_header(fh, f"{p}: --images", ModelImportError)
        check_array_bytes(shape, BYTES_PER_ACTIVATION, f"{p}: --images")
        images = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise ModelImportError(f"{p}: --images: no such file") from None
    except (OSError, ValueError) as exc:
        raise ModelImportError(f"{p}: --images: not a .npy array ({_one_line(exc)})") from None
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        got = getattr(images, "shape", type(images).__name__)
        raise ModelImportError(f"{p}: --images must be one array N x C x H x W, got {got}")
    if images.dtype.kind not in "fiu":
        raise ModelImportError(f"{p}: --images must be numeric, got dtype {images.dtype}")
    images = images.astype(np.float32)
    if not np.isfinite(images).all():
        raise ModelImportError(f"{p}: --images contains NaN or Inf")
    return images


def _capture(info: OnnxImport, images: np.ndarray, names: list[str], shown: str
             ) -> dict[str, np.ndarray]:
    """Run the model on ``images`` with ``names`` added as graph outputs; return them."""
    onnx, ort = _import_onnx_packages(True)
    model = onnx.ModelProto()
    model.CopyFrom(info.model)
    existing = {o.name for o in model.graph.output}
    wanted = [n for n in dict.fromkeys(names) if n != info.graph_input]
    for n in wanted:
        if n not in existing:
            model.graph.output.append(onnx.helper.make_tensor_value_info(
                n, onnx.TensorProto.FLOAT, None))
    try:
        sess = ort.InferenceSession(model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        outs = sess.run(wanted, {info.graph_input: images}) if wanted else []
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelImportError(f"{shown}: onnxruntime could not run the model on --images: "
                               f"{_one_line(exc)}") from None
    got = {info.graph_input: images}
    got.update({n: np.asarray(v, dtype=np.float32) for n, v in zip(wanted, outs, strict=True)})
    return got


def import_onnx(
    path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    images: str | os.PathLike | None = None,
    act_density: float = DEFAULT_ACT_DENSITY,
    seed: int = 0,
    shapes_only: bool = False,
    input_shape: tuple[int, ...] | None = None,
) -> tuple[OnnxImport, Any]:
    """Import an ONNX model as an exported-layer HDF5 file, or (``shapes_only``) a workload YAML.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.onnx`` model.
    out : str or os.PathLike
        Output ``.h5`` (layers with weights and activations) or, with ``shapes_only``, ``.yaml``.
    images : str or os.PathLike, optional
        ``.npy`` array ``[N, C, H, W]``: run the model on it (onnxruntime) and store each
        conv's real input activations (all N; simulation uses sample 0). Without it,
        activations are synthetic.
    act_density : float
        Density of synthetic activations (default :data:`DEFAULT_ACT_DENSITY`); a conv reading
        the model input directly gets 1.0.
    seed : int
        Seed of the synthetic activations (layer ``i`` uses ``default_rng([seed, i, 1])``).
    shapes_only : bool
        Write a workload YAML of the shapes and densities (weights measured from the
        initializers, activations measured on ``images`` or ``act_density``) instead.
    input_shape : tuple of int, optional
        ``(N, C, H, W)`` for a model whose input has symbolic dimensions (taken from
        ``images`` when given).

    Returns
    -------
    tuple
        The :class:`OnnxImport` found and the written :class:`~scnn_sim.workload.shapes.Workload`
        (``shapes_only``) or list of stored layer names.

    Raises
    ------
    ModelImportError
        See :func:`read_onnx`; also a bad ``--images`` array, a failed onnxruntime run, a bad
        density or an unwritable output.
    """
    from scnn_sim.sparsity.pruning import synthetic_activations

    shown = str(path)
    if isinstance(act_density, bool) or not isinstance(act_density, (int, float)) or not (
            0.0 <= float(act_density) <= 1.0):
        raise ModelImportError(f"--act-density: must be in [0, 1], got {act_density!r}")
    arr = None
    if images is not None:
        _import_onnx_packages(True)
        arr = _load_images(images)
        input_shape = tuple(int(v) for v in arr.shape)
    info = read_onnx(path, input_shape=input_shape)

    captured: dict[str, np.ndarray] = {}
    if arr is not None:
        names = [t for _, _, t in info.convs] + [t for _, t in info.fcs]
        captured = _capture(info, arr, names, shown)

    def act_dens(tensor: str) -> float:
        if tensor in captured:
            x = captured[tensor]
            return float(np.count_nonzero(x[0])) / x[0].size
        return 1.0 if tensor == info.graph_input else float(act_density)

    source = "measured" if arr is not None else "default"
    if shapes_only:
        from scnn_sim.workload.importers.workload_yaml import (
            workload_yaml_text,
            write_workload_yaml,
        )

        # A pooling node the PPU model can apply becomes its conv's `pool:` field (one per
        # conv); any other is kept as a comment naming why it is not applied.
        pools: dict[str, Pool] = {}
        notes: dict[str, list[str]] = {}
        for pn in info.pools:
            if pn.after is None:
                continue
            pool = pn.as_pool()
            if pool is not None and pn.after not in pools:
                pools[pn.after] = pool
                notes.setdefault(pn.after, []).append(
                    f"ONNX node {pn.node} is this layer's pool")
            else:
                why = "a second pooling node" if pool is not None else \
                    "not a square max/avg pool the PPU model applies"
                notes.setdefault(pn.after, []).append(
                    f"{pn.as_field()}  # ONNX {pn.node}, after this layer: {why}, not applied")
        layers = [dataclasses.replace(layer.with_densities(layer.weight_density, act_dens(t),
                                                           source), pool=pools.get(layer.name))
                  for layer, _, t in info.convs]
        layers += [layer.with_densities(layer.weight_density, act_dens(t), source)
                   for layer, t in info.fcs]
        header = [
            f"Imported from {Path(path).name} by `scnn-sim import --shapes-only` "
            f"(ONNX opset {info.opset}).",
            f"{len(info.convs)} conv, {len(info.fcs)} fc, {len(info.pools)} pooling node(s).",
            "weight_density: fraction of non-zero weights of the ONNX initializers.",
            "act_density: " + ("measured on sample 0 of the --images array."
                               if arr is not None else
                               f"--act-density {float(act_density):g} (synthetic), 1.0 for a "
                               f"conv reading the model input."),
            "Pooling nodes: the `pool:` of the conv whose outputs they pool.",
        ]
        if info.not_modelled:
            header.append("Not modelled: " + ", ".join(
                f"{op} x{n}" for op, n in sorted(info.not_modelled.items())) + ".")
        text = workload_yaml_text(
            info.name, layers, description=f"ONNX model {Path(path).name} (graph "
            f"{info.model.graph.name or '-'}), conv and fc layers in graph order.",
            provenance=f"scnn-sim import of {Path(path).resolve()}; shapes from ONNX shape "
            f"inference" + (f", input {list(input_shape)}" if input_shape else "") + ".",
            header=header, notes=notes)
        return info, write_workload_yaml(out, text)

    from scnn_sim.workload.h5io import write_layers
    from scnn_sim.workload.tensors import LayerTensors

    tensors, batch = [], []
    for i, (layer, w, t) in enumerate(info.convs):
        if t in captured:
            x = captured[t]
            if x.ndim != 4 or x.shape[1:] != (layer.C, layer.H, layer.W):
                raise ModelImportError(f"{shown}:{layer.name}: captured input "
                                       f"{list(x.shape)} does not match the inferred shape "
                                       f"{[layer.C, layer.H, layer.W]}")
            a = np.ascontiguousarray(x[0])
            batch.append(np.ascontiguousarray(x))
        else:
            a = synthetic_activations((layer.C, layer.H, layer.W), act_dens(t),
                                      np.random.default_rng([seed, i, 1]))
            batch.append(a[None])
        tensors.append(LayerTensors(layer=layer, weights=w, activations=a))
    import onnx as _onnx

    extra: dict[str, str | int | float] = {
        "input_file": str(Path(path).resolve()),
        "onnx_opset": info.opset,
        "activations": "onnxruntime on --images" if arr is not None else
        f"synthetic, density {float(act_density):g}, seed {seed}",
    }
    if info.fcs:
        extra["fc_layers"] = "; ".join(f"{lay.name}: {lay.C}->{lay.K}" for lay, _ in info.fcs)
    if info.pools:
        extra["pooling"] = "; ".join(f"{pn.node} after {pn.after}: {pn.kind} window "
                                     f"{pn.window} stride {pn.stride} padding {pn.padding}"
                                     for pn in info.pools)
    if info.not_modelled:
        extra["not_modelled"] = ", ".join(f"{op} x{n}"
                                          for op, n in sorted(info.not_modelled.items()))
    write_layers(out, tensors, source_model=info.name, framework=f"onnx {_onnx.__version__}",
                 batch=batch, created_by="scnn_sim.workload.importers.onnx_model.import_onnx",
                 extra_attrs=extra)
    return info, [lt.layer.name for lt in tensors]
