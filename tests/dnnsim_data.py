"""The DNNsim cross-check layers and DNNsim's golden figures, for tests and the benchmark.

Provenance: the generator is a copy of ``make_tensors.py`` of the project's DNNsim data
(``shared/data/dnnsim/make_tensors.py``; same seed, same layers, same arrays), so the tests do
not read files outside the repository. The golden figures are copied from that data's CSVs
(DNNsim ``isakedo/DNNsim`` at 4748a60, ``architecture: SCNN``, Wt = Ht = 8, I = F = 4, 32 banks):
``conv2_acc1024.csv``, ``conv2_kc8.csv``, ``aligned_acc1024.csv``, ``aligned_kc8.csv``
("Per sample scalar results" rows).
"""

from __future__ import annotations

import os

import numpy as np

W_DENS, A_DENS, SEED = 0.35, 0.50, 20240601
# name, C, K, R(=S), H(=W), stride, padding, groups; the index in this list seeds the layer
LAYERS = [
    ("conv1", 3, 96, 11, 227, 4, 0, 1),
    ("conv2", 96, 256, 5, 27, 1, 2, 2),
    ("conv3", 256, 384, 3, 13, 1, 1, 1),
    ("aligned", 64, 64, 3, 32, 1, 0, 1),
]

#: DNNsim's figures per (layer, config): config "acc1024" = out_acc_size 1024 (Kc = 64 by its
#: rule), "kc8" = out_acc_size 128 (Kc = 8). idle_* are summed over PEs x F*I multipliers.
GOLDEN = {
    ("conv2", "acc1024"): {"cycles": 165089, "mults": 35763162, "idle_conflicts": 31814048,
                           "idle_pe": 85212288, "idle_halo": 2097152, "f_loop": 3120478},
    ("conv2", "kc8"): {"cycles": 162654, "mults": 35763162, "idle_conflicts": 29012208,
                       "idle_pe": 84585136, "idle_halo": 2097152, "f_loop": 3178950},
    ("aligned", "acc1024"): {"cycles": 20849, "mults": 5814250, "idle_conflicts": 5190336,
                             "idle_pe": 7735024, "idle_halo": 524288, "f_loop": 493733},
    ("aligned", "kc8"): {"cycles": 20429, "mults": 5814250, "idle_conflicts": 4659360,
                         "idle_pe": 7416032, "idle_halo": 524288, "f_loop": 519976},
}


def make(index: int, C: int, K: int, R: int, H: int, groups: int
         ) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``[K, C/groups, R, R]`` and activations ``[C, H, H]`` of layer ``index``."""
    rng = np.random.default_rng([SEED, index])
    w = rng.standard_normal((K, C // groups, R, R)).astype(np.float32)
    keep = np.argsort(np.abs(w).ravel())[::-1][: int(round(W_DENS * w.size))]
    mask = np.zeros(w.size, bool)
    mask[keep] = True
    wi = np.sign(w) * (1.0 + np.floor(np.abs(w) * 32.0))
    w = np.where(mask.reshape(w.shape), wi, 0.0).astype(np.float32)
    a = 1.0 + np.floor(np.abs(rng.standard_normal((C, H, H))) * 64.0)
    am = np.zeros(a.size, bool)
    am[rng.permutation(a.size)[: int(round(A_DENS * a.size))]] = True
    a = np.where(am.reshape(a.shape), a, 0.0).astype(np.float32)
    return w, a


def write_npz(out: str | os.PathLike, names: list[str] | None = None) -> dict[str, str]:
    """Write ``<layer>.npz`` files into ``out``; return layer name -> path."""
    os.makedirs(out, exist_ok=True)
    paths = {}
    for i, (name, C, K, R, H, st, pad, g) in enumerate(LAYERS):
        if names and name not in names:
            continue
        w, a = make(i, C, K, R, H, g)
        path = os.path.join(out, f"{name}.npz")
        np.savez(path, weights=w, activations=a, C=C, K=K, R=R, S=R, H=H, W=H, stride=st,
                 padding=pad, groups=g)
        paths[name] = path
    return paths


def ours(record: dict, arch: dict) -> dict[str, int]:
    """A layer record of scnn-sim in DNNsim's units (its column names)."""
    n = (arch["pe_array"]["rows"] * arch["pe_array"]["cols"] * arch["multiplier"]["F"]
         * arch["multiplier"]["I"])
    bd = record["cycle_breakdown"]
    return {"cycles": record["cycles"], "mults": record["on_plane_products"],
            "idle_conflicts": round(bd["conflict_stall"] * n),
            "idle_pe": round(bd["barrier_idle"] * n), "idle_halo": bd["halo"] * n,
            "f_loop": record["vector_pairs"]}
