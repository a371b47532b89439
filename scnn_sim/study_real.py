"""Real-data granularity study: accuracy vs weight density per pruning granularity, on SCNN.

Mao et al. 2017 ("Exploring the Regularity of Sparse Structure in CNNs") train CNNs with
iterative magnitude pruning at four granularities -- ``fine`` (single weights), ``vector``
(kernel rows ``W[k,c,r,:]``), ``kernel`` (``W[k,c,:,:]``) and ``filter`` (``W[k,:,:,:]``) -- and
find that at equal density the accuracy ordering is fine >= vector >= kernel >> filter, and
that vector/kernel pruning reaches about the same density as fine pruning without accuracy loss
while being cheaper to store and to run. :func:`run_study` repeats that experiment on a small
real dataset and then simulates the pruned networks on SCNN with the real weights and real
input activations.

Pipeline
--------
1. **Data.** :func:`load_digits_dataset` (scikit-learn's 8x8 digits, 2x nearest-neighbour
   upsampled to 16x16, fixed stratified 80/20 split for a seed) or
   :func:`load_fashion_mnist` (the IDX files of Debian's ``dataset-fashion-mnist``: 60000 train
   and 10000 test 28x28 images). Pixels are scaled to ``[0, 1]`` *without* mean subtraction,
   so the background stays exactly zero, as a zero-skipping accelerator would see it.
2. **Model.** A small VGG-style CNN (:func:`build_model`): ``conv1(1->w1) conv2(w1->w1) pool
   conv3(w1->w2) conv4(w2->w2) pool fc``, 3x3 convolutions with padding 1 and ReLU.
3. **Dense training** for ``epochs`` epochs (Adam, seeded shuffling).
4. **Iterative pruning.** For each granularity, starting from the *same* dense model, for each
   density ``d`` of the schedule below 1: prune every conv layer to ``d`` at the granularity,
   measure the accuracy (before fine-tuning), fine-tune ``finetune_epochs`` epochs with the
   mask held fixed, measure the accuracy again. Every granularity sees the same data order.
5. **No-loss density.** For each granularity, the lowest achieved density of the schedule
   whose accuracy is at most ``tolerance`` (0.5 points) below the dense model's. A *dense
   control* -- the unpruned model fine-tuned through the same steps (same epochs, learning
   rate and data order) -- gives a second reference with the same training budget
   (``no_loss_vs_control``).
6. **SCNN.** The pruned models at a *common* density (by default the fine-grained no-loss
   density) and at each granularity's *own* no-loss density, plus the dense model, are exported
   with :func:`scnn_sim.export.from_torch` on a batch of real test images and simulated with
   :func:`scnn_sim.simulate` (``count_merges=True``; coarse granularities with
   ``weight_format="group"``, i.e. one index per kept group in DRAM). The first image of the
   batch is simulated.

Masks
-----
Masks are computed with :func:`scnn_sim.sparsity.prune` on the numpy weights -- the same group
definitions, saliency (L1 norm of the group) and rounding as every other part of scnn-sim --
and applied with ``torch.nn.utils.prune.custom_from_mask`` (later steps overwrite the
``weight_mask`` buffer). Pruned entries of ``weight_orig`` are zeroed too, so they get no
gradient and no Adam update (a new optimiser is created for every fine-tuning step).

*The kept set only shrinks* (:func:`cumulative_mask`): the saliency passed to ``prune`` is
``|w|`` on kept weights, floored at the smallest positive float32 so that a kept group is
never exactly zero, and ``0`` on pruned weights. Every group of a layer has the same number of
weights for the granularities of this study (a kernel row, kernel or filter never has a partial
block), so ``prune`` keeps ``round(d * groups)`` groups, which for a decreasing schedule is at
most the number kept before; all previously kept groups have a positive saliency and all pruned
ones zero, so the top-ranked groups are all previously kept ones. The new mask is also
intersected with the old one and the result checked, so the guarantee does not rest on that
argument alone (a violation raises :class:`RealStudyError`).

The first conv layer
--------------------
``conv1`` has one input channel, so its weights are ``[w1, 1, 3, 3]``. ``vector`` prunes its
``3 * w1`` kernel rows; a ``kernel`` is the whole filter there, so ``kernel`` and ``filter``
both prune whole output channels of ``conv1`` (``w1`` groups of 9 weights). Every conv layer,
the first included, is pruned to the same target density; the fully connected classifier is
not pruned (SCNN does not run it).

Determinism
-----------
``torch.manual_seed(seed)``, ``torch.use_deterministic_algorithms(True)``, a fixed number of
intra-op threads (``threads``, default 1) and seeded ``torch.Generator`` shuffling make a run
repeatable on one machine: two runs with the same arguments give bit-identical accuracies.
The global torch settings are restored afterwards. Results can differ on another CPU or torch
build (vectorised kernels and thread counts change the floating-point summation order).

torch and scikit-learn are optional dependencies (``pip install 'scnn-sim[torch]'``); they are
imported only inside the functions that need them.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim import __version__
from scnn_sim.engine.layer import ACC_MODELS
from scnn_sim.errors import ScnnSimError
from scnn_sim.provenance import FORMAT_VERSION
from scnn_sim.report import atomic_write_bytes, atomic_write_json, format_table
from scnn_sim.sparsity import block_shape_for, parse_granularity, prune
from scnn_sim.study import _ratio, memory_references

__all__ = [
    "ACC_MODELS",
    "DATASETS",
    "DEFAULT_GRANULARITIES",
    "DEFAULT_SCHEDULE",
    "DatasetSplit",
    "RealStudyError",
    "accuracy_table",
    "build_model",
    "cumulative_mask",
    "find_fashion_mnist_root",
    "load_dataset",
    "load_digits_dataset",
    "load_fashion_mnist",
    "load_result",
    "markdown_summary",
    "no_loss_density",
    "no_loss_table",
    "parse_granularities",
    "parse_schedule",
    "plot_accuracy",
    "read_idx",
    "run_study",
    "scnn_table",
    "text_report",
]

#: Datasets :func:`run_study` knows.
DATASETS = ("digits", "fashion-mnist")
#: Density schedule of the iterative pruning (1.0 is the dense reference).
DEFAULT_SCHEDULE = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1)
#: Granularities of the study (``fine`` is the reference of the common density).
DEFAULT_GRANULARITIES = ("fine", "vector", "kernel", "filter")
#: Accuracy loss (fraction, 0.005 = 0.5 points) still counted as "no loss".
NO_LOSS_TOLERANCE = 0.005
#: Default training settings per dataset: epochs, fine-tuning epochs, batch size, conv widths.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"epochs": 30, "finetune_epochs": 3, "batch_size": 64, "width": (16, 32),
               "train_limit": 0},
    "fashion-mnist": {"epochs": 10, "finetune_epochs": 1, "batch_size": 128, "width": (16, 32),
                      "train_limit": 30000},
}
#: Debian package with the Fashion-MNIST IDX files, and its install directory.
FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_TORCH_HINT = "pip install 'scnn-sim[torch]'"


class RealStudyError(ScnnSimError):
    """Bad arguments or missing inputs of the real-data study (one line for the CLI)."""


# --------------------------------------------------------------------------------------------
# optional dependencies


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise RealStudyError(
            f"the real-data study needs PyTorch: {_TORCH_HINT} (torch==2.13.0)"
        ) from None
    return torch


def _import_sklearn_digits() -> Callable[..., Any]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise RealStudyError(
            f"the digits dataset needs scikit-learn: {_TORCH_HINT}"
        ) from None
    return load_digits


# --------------------------------------------------------------------------------------------
# datasets


@dataclass(frozen=True)
class DatasetSplit:
    """A classification dataset as float32 images ``[N, 1, H, W]`` in ``[0, 1]`` and labels.

    Attributes
    ----------
    name : str
        ``"digits"`` or ``"fashion-mnist"``.
    x_train, x_test : np.ndarray
        float32 ``[N, 1, H, W]``, values in ``[0, 1]`` (background exactly 0).
    y_train, y_test : np.ndarray
        int64 class labels ``[N]``.
    n_classes : int
        Number of classes.
    source : str
        Where the data came from (package, directory).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    source: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(1, H, W)``."""
        return tuple(int(v) for v in self.x_train.shape[1:])  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable summary (name, source, sizes, image shape, classes)."""
        return {
            "name": self.name,
            "source": self.source,
            "train_size": int(self.x_train.shape[0]),
            "test_size": int(self.x_test.shape[0]),
            "image_shape": list(self.image_shape),
            "n_classes": self.n_classes,
        }


