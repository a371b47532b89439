"""What kind of file is this? Recognised by content, so a file given to the wrong command is
named, with the command that takes it, instead of failing as "not UTF-8 text" or "unknown key".

:func:`sniff` reads at most the first 64 KiB (and a zip's member list): binary formats by their
magic bytes (HDF5, SQLite, NumPy ``.npy``, zip archives: ``.npz`` or a PyTorch checkpoint, ONNX's
protobuf), scnn-sim's text inputs by their top-level YAML keys (a sweep spec has
``workloads:``, a workload ``layers:``, an energy table ``actions:``, an architecture only its
own sections) and its JSON results by their ``format``. :func:`refuse_other_kind` is called
where an input is opened (workload and sweep-spec loaders) and raises the caller's error.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from scnn_sim.errors import ScnnSimError

__all__ = ["KINDS", "describe", "refuse_other_kind", "sniff"]

#: kind -> (what the file is, which command takes it; ``{f}`` is the file as given).
KINDS: dict[str, tuple[str, str]] = {
    "onnx": ("an ONNX model", "convert it first: scnn-sim import {f} -o NET.h5 (or "
             "--shapes-only -o NET.yaml), then scnn-sim run NET.h5"),
    "npy": ("a NumPy array (.npy)", "scnn-sim import takes it as --images (input images of "
            "an ONNX or torchvision model); a layer to simulate is a .npz (weights, "
            "activations and its shape)"),
    "npz": ("a NumPy .npz archive", "scnn-sim run, storage and granularity take a one-layer "
            ".npz"),
    "torch": ("a PyTorch checkpoint", "scnn-sim import torchvision:NAME --weights {f} -o "
              "NET.h5 reads it; for your own model class use "
              "scnn_sim.workload.export.from_torch"),
    "zip": ("a zip archive", "no scnn-sim command reads it"),
    "hdf5": ("an HDF5 file", "scnn-sim run takes an exported-layer .h5; plot and compare "
             "read result tables (.h5)"),
    "sqlite": ("an SQLite file (a sweep store)", "scnn-sim plot {f} and load_sweep_results "
               "read it; scnn-sim sweep SPEC -o {f} resumes into it"),
    "sweep": ("a sweep spec", "run it with scnn-sim sweep {f}"),
    "workload": ("a workload", "simulate it with scnn-sim run {f}, or name it in a sweep "
                 "spec's workloads: list"),
    "arch": ("an architecture", "give it with --arch {f} (scnn-sim run, granularity, arch) or "
             "arch: in a sweep spec"),
    "energy": ("an energy table", "give it with --energy {f} (scnn-sim run; scnn-sim energy "
               "{f} checks it) or energy: in a sweep spec"),
    "results": ("a scnn-sim results JSON", "scnn-sim plot and compare read it"),
}

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_ARCH_SECTIONS = {"pe_array", "multiplier", "data", "accumulator", "buffers", "dram",
                  "dataflow"}
_ARCH_KEYS = _ARCH_SECTIONS | {"name", "clock_ghz"}
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.M)


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return "zip"
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "torch"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    return "zip"


def _text_kind(text: str) -> str | None:
    stripped = text.lstrip()
    if stripped.startswith("{") and '"format"' in stripped[:4096]:
        if re.search(r'"format"\s*:\s*"scnn-sim-(results|granularity)', stripped[:4096]):
            return "results"
    keys = set(_TOP_KEY.findall(text))
    if "workloads" in keys:
        return "sweep"
    if "layers" in keys:
        return "workload"
    if "actions" in keys:
        return "energy"
    if keys and keys <= _ARCH_KEYS and keys & _ARCH_SECTIONS:
        return "arch"
    return None


def sniff(path: str | os.PathLike) -> str | None:
    """The kind of file at ``path`` (a key of :data:`KINDS`), or None if unknown or unreadable.

    Reads at most 64 KiB; never raises for an unreadable or missing file (the caller's own
    loader reports those).
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(p)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) < 65536 or exc.start < len(head) - 3:  # not a character cut at 64 KiB
            # ONNX is a protobuf ModelProto: field 1 (ir_version, varint) comes first.
            return "onnx" if head[:1] == b"\x08" or p.suffix.lower() == ".onnx" else None
        text = head[:exc.start].decode("utf-8")
    return _text_kind(text)


def describe(kind: str, shown: str) -> tuple[str, str]:
    """(what the file is, which command takes it) for a kind of :data:`KINDS`."""
    what, takes = KINDS[kind]
    return what, takes.format(f=shown)


def refuse_other_kind(path: str | os.PathLike, shown: str, expected: str,
                      error: type[ScnnSimError], accepted: tuple[str, ...] = ()) -> None:
    """Raise ``error`` naming the file's kind and the command that takes it when ``path`` is
    recognisably another kind of file than ``expected`` (nor one of ``accepted``).

    An unrecognised file passes: the caller's loader reports what is wrong with it.
    """
    kind = sniff(path)
    if kind is None or kind == expected or kind in accepted:
        return
    what, takes = describe(kind, shown)
    raise error(f"{shown}: {what}, not {KINDS[expected][0]}; {takes}")
