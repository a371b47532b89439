"""The study's small VGG-style CNN (created when torch is first needed) and its masks."""

from __future__ import annotations

from typing import Any

import numpy as np

from scnn_sim.studies.real.arguments import _positive_int
from scnn_sim.studies.real.data import DatasetSplit
from scnn_sim.studies.real.errors import RealStudyError, _import_torch
from scnn_sim.studies.real.pruning import _group_size

_MODEL_CLASS: Any = None


def _model_class(torch: Any) -> Any:
    """The SmallVGG class (created once, when torch is first needed)."""
    global _MODEL_CLASS
    if _MODEL_CLASS is not None:
        return _MODEL_CLASS
    nn = torch.nn
    F = torch.nn.functional

    class SmallVGG(torch.nn.Module):
        """conv1-conv2-pool-conv3-conv4-pool-fc, 3x3 convolutions (padding 1) with ReLU."""

        def __init__(self, in_shape: tuple[int, int, int], n_classes: int,
                     width: tuple[int, int]) -> None:
            super().__init__()
            c, h, w = in_shape
            w1, w2 = width
            self.conv1 = nn.Conv2d(c, w1, 3, padding=1)
            self.conv2 = nn.Conv2d(w1, w1, 3, padding=1)
            self.conv3 = nn.Conv2d(w1, w2, 3, padding=1)
            self.conv4 = nn.Conv2d(w2, w2, 3, padding=1)
            self.fc = nn.Linear(w2 * (h // 4) * (w // 4), n_classes)

        def forward(self, x: Any) -> Any:
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.conv3(x))
            x = F.max_pool2d(F.relu(self.conv4(x)), 2)
            return self.fc(torch.flatten(x, 1))

    _MODEL_CLASS = SmallVGG
    return SmallVGG


def build_model(
    in_shape: tuple[int, int, int], n_classes: int = 10, *, width: tuple[int, int] = (16, 32),
    seed: int = 0,
) -> Any:
    """The study's small VGG-style CNN, initialised deterministically for a seed.

    Parameters
    ----------
    in_shape : tuple of int
        ``(channels, H, W)`` of the images; H and W must be multiples of 4.
    n_classes : int
        Outputs of the classifier.
    width : tuple of int
        Output channels ``(w1, w2)``: ``conv1, conv2`` have ``w1``, ``conv3, conv4`` ``w2``.
    seed : int
        ``torch.manual_seed`` before the layers are created.

    Returns
    -------
    torch.nn.Module
        With conv modules ``conv1`` .. ``conv4`` and a linear ``fc``.

    Raises
    ------
    RealStudyError
        torch missing, or a bad shape / width.
    """
    torch = _import_torch()
    c, h, w = (int(v) for v in in_shape)
    if c < 1 or h < 4 or w < 4 or h % 4 or w % 4:
        raise RealStudyError(f"model: image shape {tuple(in_shape)} must be (C, H, W) with H "
                             f"and W multiples of 4")
    if len(width) != 2:
        raise RealStudyError(f"model: width must be two channel counts, got {width!r}")
    wd = (_positive_int(width[0], "model width"), _positive_int(width[1], "model width"))
    torch.manual_seed(seed)
    return _model_class(torch)((c, h, w), _positive_int(n_classes, "classes"), wd)


def _conv_modules(torch: Any, model: Any) -> list[tuple[str, Any]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]


def _effective_weight(module: Any) -> np.ndarray:
    w = module.weight_orig * module.weight_mask if hasattr(module, "weight_mask") \
        else module.weight
    return w.detach().cpu().numpy().astype(np.float32)


def _set_mask(torch: Any, module: Any, mask: np.ndarray) -> None:
    """Apply a bool mask with torch.nn.utils.prune and zero the pruned ``weight_orig``."""
    from torch.nn.utils import prune as torch_prune

    m = torch.from_numpy(mask.astype(np.float32))
    with torch.no_grad():
        if hasattr(module, "weight_mask"):
            module.weight_mask.copy_(m)
        else:
            torch_prune.custom_from_mask(module, "weight", m)
        module.weight_orig.mul_(module.weight_mask)


def _layer_stats(torch: Any, model: Any,
                 granularity: str | None) -> tuple[float, list[dict[str, Any]]]:
    """Network conv-weight density and per-layer density / group size / target."""
    layers = []
    kept_total = size_total = 0
    for name, mod in _conv_modules(torch, model):
        mask = (mod.weight_mask.detach().cpu().numpy() != 0) if hasattr(mod, "weight_mask") \
            else np.ones(tuple(mod.weight.shape), dtype=bool)
        kept = int(np.count_nonzero(mask))
        size = int(mask.size)
        kept_total += kept
        size_total += size
        entry: dict[str, Any] = {"name": name, "shape": list(mask.shape), "weights": size,
                                 "kept": kept, "density": kept / size}
        if granularity is not None:
            entry["group_size"] = _group_size(mask.shape, granularity)
        layers.append(entry)
    return kept_total / size_total, layers


def _model_from_state(torch: Any, data: DatasetSplit, state: dict[str, Any],
                      width: tuple[int, int], seed: int) -> Any:
    model = build_model(data.image_shape, data.n_classes, width=width, seed=seed)
    if any(k.endswith("weight_mask") for k in state):
        for _, mod in _conv_modules(torch, model):
            _set_mask(torch, mod, np.ones(tuple(mod.weight.shape), dtype=bool))
    model.load_state_dict(state)
    model.eval()
    return model
