"""A torchvision model, with the user's own checkpoint, to an exported-layer HDF5 file.

``scnn-sim import torchvision:resnet18 --weights FILE.pth [--images X.npy] -o r18.h5``:
builds the named architecture with ``torchvision.models.get_model(name, weights=None)`` (no
download), loads the checkpoint's state dict into it, runs it on the images (or on seeded
synthetic images of ``--input-shape``) and writes every conv layer it calls with
:func:`scnn_sim.workload.export.from_torch`. Weights pruned to zero in the checkpoint stay
zero, so a
model pruned at any granularity keeps its sparsity.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.inputs.limits import BYTES_PER_ACTIVATION, check_array_bytes
from scnn_sim.inputs.readers import npy_header
from scnn_sim.workload.importers import ModelImportError

PREFIX = "torchvision:"
DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)


def _import_torchvision() -> tuple[Any, Any]:
    try:
        import torch
        import torchvision
    except Exception as exc:  # ImportError, or torchvision built for another torch
        raise ModelImportError(
            "torchvision: cannot import it (" + " ".join(str(exc).split())[:160] + "); "
            "pip install torch and the torchvision release built for it "
            "(torch 2.N pairs with torchvision 0.(N+15); tested: torch 2.14.1 with "
            "torchvision 0.29.1 from the CPU index; PyPI has no CPU torchvision for the "
            "pinned torch 2.13.0)") from None
    return torch, torchvision


def _state_dict(torch: Any, path: Path) -> dict[str, Any]:
    """The state dict in ``path``: a plain one, or under 'state_dict' / 'model'."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated zip, non-tensor objects ...
        raise ModelImportError(f"{path}: not a readable torch checkpoint "
                               f"({' '.join(str(exc).split())[:160]})") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise ModelImportError(f"{path}: not a state dict (a mapping of parameter names to "
                               f"tensors), got {type(obj).__name__}")
    # Checkpoints saved from DataParallel / DistributedDataParallel prefix every key.
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _mismatch(want: dict[str, Any], got: dict[str, Any]) -> str:
    """What keeps ``got`` from loading into a model whose state dict is ``want`` ('' if
    nothing): missing and unexpected keys, and the first tensor of another shape."""
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s), e.g. {missing[0]}")
    if extra:
        parts.append(f"{len(extra)} unexpected key(s), e.g. {extra[0]}")
    for k, v in want.items():
        shape = getattr(got.get(k), "shape", None)
        if k in got and tuple(shape or ()) != tuple(v.shape):
            parts.append(f"{k} is {list(shape or ())}, the model's is {list(v.shape)}")
            break
    return "; ".join(parts)


def import_torchvision(name: str, out: str | os.PathLike, *,
                       weights: str | os.PathLike | None = None,
                       images: str | os.PathLike | None = None,
                       input_shape: tuple[int, int, int, int] | None = None,
                       seed: int = 0) -> list[str]:
    """Export a torchvision classification model's conv layers to ``out`` (HDF5).

    Parameters
    ----------
    name
        A torchvision model name (``torchvision.models.list_models()``), e.g. ``resnet18``.
    out
        Output ``.h5`` file, written atomically.
    weights
        A checkpoint of that architecture (``torch.save(model.state_dict(), FILE)``, or a dict
        holding it under ``state_dict`` / ``model``). None: torchvision's random
        initialisation (seeded by ``seed``), useful for shapes only.
    images
        ``.npy`` of ``N x C x H x W`` inputs (every conv's real input is captured; simulation
        uses sample 0). None: ``input_shape`` of seeded standard-normal values.
    input_shape
        ``(N, C, H, W)`` of the synthetic images (default 1 x 3 x 224 x 224).
    seed
        Seed of the synthetic images and of the random initialisation.

    Returns
    -------
    list of str
        The conv layers written, in forward order.

    Raises
    ------
    ModelImportError
        torchvision missing, unknown model name, unreadable checkpoint or one that does not
        fit the architecture, images that are not a 4-D float array: one line each.
    """
    _check_inputs(weights, images, input_shape)
    x = _load_images(images) if images is not None else None
    torch, torchvision = _import_torchvision()
    model = _build_model(torch, torchvision, name, weights, seed)
    if x is None:
        shape = input_shape or DEFAULT_INPUT_SHAPE
        x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    from scnn_sim.workload.export import from_torch

    return from_torch(model, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                      out, source_model=f"torchvision {name}"
                      + (f" ({Path(weights).name})" if weights is not None else ""))


def _check_inputs(weights: str | os.PathLike | None, images: str | os.PathLike | None,
                  input_shape: tuple[int, int, int, int] | None) -> None:
    """The argument checks, size gate and reader policy, before anything is built."""
    if images is not None and input_shape is not None:
        raise ModelImportError("--input-shape: not with --images (the images fix the shape)")
    for p, what in ((weights, "--weights"), (images, "--images")):
        if p is not None and not Path(p).is_file():
            raise ModelImportError(f"{p}: {what}: no such file")
    # The size gate and reader policy, on the declared input before anything is built: the
    # --images header (dtype, shape) or --input-shape.
    if images is not None:
        try:
            with open(images, "rb") as fh:
                declared_shape, _ = npy_header(fh, f"{images}: --images", ModelImportError)
        except OSError as exc:
            raise ModelImportError(f"{images}: --images: cannot read ({exc})") from None
        check_array_bytes(declared_shape, BYTES_PER_ACTIVATION, f"{images}: --images")
    elif input_shape is not None:
        if len(input_shape) != 4 or any(int(d) < 1 for d in input_shape):
            raise ModelImportError(f"--input-shape: must be 4 positive sizes N,C,H,W, got "
                                   f"{list(input_shape)}")
        check_array_bytes(input_shape, BYTES_PER_ACTIVATION, "--input-shape")


def _load_images(images: str | os.PathLike) -> np.ndarray:
    """The --images array, checked to be a finite float N x C x H x W array."""
    try:
        x = np.load(images, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelImportError(f"{images}: --images: not a .npy array ({exc})") from None
    if x.ndim != 4 or not np.issubdtype(x.dtype, np.floating) or not x.size:
        raise ModelImportError(f"{images}: --images: expected a float N x C x H x W "
                               f"array, got {x.dtype} {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ModelImportError(f"{images}: --images: contains NaN or Inf")
    return x


def _build_model(torch: Any, torchvision: Any, name: str, weights: str | os.PathLike | None,
                 seed: int) -> Any:
    """Torchvision model ``name``, seeded, with the checkpoint ``weights`` loaded if given."""
    known = set(torchvision.models.list_models(module=torchvision.models))
    if name not in known:
        close = sorted(k for k in known if k.startswith(name[:3]))[:6]
        raise ModelImportError(f"torchvision:{name}: not a torchvision classification model"
                               + (f" (close: {', '.join(close)})" if close else ""))
    torch.manual_seed(seed)
    model = torchvision.models.get_model(name, weights=None)
    if weights is not None:
        state = _state_dict(torch, Path(weights))
        problem = _mismatch(model.state_dict(), state)
        if problem:
            raise ModelImportError(f"{weights}: does not fit torchvision {name}: {problem}")
        model.load_state_dict(state, strict=True)
    return model
