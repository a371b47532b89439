"""Start-up cost of the validation library: msgspec (what scnn-sim uses) against pydantic.

Every ``scnn-sim run`` validates an architecture, so the library's import is part of every
process's fixed cost. Each sample is a fresh process that, after numpy and PyYAML are loaded
(scnn-sim loads them anyway), imports the library, declares a one-field model and validates
one mapping; the figure is the median over ``--repeat`` processes of that part alone.
pydantic is measured where it is installed (``pip install pydantic``), else skipped. JSON to
benchmarks/out/bench_validation_import.json (``--refresh``: benchmarks/results/).

    python benchmarks/bench_validation_import.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys

from _common import results_dir

OUT = results_dir() / "bench_validation_import.json"  # benchmarks/out unless --refresh

PRELUDE = "import time, numpy, yaml\nt0 = time.perf_counter()\n"
CHILD = {
    "msgspec": PRELUDE + (
        "import msgspec\n"
        "class M(msgspec.Struct):\n    banks: int\n"
        "msgspec.convert({'banks': 32}, M)\n"),
    "pydantic": PRELUDE + (
        "import pydantic\n"
        "class M(pydantic.BaseModel):\n    banks: int\n"
        "M.model_validate({'banks': 32})\n"),
}
EPILOGUE = "print(time.perf_counter() - t0)\n"


def sample(lib: str) -> float:
    """Seconds of import + model + validation in one fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD[lib] + EPILOGUE], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="processes per library (median)")
    args = ap.parse_args()
    libs = [lib for lib in CHILD if importlib.util.find_spec(lib) is not None]
    samples: dict[str, list[float]] = {lib: [] for lib in libs}
    for _ in range(args.repeat):          # alternate, so both see the same machine
        for lib in libs:
            samples[lib].append(sample(lib))
    res = {}
    for lib in CHILD:
        if lib not in libs:
            print(f"{lib:9s} not installed (skipped)")
            continue
        version = subprocess.run([sys.executable, "-c", f"import {lib}; print({lib}.__version__"
                                  f" if hasattr({lib}, '__version__') else {lib}.VERSION)"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        med = statistics.median(samples[lib])
        res[lib] = {"version": version, "median_s": med, "samples_s": samples[lib]}
        print(f"{lib:9s} {version:8s} {med * 1e3:6.1f} ms  (median of {args.repeat})")
    OUT.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