def load_digits_dataset(
    seed: int = 0, *, upsample: int = 2, test_fraction: float = 0.2
) -> DatasetSplit:
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), shipped with sklearn.

    Parameters
    ----------
    seed : int
        Seed of the stratified train/test split (the split is fixed for a seed).
    upsample : int
        Nearest-neighbour upsampling factor: 2 gives 16x16 images (so the network has two
        2x2 poolings and SCNN sees planes larger than its PE grid); 1 keeps 8x8.
    test_fraction : float
        Fraction of the images held out for testing, in ``(0, 1)``.

    Returns
    -------
    DatasetSplit
        Pixels scaled from ``0..16`` to ``[0, 1]``.

    Raises
    ------
    RealStudyError
        scikit-learn is not installed, or a bad ``upsample`` / ``test_fraction``.
    """
    if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 1:
        raise RealStudyError(f"digits: upsample must be a positive integer, got {upsample!r}")
    if not (0.0 < float(test_fraction) < 1.0):
        raise RealStudyError(f"digits: test fraction must be in (0, 1), got {test_fraction!r}")
    load_digits = _import_sklearn_digits()
    bunch = load_digits()
    x = np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0)
    y = np.asarray(bunch.target, dtype=np.int64)
    if upsample > 1:
        x = x.repeat(upsample, axis=1).repeat(upsample, axis=2)
    x = x[:, None, :, :]
    # Stratified split with a seeded permutation per class (no sklearn model_selection needed).
    rng = np.random.default_rng(seed)
    test_idx: list[np.ndarray] = []
    train_idx: list[np.ndarray] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        n_test = int(round(test_fraction * idx.size))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    tr = np.sort(np.concatenate(train_idx))
    te = np.sort(np.concatenate(test_idx))
    return DatasetSplit(
        name="digits",
        x_train=np.ascontiguousarray(x[tr]),
        y_train=y[tr],
        x_test=np.ascontiguousarray(x[te]),
        y_test=y[te],
        n_classes=10,
        source=f"sklearn.datasets.load_digits (8x8, upsampled x{upsample}, "
        f"stratified split seed {seed}, test fraction {test_fraction})",
    )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or raw.

    Parameters
    ----------
    path : str or os.PathLike
        The file; a name ending in ``.gz`` is decompressed.

    Returns
    -------
    np.ndarray
        The array with the file's dimensions; only unsigned-byte data (type ``0x08``) is
        supported (all MNIST-style files).

    Raises
    ------
    RealStudyError
        Unreadable, truncated or malformed file.
    """
    p = Path(path)
    try:
        if p.name.endswith(".gz"):
            with gzip.open(p, "rb") as fh:
                data = fh.read()
        else:
            data = p.read_bytes()
    except (OSError, EOFError) as exc:
        raise RealStudyError(f"{p}: cannot read IDX file: {exc}") from None
    if len(data) < 4:
        raise RealStudyError(f"{p}: not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08 or ndim < 1:
        raise RealStudyError(
            f"{p}: not an unsigned-byte IDX file (magic {data[:4].hex()})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RealStudyError(f"{p}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = math.prod(dims)
    if len(data) - header != count:
        raise RealStudyError(
            f"{p}: IDX payload has {len(data) - header} bytes, expected {count} for shape {dims}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx(root: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def find_fashion_mnist_root() -> Path | None:
    """Directory of the Fashion-MNIST IDX files installed by Debian's package, or None.

    Asks ``dpkg -L dataset-fashion-mnist`` for the directory holding
    ``train-images-idx3-ubyte(.gz)``; falls back to ``/usr/share/datasets/fashion-mnist``.
    """
    dpkg = shutil.which("dpkg")
    if dpkg is not None:
        try:
            out = subprocess.run(
                [dpkg, "-L", FASHION_PACKAGE], capture_output=True, text=True, timeout=30,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            name = os.path.basename(line.strip())
            if name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
                return Path(line.strip()).parent
    if _find_idx(FASHION_DEFAULT_ROOT, _FASHION_FILES["x_train"]) is not None:
        return FASHION_DEFAULT_ROOT
    return None


def load_fashion_mnist(root: str | os.PathLike | None = None) -> DatasetSplit:
    """Fashion-MNIST (60000 train, 10000 test 28x28 images, 10 classes) from IDX files.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``).
        Default: where Debian's ``dataset-fashion-mnist`` package installed them
        (:func:`find_fashion_mnist_root`).

    Returns
    -------
    DatasetSplit
        Pixels scaled from ``0..255`` to ``[0, 1]``.

    Raises
    ------
    RealStudyError
        The files are missing (the message says ``apt-get install dataset-fashion-mnist``),
        malformed, or inconsistent.
    """
    hint = f"apt-get install {FASHION_PACKAGE}, or give the directory of its IDX files"
    if root is None:
        found = find_fashion_mnist_root()
        if found is None:
            raise RealStudyError(f"fashion-mnist: dataset not found; {hint} (--data DIR)")
        base = found
    else:
        base = Path(root)
        if not base.is_dir():
            raise RealStudyError(f"fashion-mnist: {base}: no such directory; {hint}")
    arrays: dict[str, np.ndarray] = {}
    for key, stem in _FASHION_FILES.items():
        path = _find_idx(base, stem)
        if path is None:
            raise RealStudyError(
                f"fashion-mnist: {base / stem}(.gz) not found; {hint}"
            )
        arrays[key] = read_idx(path)
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise RealStudyError(
                f"fashion-mnist: {part} images {x.shape} and labels {y.shape} do not match"
            )
        if y.size and int(y.max()) > 9:
            raise RealStudyError(f"fashion-mnist: {part} label {int(y.max())} is not in 0..9")

    def images(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((a.astype(np.float32) / np.float32(255.0))[:, None])

    return DatasetSplit(
        name="fashion-mnist",
        x_train=images(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=images(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        n_classes=10,
        source=str(base.resolve()),
    )


def load_dataset(
    name: str, *, root: str | os.PathLike | None = None, seed: int = 0
) -> DatasetSplit:
    """Load one of :data:`DATASETS` (``root`` only applies to ``fashion-mnist``).

    Raises
    ------
    RealStudyError
        Unknown dataset name, or the dataset's own loading errors.
    """
    if name == "digits":
        return load_digits_dataset(seed)
    if name == "fashion-mnist":
        return load_fashion_mnist(root)
    raise RealStudyError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")


# --------------------------------------------------------------------------------------------
# arguments


def parse_schedule(schedule: str | Sequence[float]) -> tuple[float, ...]:
    """Validate a density schedule: strictly decreasing values in ``(0, 1]``.

    Parameters
    ----------
    schedule : str or sequence of float
        ``"1,0.5,0.25"`` or ``[1.0, 0.5, 0.25]``. ``1.0`` (the dense reference) is put in
        front when missing.

    Returns
    -------
    tuple of float
        Starting with 1.0.

    Raises
    ------
    RealStudyError
        Empty, non-numeric, out of ``(0, 1]``, NaN, not strictly decreasing, or no density
        below 1.
    """
    if isinstance(schedule, str):
        items: list[Any] = [s.strip() for s in schedule.split(",") if s.strip()]
    else:
        try:
            items = list(schedule)
        except TypeError:
            raise RealStudyError(f"schedule: expected a list of densities, got {schedule!r}") \
                from None
    if not items:
        raise RealStudyError("schedule: give at least one density (e.g. 1,0.5,0.25)")
    values: list[float] = []
    for item in items:
        if isinstance(item, bool):
            raise RealStudyError(f"schedule: not a density: {item!r}")
        try:
            d = float(item)
        except (TypeError, ValueError):
            raise RealStudyError(f"schedule: not a number: {item!r}") from None
        if not (0.0 < d <= 1.0):  # also rejects NaN
            raise RealStudyError(f"schedule: densities must be in (0, 1], got {item!r}")
        values.append(d)
    for a, b in zip(values, values[1:], strict=False):
        if not b < a:
            raise RealStudyError(
                f"schedule: densities must be strictly decreasing (pruning only removes "
                f"weights), got {a:g} then {b:g}"
            )
    if values[0] != 1.0:
        values.insert(0, 1.0)
    if len(values) < 2:
        raise RealStudyError("schedule: give at least one density below 1 (e.g. 1,0.5,0.25)")
    return tuple(values)


def parse_granularities(granularities: str | Sequence[str]) -> list[str]:
    """Validate the granularity list; ``fine`` is put first (it sets the common density).

    Parameters
    ----------
    granularities : str or sequence of str
        ``"fine,vector,kernel,filter"``; any granularity with rectangular groups
        (``fine``, ``vector``, ``kernel``, ``filter``, ``channel``, ``block:AxBxCxD``).

    Returns
    -------
    list of str
        Canonical specs, ``fine`` first.

    Raises
    ------
    RealStudyError
        Empty list, unknown or duplicate granularity, or ``nm:N:M`` (its density is fixed by
        N/M, so it cannot follow a schedule).
    """
    if isinstance(granularities, str):
        items = [s.strip() for s in granularities.split(",") if s.strip()]
    else:
        items = [str(s).strip() for s in granularities if str(s).strip()]
    if not items:
        raise RealStudyError("granularities: give at least one (e.g. fine,vector,kernel,filter)")
    out: list[str] = []
    for item in items:
        try:
            g = parse_granularity(item)
        except ScnnSimError as exc:
            raise RealStudyError(f"granularities: {exc}") from None
        if g.kind == "nm":
            raise RealStudyError(
                f"granularities: {g.spec} has a fixed density (N/M) and cannot follow a "
                f"density schedule"
            )
        if g.spec in out:
            raise RealStudyError(f"granularities: {g.spec!r} given twice")
        out.append(g.spec)
    if "fine" in out:
        out.remove("fine")
    return ["fine", *out]


def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise RealStudyError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# masks


def cumulative_mask(
    weights: np.ndarray, kept: np.ndarray, density: float, granularity: str
) -> np.ndarray:
    """Prune further: the mask of ``density`` at ``granularity`` that keeps a subset of ``kept``.

    Parameters
    ----------
    weights : np.ndarray
        Current effective weights ``[K, C, R, S]`` (zero where ``kept`` is False).
    kept : np.ndarray
        bool, same shape: the current mask (all True before the first pruning step).
    density : float
        Target fraction of the layer's weights to keep, at most the current density.
    granularity : str
        A granularity spec with rectangular groups.

    Returns
    -------
    np.ndarray
        bool mask, every group all True or all False, ``new <= kept`` element-wise.

    Raises
    ------
    RealStudyError
        If the new mask would re-grow a pruned weight (see the module docstring: cannot happen
        for equal-sized groups and a decreasing schedule).
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    tiny = float(np.finfo(np.float32).tiny)
    saliency = np.where(kept, np.maximum(w, tiny), 0.0)
    _, new = prune(saliency, density, granularity)
    if np.any(new & ~kept):
        raise RealStudyError(
            f"{granularity} pruning to density {density:g} would re-grow pruned weights "
            f"(is the schedule decreasing?)"
        )
    return new & kept


def _group_size(shape: tuple[int, ...], granularity: str) -> int:
    return math.prod(block_shape_for(shape, granularity))


# --------------------------------------------------------------------------------------------
# model, training


_MODEL_CLASS: Any = None


def _model_class(torch: Any) -> Any:
    """The SmallVGG class (created once, when torch is first needed)."""
    global _MODEL_CLASS
    if _MODEL_CLASS is not None:
        return _MODEL_CLASS
    nn = torch.nn
    F = torch.nn.functional

    class SmallVGG(nn.Module):
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


def _train(torch: Any, model: Any, x: Any, y: Any, *, epochs: int, lr: float,
           batch_size: int, generator: Any) -> None:
    """Adam, cross-entropy, seeded shuffling; a new optimiser every call."""
    if epochs <= 0:
        return
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    n = int(x.shape[0])
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()


def _accuracy(torch: Any, model: Any, x: Any, y: Any, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, int(x.shape[0]), batch):
            pred = model(x[i:i + batch]).argmax(dim=1)
            correct += int((pred == y[i:i + batch]).sum().item())
    return correct / int(x.shape[0])


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


# --------------------------------------------------------------------------------------------
# results


def no_loss_density(
    points: Sequence[dict[str, Any]], dense_accuracy: float,
    tolerance: float = NO_LOSS_TOLERANCE, references: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The sparsest schedule point whose accuracy is within ``tolerance`` of the dense model.

    Parameters
    ----------
    points : sequence of dict
        Schedule points with ``target``, ``density`` (achieved) and ``accuracy``.
    dense_accuracy : float
        Test accuracy of the dense model.
    tolerance : float
        Largest accuracy loss (fraction; 0.005 = 0.5 points) still counted as no loss.
    references : sequence of float, optional
        One reference accuracy per point (e.g. the dense model trained for as many epochs as
        the pruned model had at that point); default ``dense_accuracy`` for every point.

    Returns
    -------
    dict
        ``target``, ``density``, ``accuracy`` and ``loss_points`` (vs the point's reference)
        of that point; the dense point (density 1.0) when no pruned point qualifies.
    """
    refs = [dense_accuracy] * len(points) if references is None else list(references)
    if len(refs) != len(points):
        raise RealStudyError(f"no-loss density: {len(refs)} references for {len(points)} "
                             f"points")
    ok = [(p, r) for p, r in zip(points, refs, strict=True)
          if p["accuracy"] >= r - tolerance - 1e-12]
    if ok:
        best, ref = min(ok, key=lambda pr: pr[0]["density"])
    else:
        best, ref = {"target": 1.0, "density": 1.0, "accuracy": dense_accuracy}, dense_accuracy
    return {"target": best["target"], "density": best["density"],
            "accuracy": best["accuracy"], "loss_points": 100.0 * (ref - best["accuracy"])}


def _scnn_summary(rec: dict[str, Any]) -> dict[str, Any]:
    mem = memory_references(rec)
    return {
        "cycles": int(rec["cycles"]),
        "multiplier_utilization": float(rec["multiplier_utilization"]),
        "products": int(rec["products"]),
        "dense_macs": int(rec["dense_macs"]),
        "accumulator_accesses": {m: rec["accumulator_accesses"].get(m) for m in ACC_MODELS},
        "memory_references": {m: None if v is None else float(v["accesses"])
                              for m, v in mem.items()},
        "memory_bits": {m: None if v is None else float(v["bits"]) for m, v in mem.items()},
        "dram_bits": int(sum(v for k, v in rec["accesses"].items() if k.startswith("dram_"))),
        "weight_index_bits": int(rec["accesses"]["dram_read_bits_weight_index"]),
        "weight_value_bits": int(rec["accesses"]["dram_read_bits_weight_values"]),
        "energy_pj": {k: float(v) for k, v in rec["energy_pj"].items()},
        "speedup_vs_dcnn": float(rec["speedup_vs_dcnn"]),
    }


# --------------------------------------------------------------------------------------------
# the study


def run_study(
    dataset: str = "digits",
    *,
    data_root: str | os.PathLike | None = None,
    seed: int = 0,
    schedule: str | Sequence[float] = DEFAULT_SCHEDULE,
    epochs: int | None = None,
    finetune_epochs: int | None = None,
    granularities: str | Sequence[str] = DEFAULT_GRANULARITIES,
    out_dir: str | os.PathLike = "real-study",
    width: tuple[int, int] | None = None,
    batch_size: int | None = None,
    lr: float = 1e-3,
    finetune_lr: float = 5e-4,
    train_limit: int | None = None,
    tolerance: float = NO_LOSS_TOLERANCE,
    common_density: float | None = None,
    export_batch: int = 4,
    simulate_scnn: bool = True,
    dense_control: bool = True,
    threads: int = 1,
    progress: bool = False,
) -> dict[str, Any]:
    """Train, iteratively prune at each granularity, and simulate the pruned models on SCNN.

    Parameters
    ----------
    dataset : {"digits", "fashion-mnist"}
        Which dataset (module docstring).
    data_root : str or os.PathLike, optional
        Directory of the Fashion-MNIST IDX files (default: Debian's package).
    seed : int
        Seed of the split (digits), the initial weights, and the shuffling.
    schedule : str or sequence of float
        Strictly decreasing densities in ``(0, 1]`` (:func:`parse_schedule`).
    epochs, finetune_epochs : int, optional
        Dense training epochs and fine-tuning epochs after each pruning step; defaults per
        dataset in :data:`DATASET_DEFAULTS`. ``finetune_epochs`` may be 0.
    granularities : str or sequence of str
        :func:`parse_granularities`; ``fine`` is always run.
    out_dir : str or os.PathLike
        Where ``study.json``, ``accuracy_vs_density.png`` and the ``.h5`` exports go.
    width : tuple of int, optional
        Conv channel counts ``(w1, w2)`` of :func:`build_model`.
    batch_size : int, optional
        Training batch size.
    lr, finetune_lr : float
        Adam learning rate of the dense training and of the fine-tuning.
    train_limit : int, optional
        Train on a seeded random subset of this many training images; 0 = all of them.
        Default per dataset (:data:`DATASET_DEFAULTS`: all digits, 30000 of the 60000
        Fashion-MNIST images, which keeps the full study within ~15 minutes on one core).
    tolerance : float
        Accuracy loss still counted as "no loss" (fraction; 0.005 = 0.5 points).
    common_density : float, optional
        Schedule density at which every granularity is exported and compared on SCNN;
        default: the fine-grained no-loss density (the largest pruned schedule density when
        no pruned fine point is within tolerance).
    export_batch : int
        Test images run through each exported model (the first is simulated).
    simulate_scnn : bool
        Export and simulate (otherwise only the accuracy part is run).
    dense_control : bool
        Also fine-tune the unpruned model through the schedule (same epochs, learning rate
        and data order as the pruned branches) as a reference with the same training budget;
        adds ``dense_control`` and ``no_loss_vs_control`` to the result.
    threads : int
        torch intra-op threads during the study (restored afterwards).
    progress : bool
        Print one line per training/pruning step on stderr.

    Returns
    -------
    dict
        JSON-serialisable: ``provenance``, ``dense`` (accuracy, parameters), ``dense_control``
        (accuracy of the unpruned model fine-tuned like the branches, per schedule density,
        or None), ``no_loss_vs_control`` (no-loss densities against it, or None),
        ``accuracy[g]`` (one point per schedule density: ``target``, ``density`` achieved over
        all conv weights, ``layers`` (per-layer density and group size), ``accuracy``,
        ``accuracy_before_finetune``), ``no_loss[g]``, ``common_density`` and ``scnn`` (one
        entry per exported model: granularity, role(s), densities, accuracy, file, SCNN totals,
        per-layer cycles, ratios to fine at the common density), ``files``.

    Raises
    ------
    RealStudyError
        torch/scikit-learn missing, unknown dataset, missing Fashion-MNIST files, bad schedule,
        granularity list or other argument.
    """
    t_start = time.perf_counter()
    if dataset not in DATASETS:
        raise RealStudyError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
    sched = parse_schedule(schedule)
    grans = parse_granularities(granularities)
    defaults = DATASET_DEFAULTS[dataset]
    n_epochs = _positive_int(defaults["epochs"] if epochs is None else epochs, "epochs")
    n_ft = _positive_int(defaults["finetune_epochs"] if finetune_epochs is None
                         else finetune_epochs, "fine-tuning epochs", minimum=0)
    bs = _positive_int(defaults["batch_size"] if batch_size is None else batch_size,
                       "batch size")
    wd = tuple(defaults["width"] if width is None else width)
    n_threads = _positive_int(threads, "threads")
    n_export = _positive_int(export_batch, "export batch")
    limit = _positive_int(defaults["train_limit"] if train_limit is None else train_limit,
                          "train limit", minimum=0)
    for name, v in (("lr", lr), ("fine-tuning lr", finetune_lr)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < math.inf):
            raise RealStudyError(f"{name} must be a positive number, got {v!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or \
            not (0.0 <= tolerance < 1.0):
        raise RealStudyError(f"tolerance must be in [0, 1), got {tolerance!r}")
    if common_density is not None:
        if not any(abs(common_density - d) < 1e-12 for d in sched[1:]):
            raise RealStudyError(
                f"common density {common_density!r} is not a pruned schedule density "
                f"({', '.join(f'{d:g}' for d in sched[1:])})"
            )
    torch = _import_torch()
    data = load_dataset(dataset, root=data_root, seed=seed)
    out = Path(out_dir)

    def say(msg: str) -> None:
        if progress:
            print(f"[study {dataset} {time.perf_counter() - t_start:7.1f}s] {msg}",
                  file=sys.stderr, flush=True)

    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    try:
        torch.set_num_threads(n_threads)
        torch.use_deterministic_algorithms(True)
        result = _run(torch, data, out, seed=seed, sched=sched, grans=grans, epochs=n_epochs,
                      finetune_epochs=n_ft, batch_size=bs, width=wd, lr=float(lr),
                      finetune_lr=float(finetune_lr), train_limit=limit,
                      tolerance=float(tolerance), common_density=common_density,
                      export_batch=n_export, simulate_scnn=simulate_scnn,
                      dense_control=bool(dense_control), say=say)
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det)
    result["provenance"].update({
        "threads": n_threads,
        "elapsed_s": round(time.perf_counter() - t_start, 1),
    })
    atomic_write_json(out / "study.json", result)
    plot_accuracy(result, out / "accuracy_vs_density.png")
    return result


def _run(torch: Any, data: DatasetSplit, out: Path, *, seed: int, sched: tuple[float, ...],
         grans: list[str], epochs: int, finetune_epochs: int, batch_size: int,
         width: tuple[int, int], lr: float, finetune_lr: float, train_limit: int,
         tolerance: float, common_density: float | None, export_batch: int,
         simulate_scnn: bool, dense_control: bool,
         say: Callable[[str], None]) -> dict[str, Any]:
    xtr_np, ytr_np = data.x_train, data.y_train
    if 0 < train_limit < xtr_np.shape[0]:
        sel = np.sort(np.random.default_rng(seed).permutation(xtr_np.shape[0])[:train_limit])
        xtr_np, ytr_np = xtr_np[sel], ytr_np[sel]
    x_train = torch.from_numpy(np.ascontiguousarray(xtr_np))
    y_train = torch.from_numpy(np.ascontiguousarray(ytr_np))
    x_test = torch.from_numpy(data.x_test)
    y_test = torch.from_numpy(data.y_test)

    model = build_model(data.image_shape, data.n_classes, width=width, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    say(f"dense training: {epochs} epochs on {x_train.shape[0]} images")
    _train(torch, model, x_train, y_train, epochs=epochs, lr=lr, batch_size=batch_size,
           generator=gen)
    dense_acc = _accuracy(torch, model, x_test, y_test)
    say(f"dense accuracy {dense_acc:.4f}")
    dense_state = copy.deepcopy(model.state_dict())
    n_conv = sum(int(m.weight.numel()) for _, m in _conv_modules(torch, model))
    n_params = sum(int(p.numel()) for p in model.parameters())

    accuracy: dict[str, list[dict[str, Any]]] = {}
    snapshots: dict[tuple[str, float], dict[str, Any]] = {}
    for g in grans:
        _, dense_layers = _layer_stats(torch, model, g)
        points = [{"target": 1.0, "density": 1.0, "layers": dense_layers,
                   "accuracy": dense_acc, "accuracy_before_finetune": dense_acc}]
        branch = build_model(data.image_shape, data.n_classes, width=width, seed=seed)
        branch.load_state_dict(dense_state)
        gen_g = torch.Generator().manual_seed(seed + 1)  # same data order for every granularity
        masks = {n: np.ones(tuple(m.weight.shape), dtype=bool)
                 for n, m in _conv_modules(torch, branch)}
        for d in sched[1:]:
            t0 = time.perf_counter()
            for name, mod in _conv_modules(torch, branch):
                masks[name] = cumulative_mask(_effective_weight(mod), masks[name], d, g)
                _set_mask(torch, mod, masks[name])
            before = _accuracy(torch, branch, x_test, y_test)
            _train(torch, branch, x_train, y_train, epochs=finetune_epochs, lr=finetune_lr,
                   batch_size=batch_size, generator=gen_g)
            acc = _accuracy(torch, branch, x_test, y_test)
            density, layers = _layer_stats(torch, branch, g)
            points.append({"target": d, "density": density, "layers": layers,
                           "accuracy": acc, "accuracy_before_finetune": before})
            snapshots[(g, d)] = copy.deepcopy(branch.state_dict())
            say(f"{g:>7} d={d:<5g} achieved {density:.4f}  acc {acc:.4f} "
                f"(before fine-tuning {before:.4f})  {time.perf_counter() - t0:.1f}s")
        accuracy[g] = points

    # Dense control: the dense model fine-tuned exactly like the pruned branches (same epochs,
    # learning rate and data order) without pruning, so every schedule point has a reference
    # with the same training budget.
    control = [{"target": 1.0, "accuracy": dense_acc}]
    if dense_control:
        branch = build_model(data.image_shape, data.n_classes, width=width, seed=seed)
        branch.load_state_dict(dense_state)
        gen_c = torch.Generator().manual_seed(seed + 1)
        for d in sched[1:]:
            _train(torch, branch, x_train, y_train, epochs=finetune_epochs, lr=finetune_lr,
                   batch_size=batch_size, generator=gen_c)
            control.append({"target": d, "accuracy": _accuracy(torch, branch, x_test, y_test)})
            say(f"dense control step {len(control) - 1}: acc {control[-1]['accuracy']:.4f}")

    no_loss = {g: no_loss_density(accuracy[g], dense_acc, tolerance) for g in grans}
    no_loss_control = {
        g: no_loss_density(accuracy[g], dense_acc, tolerance,
                           references=[c["accuracy"] for c in control])
        for g in grans} if dense_control else None
    if common_density is None:
        common = no_loss["fine"]["target"]
        if common >= 1.0 and len(sched) > 1:
            common = sched[1]
    else:
        common = next(d for d in sched[1:] if abs(common_density - d) < 1e-12)

    result: dict[str, Any] = {
        "format": "scnn-sim-real-study",
        "format_version": FORMAT_VERSION,
        "provenance": {
            "scnn_sim_version": __version__,
            "torch_version": str(torch.__version__),
            "numpy_version": np.__version__,
            "seed": seed,
            "dataset": data.describe(),
            "train_images_used": int(x_train.shape[0]),
            "schedule": list(sched),
            "granularities": grans,
            "epochs": epochs,
            "finetune_epochs": finetune_epochs,
            "batch_size": batch_size,
            "lr": lr,
            "finetune_lr": finetune_lr,
            "optimizer": "Adam",
            "model": f"SmallVGG conv1({data.image_shape[0]}->{width[0]}) "
                     f"conv2({width[0]}->{width[0]}) pool conv3({width[0]}->{width[1]}) "
                     f"conv4({width[1]}->{width[1]}) pool fc, 3x3 pad 1, ReLU",
            "width": list(width),
            "deterministic_algorithms": True,
            "tolerance": tolerance,
            "mask_source": "scnn_sim.sparsity.prune (L1 group norm), cumulative",
        },
        "dense": {"accuracy": dense_acc, "conv_weights": n_conv, "parameters": n_params},
        "accuracy": accuracy,
        "dense_control": control if dense_control else None,
        "no_loss": no_loss,
        "no_loss_vs_control": no_loss_control,
        "common_density": common,
        "scnn": [],
        "files": {"json": "study.json", "plot": "accuracy_vs_density.png", "h5": []},
    }
    if simulate_scnn:
        result["scnn"] = _export_and_simulate(
            torch, data, out, dense_state, snapshots, accuracy, no_loss, grans, common,
            width=width, seed=seed, export_batch=export_batch, say=say)
        result["files"]["h5"] = [e["file"] for e in result["scnn"]]
    return result


def _model_from_state(torch: Any, data: DatasetSplit, state: dict[str, Any],
                      width: tuple[int, int], seed: int) -> Any:
    model = build_model(data.image_shape, data.n_classes, width=width, seed=seed)
    if any(k.endswith("weight_mask") for k in state):
        for _, mod in _conv_modules(torch, model):
            _set_mask(torch, mod, np.ones(tuple(mod.weight.shape), dtype=bool))
    model.load_state_dict(state)
    model.eval()
    return model


def _export_and_simulate(
    torch: Any, data: DatasetSplit, out: Path, dense_state: dict[str, Any],
    snapshots: dict[tuple[str, float], dict[str, Any]],
    accuracy: dict[str, list[dict[str, Any]]], no_loss: dict[str, dict[str, Any]],
    grans: list[str], common: float, *, width: tuple[int, int], seed: int,
    export_batch: int, say: Callable[[str], None],
) -> list[dict[str, Any]]:
    from scnn_sim.export import from_torch
    from scnn_sim.h5io import read_stored
    from scnn_sim.simulation import simulate

    # (granularity, target) -> roles; dense first, then per granularity common and own no-loss.
    wanted: dict[tuple[str, float], list[str]] = {("dense", 1.0): ["dense"]}
    for g in grans:
        wanted.setdefault((g, common), []).append("common")
        own = float(no_loss[g]["target"])
        if own < 1.0:
            wanted.setdefault((g, own), []).append("no_loss")
        else:
            wanted[("dense", 1.0)].append(f"no_loss:{g}")
    inputs = torch.from_numpy(np.ascontiguousarray(data.x_test[:export_batch]))
    prefix = data.name.replace("-", "_")
    entries: list[dict[str, Any]] = []
    for (g, target), roles in wanted.items():
        if g == "dense":
            state, point = dense_state, accuracy["fine"][0]
            fname = f"{prefix}_dense.h5"
        else:
            state = snapshots[(g, target)]
            point = next(p for p in accuracy[g] if p["target"] == target)
            fname = f"{prefix}_{g.replace(':', '-')}_d{target:.3f}.h5"
        model = _model_from_state(torch, data, state, width, seed)
        path = out / fname
        from_torch(model, inputs, path, source_model=f"SmallVGG-{data.name}",
                   granularity="dense" if g == "dense" else g,
                   density=None if g == "dense" else target)
        t0 = time.perf_counter()
        res = simulate(path, granularity=None if g == "dense" else g, count_merges=True,
                       weight_format="scnn" if g in ("dense", "fine") else "group")
        # The exported masks must be what SCNN simulated (re-pruning at the measured density
        # with the same granularity reproduces the mask exactly).
        _, stored = read_stored(path)
        layers = []
        for s, lr_ in zip(stored, res.layers, strict=True):
            mask = s.mask if s.mask is not None else np.ones(s.tensors.weights.shape, bool)
            mask_density = float(np.count_nonzero(mask)) / mask.size
            sim_density = float(lr_.record["weight_density"])
            if abs(sim_density - mask_density) > 1e-12:
                raise RealStudyError(
                    f"{path}:{s.tensors.layer.name}: simulated weight density "
                    f"{sim_density:.6f} differs from the exported mask's {mask_density:.6f}"
                )
            layers.append({"name": lr_.record["name"], "weight_density": sim_density,
                           "act_density": float(lr_.record["act_density"]),
                           "cycles": int(lr_.record["cycles"]),
                           "products": int(lr_.record["products"]),
                           "multiplier_utilization":
                               float(lr_.record["multiplier_utilization"])})
        kept = sum(ly["weight_density"] * math.prod(s.tensors.weights.shape)
                   for ly, s in zip(layers, stored, strict=True))
        total = sum(math.prod(s.tensors.weights.shape) for s in stored)
        entry = {
            "granularity": g,
            "roles": roles,
            "target": target,
            "density": kept / total,
            "accuracy": point["accuracy"],
            "file": fname,
            "weight_format": "scnn" if g in ("dense", "fine") else "group",
            "provenance": res.meta,  # scnn_sim.provenance: arch, energy values, options
            "totals": _scnn_summary(res.totals.record),
            "layers": layers,
        }
        entries.append(entry)
        say(f"SCNN {g:>7} d={target:<5g} cycles {entry['totals']['cycles']:,} "
            f"({time.perf_counter() - t0:.1f}s)")
    fine = next((e for e in entries if e["granularity"] == "fine" and "common" in e["roles"]),
                None)
    for e in entries:
        if fine is None or "common" not in e["roles"]:
            e["ratios_vs_fine"] = None
            continue
        a, f = e["totals"], fine["totals"]
        e["ratios_vs_fine"] = {
            "cycles": _ratio(a["cycles"], f["cycles"]),
            "products": _ratio(a["products"], f["products"]),
            "multiplier_utilization": _ratio(a["multiplier_utilization"],
                                             f["multiplier_utilization"]),
            "accumulator_accesses": {m: _ratio(a["accumulator_accesses"][m],
                                               f["accumulator_accesses"][m])
                                     for m in ACC_MODELS},
            "memory_references": {m: _ratio(a["memory_references"][m],
                                            f["memory_references"][m])
                                for m in ACC_MODELS},
            "dram_bits": _ratio(a["dram_bits"], f["dram_bits"]),
            "energy_pj": _ratio(a["energy_pj"]["total"], f["energy_pj"]["total"]),
        }
    return entries


# --------------------------------------------------------------------------------------------
# tables and plot


def accuracy_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Accuracy (%) and achieved density per schedule density and granularity.

    Returns
    -------
    headers, rows
        One row per target density; per granularity an ``acc [%]`` and a ``dens`` column;
        last the dense control (``dense+ft``) when the study has one.
    """
    grans = list(result["accuracy"])
    headers = ["target"]
    for g in grans:
        headers += [f"{g} acc [%]", f"{g} dens"]
    control = result.get("dense_control")
    if control:
        headers.append("dense+ft acc [%]")
    targets = [p["target"] for p in result["accuracy"][grans[0]]]
    rows: list[list[Any]] = []
    for i, t in enumerate(targets):
        row: list[Any] = [float(t)]
        for g in grans:
            p = result["accuracy"][g][i]
            row += [100.0 * p["accuracy"], float(p["density"])]
        if control:
            row.append(100.0 * control[i]["accuracy"])
        rows.append(row)
    return headers, rows


def no_loss_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Per granularity: lowest density within the tolerance of the dense accuracy.

    With a dense control, two more columns: the same against the control at each point.
    """
    dense = result["dense"]["accuracy"]
    headers = ["granularity", "no-loss target", "density", "acc [%]", "loss [pt]",
               "x fewer weights"]
    ctl = result.get("no_loss_vs_control")
    if ctl:
        headers += ["vs dense+ft: target", "loss [pt] "]
    rows = []
    for g, nl in result["no_loss"].items():
        row: list[Any] = [g, float(nl["target"]), float(nl["density"]), 100.0 * nl["accuracy"],
                          100.0 * (dense - nl["accuracy"]), 1.0 / nl["density"]]
        if ctl:
            row += [float(ctl[g]["target"]), float(ctl[g]["loss_points"])]
        rows.append(row)
    return headers, rows


def scnn_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per exported model: accuracy beside SCNN cycles, accesses and energy."""
    headers = ["model", "role", "density", "acc [%]", "cycles", "util", "products [k]",
               "acc RMW prod [k]", "acc RMW addr [k]", "acc RMW wide [k]", "mem refs prod [k]",
               "mem refs wide [k]",
               "DRAM [kbit]", "energy [uJ]", "cycles/fine", "mem refs/fine", "DRAM/fine",
               "energy/fine"]
    rows = []
    for e in result["scnn"]:
        t = e["totals"]
        q = e.get("ratios_vs_fine") or {}
        acc = t["accumulator_accesses"]

        def k(v: Any) -> Any:
            return "-" if v is None else v / 1e3

        def r(v: Any) -> Any:
            return "-" if v is None else float(v)

        rows.append([
            e["granularity"], ",".join(e["roles"]), float(e["density"]),
            100.0 * e["accuracy"], int(t["cycles"]), float(t["multiplier_utilization"]),
            t["products"] / 1e3, k(acc["per_product"]), k(acc["same_address"]),
            k(acc["wide"]), k(t["memory_references"]["per_product"]),
            k(t["memory_references"]["wide"]), t["dram_bits"] / 1e3,
            t["energy_pj"]["total"] / 1e6, r(q.get("cycles")),
            r((q.get("memory_references") or {}).get("per_product")), r(q.get("dram_bits")),
            r(q.get("energy_pj")),
        ])
    return headers, rows


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, int):
            return f"{v:,}"
        if v != 0 and abs(v) < 1e-3:
            return f"{v:.2e}"
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"

    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def text_report(result: dict[str, Any]) -> str:
    """The accuracy, no-loss and SCNN tables as plain text (what ``scnn-sim study`` prints)."""
    prov = result["provenance"]
    parts = [
        f"dataset {prov['dataset']['name']}: dense accuracy "
        f"{100 * result['dense']['accuracy']:.2f}% ({prov['epochs']} epochs, fine-tuning "
        f"{prov['finetune_epochs']} epoch(s) per step, seed {prov['seed']})",
        "",
        "test accuracy vs density (dens = achieved fraction of conv weights kept; dense+ft = "
        "the unpruned model fine-tuned like the pruned ones)",
        format_table(*accuracy_table(result)),
        "",
        f"no-loss density (lowest density within {100 * prov['tolerance']:.1f} points of "
        f"the dense model; last two columns: of dense+ft at the same step)",
        format_table(*no_loss_table(result)),
    ]
    if result["scnn"]:
        parts += ["", f"SCNN (one test image; common density {result['common_density']:g}; "
                      "ratios vs fine at the common density)",
                  format_table(*scnn_table(result))]
    return "\n".join(parts)


def markdown_summary(result: dict[str, Any]) -> str:
    """Markdown summary: provenance, accuracy table, no-loss densities, SCNN table."""
    prov = result["provenance"]
    ds = prov["dataset"]
    lines = [
        f"# Real-data granularity study: {ds['name']}",
        "",
        f"- data: {ds['source']}; {prov['train_images_used']} training / {ds['test_size']} "
        f"test images, shape {'x'.join(map(str, ds['image_shape']))}",
        f"- model: {prov['model']} ({result['dense']['conv_weights']:,} conv weights, "
        f"{result['dense']['parameters']:,} parameters)",
        f"- training: {prov['epochs']} epochs dense (Adam lr {prov['lr']:g}, batch "
        f"{prov['batch_size']}), then per schedule step: prune every conv layer, "
        f"{prov['finetune_epochs']} fine-tuning epoch(s) (lr {prov['finetune_lr']:g})",
        f"- schedule: {', '.join(f'{d:g}' for d in prov['schedule'])}; seed {prov['seed']}; "
        f"scnn-sim {prov['scnn_sim_version']}, torch {prov['torch_version']}, "
        f"{prov.get('threads', '?')} thread(s), {prov.get('elapsed_s', '?')} s",
        f"- dense test accuracy: **{100 * result['dense']['accuracy']:.2f}%**",
        "",
        "## Test accuracy vs density",
        "",
        "`dens` is the achieved fraction of all conv weights kept; `dense+ft` is the "
        "unpruned model fine-tuned exactly like the pruned ones (same epochs, learning rate "
        "and data order): the accuracy the training budget alone buys.",
        "",
        _markdown_table(*accuracy_table(result)),
        "",
        f"## No-loss density (lowest density within {100 * prov['tolerance']:.1f} points "
        "of dense)",
        "",
        "`vs dense+ft`: the same criterion against the dense control at the same schedule "
        "step (same training budget).",
        "",
        _markdown_table(*no_loss_table(result)),
    ]
    if result["scnn"]:
        lines += [
            "",
            "## SCNN (first test image)",
            "",
            f"Common density {result['common_density']:g} (role `common`) and each "
            "granularity's own no-loss density (role `no_loss`); ratios are to `fine` at the "
            "common density. Coarse granularities store weights in the group-index format. "
            "Memory references (scnn_sim.results.memory_references) are accesses at each "
            "structure's native width (accumulator, IARAM, OARAM, weight FIFO, 32-bit DRAM "
            "accesses), an accumulator read-modify-write counting as two, under the per-product "
            "(`prod`, SCNN as published) and `wide` access models; `mem refs/fine` is per "
            "product. Energy charges the accumulator per product (the default architecture's "
            "access model).",
            "",
            _markdown_table(*scnn_table(result)),
        ]
    return "\n".join(lines) + "\n"


def plot_accuracy(result: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the accuracy-vs-density plot (one line per granularity) as a PNG, atomically.

    Parameters
    ----------
    result : dict
        What :func:`run_study` returns.
    path : str or os.PathLike
        Output ``.png``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    dense = 100 * result["dense"]["accuracy"]
    tol = 100 * result["provenance"]["tolerance"]
    ticks = sorted({float(d) for d in result["provenance"]["schedule"]})
    lo = min(100 * p["accuracy"] for pts in result["accuracy"].values() for p in pts)
    hi = max(100 * p["accuracy"] for pts in result["accuracy"].values() for p in pts)
    hi = max([hi] + [100 * c["accuracy"] for c in result.get("dense_control") or []])
    markers = ("o", "s", "^", "v", "D", "x")
    # Left: the whole range (filter pruning can collapse); right: zoom on the no-loss band.
    panels = (("all points", max(0.0, lo - 2), min(100.0, hi + 1)),
              ("zoom", max(0.0, dense - 4 * max(tol, 0.5)), min(100.0, hi + 0.3)))
    for j, (label, y0, y1) in enumerate(panels):
        ax = fig.add_subplot(1, 2, j + 1)
        for i, (g, points) in enumerate(result["accuracy"].items()):
            ax.plot([p["density"] for p in points], [100 * p["accuracy"] for p in points],
                    marker=markers[i % len(markers)], markersize=4, linewidth=1.2, label=g)
        control = result.get("dense_control")
        if control:
            xs = [c["target"] for c in control]
            ax.plot(xs, [100 * c["accuracy"] for c in control], color="black",
                    linestyle=":", linewidth=1.0, marker=".", label="dense + same fine-tuning")
        ax.axhline(dense - tol, color="grey", linestyle="--", linewidth=0.8,
                   label=f"dense - {tol:g} pt")
        ax.set_xscale("log")
        ax.set_xlim(max(ticks) * 1.08, min(ticks) / 1.08)  # decreasing density to the right
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{d:g}" for d in ticks])
        ax.minorticks_off()
        ax.set_ylim(y0, y1)
        ax.set_xlabel("weight density (fraction of conv weights kept)")
        ax.set_ylabel("test accuracy [%]")
        ax.set_title(f"{result['provenance']['dataset']['name']}: accuracy vs density "
                     f"({label})", fontsize=9)
        ax.grid(True, linewidth=0.3, alpha=0.5)
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())


def load_result(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``study.json`` written by :func:`run_study`."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RealStudyError(f"{path}: cannot read study results: {exc}") from None
