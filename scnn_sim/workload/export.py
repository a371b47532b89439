"""Export the conv layers of a PyTorch model to an exported-layer HDF5 file.

:func:`from_torch` runs one forward pass of the user's (possibly pruned) model on a batch of
inputs and records, for every ``torch.nn.Conv2d`` that the pass calls, its effective weights,
its pruning mask (when pruned with ``torch.nn.utils.prune``), its input activations and its
stride, padding and groups; ``MaxPool2d`` / ``AvgPool2d`` modules are recorded by name, after
the conv they follow, in the root attribute ``pooling``. The file format is described in
:mod:`scnn_sim.workload.h5io` and ``docs/h5-format.md``.

torch is an optional dependency (``pip install 'scnn-sim[torch]'``); it is imported only when
:func:`from_torch` is called.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from scnn_sim.errors import FormatError, ScnnSimError
from scnn_sim.workload.h5io import escape_name, write_layers
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors

__all__ = ["from_torch", "recorded_granularity"]


def recorded_granularity(path: str | os.PathLike) -> str | None:
    """The pruning granularity an exported-layer file records for all its layers (what
    ``scnn-sim prune`` or the exporter wrote), or None when it records none, ``dense`` or
    several (the weights are then simulated "as exported")."""
    from scnn_sim.workload.h5io import read_attrs

    try:
        layers = read_attrs(path).get("layers", {})
    except ScnnSimError:
        return None
    found = {str(attrs.get("granularity", "")) for attrs in layers.values()}
    if len(found) == 1 and (g := found.pop()) not in ("", "dense"):
        return g
    return None


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ScnnSimError(
            "exporting needs PyTorch: pip install 'scnn-sim[torch]' (torch==2.13.0)"
        ) from None
    return torch


def _square_int(value: Any, what: str, where: str) -> int:
    """Return the single int of an int or an (a, a) tuple; refuse anything else."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        raise FormatError(f"{where}: {what} must be an integer or a pair of integers, "
                          f"got {value!r}")
    if vals[0] != vals[1]:
        raise FormatError(f"{where}: non-square {what} {value!r} is not supported "
                          f"(SCNN layers have one {what} for both dimensions)")
    return vals[0]


def _conv_params(module: Any, where: str) -> tuple[int, int, int]:
    """Return (stride, padding, groups) of a Conv2d, refusing what SCNN cannot model."""
    dilation = _square_int(module.dilation, "dilation", where)
    if dilation != 1:
        raise FormatError(f"{where}: dilation {module.dilation!r} is not supported (must be 1)")
    if module.padding_mode != "zeros":
        raise FormatError(
            f"{where}: padding_mode {module.padding_mode!r} is not supported (must be 'zeros')"
        )
    stride = _square_int(module.stride, "stride", where)
    padding: Any = module.padding
    if isinstance(padding, str):
        R, S = (int(k) for k in module.kernel_size)
        if padding == "valid":
            padding = 0
        elif padding == "same" and R == S and R % 2 == 1:
            padding = (R - 1) // 2
        else:
            raise FormatError(
                f"{where}: padding={padding!r} with kernel {module.kernel_size} is not "
                f"supported (needs symmetric integer padding)"
            )
    padding = _square_int(padding, "padding", where)
    groups = int(module.groups)
    return stride, padding, groups


def _pool_text(module: Any) -> str:
    """``max window 2 stride 2 padding 0`` (the ONNX importer's wording) of a pooling module."""
    kind = "max" if type(module).__name__.startswith("Max") else "avg"

    def one(v: Any) -> Any:
        return v[0] if isinstance(v, (tuple, list)) and len(set(v)) == 1 else v

    text = (f"{kind} window {one(module.kernel_size)} stride {one(module.stride)} "
            f"padding {one(module.padding)}")
    return text + (" ceil" if getattr(module, "ceil_mode", False) else "")


def from_torch(
    model: Any,
    inputs: Any,
    path: str | os.PathLike,
    *,
    source_model: str | None = None,
    granularity: str = "dense",
    density: float | None = None,
) -> list[str]:
    """Run ``model`` on ``inputs`` and export every Conv2d it calls to an HDF5 layer file.

    Parameters
    ----------
    model : torch.nn.Module
        The network, possibly pruned with ``torch.nn.utils.prune`` (the effective
        ``module.weight = weight_orig * weight_mask`` is exported, and ``weight_mask`` as the
        layer's mask). Bias terms are not exported (SCNN does not model them).
    inputs : torch.Tensor
        One batch ``[N, C, H, W]`` on the model's device. Every conv layer's input
        activations for the whole batch are stored; readers return sample 0 by default.
    path : str or os.PathLike
        Output file, written atomically.
    source_model : str, optional
        Name recorded in the file; defaults to the model's class name.
    granularity : str
        Pruning granularity to record (``"dense"`` for an unpruned model).
    density : float, optional
        Target weight density to record; None if unknown.

    Returns
    -------
    list of str
        Names of the layers written (module names, e.g. ``"features.0"``), in the order the
        forward pass called them (which is the ``order`` stored in the file). Conv2d modules
        that the forward pass does not call are not exported.

    Raises
    ------
    FormatError
        A conv with non-square stride or padding, dilation other than 1, padding mode other
        than zeros, a conv called more than once in the forward pass, non-4-D inputs, no conv
        layer called, or an unwritable file.
    ScnnSimError
        If torch is not installed.

    Exceptions raised by the model's own forward pass propagate unchanged (after clean-up).

    Notes
    -----
    The model runs under ``torch.no_grad()`` in eval mode; each module's ``training`` flag is
    restored afterwards and the forward hooks are removed, also on error.
    """
    torch = _import_torch()
    shown = str(path)
    _check_arguments(torch, model, inputs, shown)
    convs = _find_convs(torch, model, shown)
    params = {id(m): _conv_params(m, f"{shown}:{n}") for n, m in convs}
    captured, calls, pool_calls = _run_hooked(torch, model, inputs, convs)
    order = _check_calls(shown, calls, captured)
    tensors, masks, batch = _collect(order, convs, params, captured)

    pooling = "; ".join(f"{name} after {after}: {_pool_text(module)}"
                        for name, module, after in pool_calls if after is not None)
    write_layers(
        path,
        tensors,
        extra_attrs={"pooling": pooling} if pooling else None,
        source_model=source_model if source_model is not None else type(model).__name__,
        framework=f"torch {torch.__version__}",
        granularity=granularity,
        density=density,
        masks=masks,
        batch=batch,
        created_by="scnn_sim.workload.export.from_torch",
    )
    return order


