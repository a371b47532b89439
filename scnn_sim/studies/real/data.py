"""The datasets: scikit-learn's digits and Fashion-MNIST (IDX files), as float32 images."""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.studies.real.errors import RealStudyError, _import_sklearn_digits

#: Datasets :func:`run_study` knows.
DATASETS = ("digits", "fashion-mnist")


#: Debian package with the Fashion-MNIST IDX files, and its install directory.
FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


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
