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
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.inputs.limits import BYTES_PER_ACTIVATION, check_array_bytes
from scnn_sim.inputs.readers import as_path, npy_header
from scnn_sim.workload.importers import ModelImportError
from scnn_sim.workload.importers.onnx_graph import (
    GraphReader,
    OnnxImport,
    PoolNote,
    _import_onnx_packages,
    _one_line,
    constants,
    find_data_input,
    fix_input_shape,
    inferred_infos,
    load_model,
)
from scnn_sim.workload.shapes import Pool

__all__ = ["DEFAULT_ACT_DENSITY", "OnnxImport", "PoolNote", "import_onnx", "read_onnx"]

#: Density of synthetic input activations of every conv but those reading the model input.
DEFAULT_ACT_DENSITY = 0.5


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
    model = load_model(onnx, p, shown)
    graph = model.graph
    consts = constants(graph)
    data_input = find_data_input(graph, consts, shown)
    if input_shape is not None:
        fix_input_shape(data_input, input_shape, shown)
    infos = inferred_infos(onnx, model, shown)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                default=0)
    result = OnnxImport(name=p.stem, opset=int(opset), graph_input=data_input.name,
                        model=model)

    batch = int(input_shape[0]) if input_shape else 1
    reader = GraphReader(onnx, numpy_helper, result, graph, consts, infos, shown, batch)
    for index, node in enumerate(graph.node):
        reader.read_node(node, index)
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

    measured = arr is not None
    if shapes_only:
        return info, _write_shapes_yaml(info, path, out, act_dens, measured=measured,
                                        act_density=act_density, input_shape=input_shape)
    return info, _write_h5(info, path, out, captured, act_dens, measured=measured,
                           act_density=act_density, seed=seed)


def _pool_fields(info: OnnxImport) -> tuple[dict[str, Pool], dict[str, list[str]]]:
    """Each conv's ``pool:`` and the YAML comments on the pooling nodes found after it.

    A pooling node the PPU model can apply becomes its conv's `pool:` field (one per conv); any
    other is kept as a comment naming why it is not applied.
    """
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
    return pools, notes


def _yaml_header(info: OnnxImport, path: str | os.PathLike, *, measured: bool,
                 act_density: float) -> list[str]:
    """The comment lines heading an imported workload YAML."""
    header = [
        f"Imported from {Path(path).name} by `scnn-sim import --shapes-only` "
        f"(ONNX opset {info.opset}).",
        f"{len(info.convs)} conv, {len(info.fcs)} fc, {len(info.pools)} pooling node(s).",
        "weight_density: fraction of non-zero weights of the ONNX initializers.",
        "act_density: " + ("measured on sample 0 of the --images array."
                           if measured else
                           f"--act-density {float(act_density):g} (synthetic), 1.0 for a "
                           f"conv reading the model input."),
        "Pooling nodes: the `pool:` of the conv whose outputs they pool.",
    ]
    if info.not_modelled:
        header.append("Not modelled: " + ", ".join(
            f"{op} x{n}" for op, n in sorted(info.not_modelled.items())) + ".")
    return header


def _write_shapes_yaml(info: OnnxImport, path: str | os.PathLike, out: str | os.PathLike,
                       act_dens: Callable[[str], float], *, measured: bool,
                       act_density: float, input_shape: tuple[int, ...] | None) -> Any:
    """Write the workload YAML of ``info`` (``--shapes-only``); return the loaded workload."""
    from scnn_sim.workload.importers.workload_yaml import (
        workload_yaml_text,
        write_workload_yaml,
    )

    source = "measured" if measured else "default"
    pools, notes = _pool_fields(info)
    layers = [dataclasses.replace(layer.with_densities(layer.weight_density, act_dens(t),
                                                       source), pool=pools.get(layer.name))
              for layer, _, t in info.convs]
    layers += [layer.with_densities(layer.weight_density, act_dens(t), source)
               for layer, t in info.fcs]
    header = _yaml_header(info, path, measured=measured, act_density=act_density)
    text = workload_yaml_text(
        info.name, layers, description=f"ONNX model {Path(path).name} (graph "
        f"{info.model.graph.name or '-'}), conv and fc layers in graph order.",
        provenance=f"scnn-sim import of {Path(path).resolve()}; shapes from ONNX shape "
        f"inference" + (f", input {list(input_shape)}" if input_shape else "") + ".",
        header=header, notes=notes)
    return write_workload_yaml(out, text)


def _conv_tensors(info: OnnxImport, path: str | os.PathLike, captured: dict[str, np.ndarray],
                  act_dens: Callable[[str], float], seed: int) -> tuple[list[Any], list[Any]]:
    """Each conv's tensors (real input from ``captured``, else synthetic) and input batch."""
    from scnn_sim.sparsity.pruning import synthetic_activations
    from scnn_sim.workload.tensors import LayerTensors

    shown = str(path)
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
    return tensors, batch


def _h5_attrs(info: OnnxImport, path: str | os.PathLike, *, measured: bool,
              act_density: float, seed: int) -> dict[str, str | int | float]:
    """The extra file attributes of an imported HDF5 file: source, activations, other nodes."""
    extra: dict[str, str | int | float] = {
        "input_file": str(Path(path).resolve()),
        "onnx_opset": info.opset,
        "activations": "onnxruntime on --images" if measured else
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
    return extra


def _write_h5(info: OnnxImport, path: str | os.PathLike, out: str | os.PathLike,
              captured: dict[str, np.ndarray], act_dens: Callable[[str], float], *,
              measured: bool, act_density: float, seed: int) -> list[str]:
    """Write the exported-layer HDF5 file of ``info``; return the stored layer names."""
    from scnn_sim.workload.h5io import write_layers

    tensors, batch = _conv_tensors(info, path, captured, act_dens, seed)
    import onnx as _onnx

    extra = _h5_attrs(info, path, measured=measured, act_density=act_density, seed=seed)
    write_layers(out, tensors, source_model=info.name, framework=f"onnx {_onnx.__version__}",
                 batch=batch, created_by="scnn_sim.workload.importers.onnx_model.import_onnx",
                 extra_attrs=extra)
    return [lt.layer.name for lt in tensors]