def _check_arguments(torch: Any, model: Any, inputs: Any, shown: str) -> None:
    """Refuse a model that is not a torch Module and inputs that are not a float [N, C, H, W]."""
    if not isinstance(model, torch.nn.Module):
        raise FormatError(f"{shown}: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
        got = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise FormatError(f"{shown}: inputs must be a tensor [N, C, H, W], got {got}")
    if not inputs.is_floating_point():
        raise FormatError(f"{shown}: inputs must be floating point, got {inputs.dtype}")


def _find_convs(torch: Any, model: Any, shown: str) -> list[tuple[str, Any]]:
    """The model's Conv2d modules with their (storable) layer names."""
    convs: list[tuple[str, Any]] = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            layer_name = name or "conv"  # the model itself is a Conv2d
            try:
                escape_name(layer_name)
            except FormatError as exc:
                raise FormatError(f"{shown}:{layer_name}: {exc}") from None
            convs.append((layer_name, module))
    if not convs:
        raise FormatError(f"{shown}: the model has no torch.nn.Conv2d layer")
    return convs


def _run_hooked(
    torch: Any, model: Any, inputs: Any, convs: list[tuple[str, Any]]
) -> tuple[dict[str, dict[str, Any]], list[str], list[tuple[str, Any, str | None]]]:
    """Run the forward pass with hooks; return the captured tensors, conv calls, pool calls."""
    captured: dict[str, dict[str, Any]] = {}
    calls: list[str] = []

    def make_hook(layer_name: str) -> Any:
        def hook(module: Any, args: tuple, output: Any) -> None:
            calls.append(layer_name)
            if layer_name in captured:
                return  # reported after the pass: a conv called twice
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor) or x.dim() != 4:
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else None
                captured[layer_name] = {"error": f"input is not [N, C, H, W]: {shape}"}
                return
            mask = getattr(module, "weight_mask", None)
            captured[layer_name] = {
                "x": x.detach().to("cpu", torch.float32).clone().numpy(),
                "w": module.weight.detach().to("cpu", torch.float32).clone().numpy(),
                "mask": None if mask is None else mask.detach().to("cpu").numpy() != 0,
            }

        return hook

    # Pooling modules, recorded (by module name) after the conv the pass called last before
    # them, like the ONNX importer's `pooling` attribute.
    pool_types = (torch.nn.MaxPool2d, torch.nn.AvgPool2d)
    pool_calls: list[tuple[str, Any, str | None]] = []

    def make_pool_hook(pool_name: str) -> Any:
        def hook(module: Any, args: tuple, output: Any) -> None:
            pool_calls.append((pool_name, module, calls[-1] if calls else None))

        return hook

    modes = {m: m.training for m in model.modules()}
    handles = []
    try:
        for layer_name, module in convs:
            handles.append(module.register_forward_hook(make_hook(layer_name)))
        for pool_name, module in model.named_modules():
            if isinstance(module, pool_types):
                handles.append(module.register_forward_hook(make_pool_hook(pool_name)))
        model.eval()
        with torch.no_grad():
            model(inputs)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return captured, calls, pool_calls


def _check_calls(shown: str, calls: list[str], captured: dict[str, dict[str, Any]]) -> list[str]:
    """The convs in call order; refuse none called, one called twice or a bad input."""
    order = list(dict.fromkeys(calls))
    if not order:
        raise FormatError(f"{shown}: the forward pass called no Conv2d layer")
    for layer_name in order:
        n = calls.count(layer_name)
        if n > 1:
            raise FormatError(
                f"{shown}:{layer_name}: called {n} times in one forward pass; a conv module "
                f"reused within a pass is not supported (give each use its own module)"
            )
        if "error" in captured[layer_name]:
            raise FormatError(f"{shown}:{layer_name}: {captured[layer_name]['error']}")
    return order


def _collect(
    order: list[str],
    convs: list[tuple[str, Any]],
    params: dict[int, Any],
    captured: dict[str, dict[str, Any]],
) -> tuple[list[LayerTensors], list[np.ndarray | None], list[np.ndarray]]:
    """The layers, masks and input batches to write, in call order."""
    by_name = dict(convs)
    tensors: list[LayerTensors] = []
    masks: list[np.ndarray | None] = []
    batch: list[np.ndarray] = []
    for layer_name in order:
        module = by_name[layer_name]
        stride, padding, groups = params[id(module)]
        cap = captured[layer_name]
        x, w = cap["x"], cap["w"]
        K, Cg, R, S = w.shape
        _, C, H, W = x.shape
        layer = Layer(name=layer_name, C=int(C), K=int(K), R=int(R), S=int(S), H=int(H),
                      W=int(W), stride=stride, padding=padding, groups=groups, kind="conv")
        tensors.append(LayerTensors(layer=layer, weights=w, activations=x[0]))
        masks.append(cap["mask"])
        batch.append(x)
    return tensors, masks, batch
