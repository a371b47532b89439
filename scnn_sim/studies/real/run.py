"""The study: dense training, the iterative pruning loop per granularity, then SCNN."""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim import __version__
from scnn_sim.outputs import atomic_write_json, file_in_dir
from scnn_sim.results.provenance import FORMAT_VERSION
from scnn_sim.studies.real.arguments import (
    DATASET_DEFAULTS,
    DEFAULT_GRANULARITIES,
    DEFAULT_SCHEDULE,
    _positive_int,
    parse_granularities,
    parse_schedule,
)
from scnn_sim.studies.real.data import DATASETS, DatasetSplit, load_dataset
from scnn_sim.studies.real.errors import RealStudyError, _import_torch
from scnn_sim.studies.real.model import (
    _conv_modules,
    _effective_weight,
    _layer_stats,
    _set_mask,
    build_model,
)
from scnn_sim.studies.real.plot import plot_accuracy
from scnn_sim.studies.real.pruning import NO_LOSS_TOLERANCE, cumulative_mask, no_loss_density
from scnn_sim.studies.real.scnn import _export_and_simulate
from scnn_sim.studies.real.training import _accuracy, _train


# Over 80 lines (147) only for its numpy docstring: the code is 58 lines.
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
        Which dataset (:mod:`scnn_sim.studies.real`).
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
    atomic_write_json(file_in_dir(out, "study.json"), result)
    plot_accuracy(result, file_in_dir(out, "accuracy_vs_density.png"))
    return result


def _prune_branch(torch: Any, model: Any, branch: Any, g: str, sched: tuple[float, ...],
                  seed: int, dense_acc: float, finetune: Callable[[Any, Any], float],
                  accuracy_of: Callable[[Any], float],
                  snapshots: dict[tuple[str, float], dict[str, Any]],
                  say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Prune ``branch`` (a copy of the dense model) at granularity ``g`` along the schedule,
    fine-tuning after each step; the accuracy points, and a snapshot per step."""
    _, dense_layers = _layer_stats(torch, model, g)
    points = [{"target": 1.0, "density": 1.0, "layers": dense_layers,
               "accuracy": dense_acc, "accuracy_before_finetune": dense_acc}]
    gen_g = torch.Generator().manual_seed(seed + 1)  # same data order for every granularity
    masks = {n: np.ones(tuple(m.weight.shape), dtype=bool)
             for n, m in _conv_modules(torch, branch)}
    for d in sched[1:]:
        t0 = time.perf_counter()
        for name, mod in _conv_modules(torch, branch):
            masks[name] = cumulative_mask(_effective_weight(mod), masks[name], d, g)
            _set_mask(torch, mod, masks[name])
        before = accuracy_of(branch)
        acc = finetune(branch, gen_g)
        density, layers = _layer_stats(torch, branch, g)
        points.append({"target": d, "density": density, "layers": layers,
                       "accuracy": acc, "accuracy_before_finetune": before})
        snapshots[(g, d)] = copy.deepcopy(branch.state_dict())
        say(f"{g:>7} d={d:<5g} achieved {density:.4f}  acc {acc:.4f} "
            f"(before fine-tuning {before:.4f})  {time.perf_counter() - t0:.1f}s")
    return points


def _dense_control(torch: Any, fresh_branch: Callable[[], Any], sched: tuple[float, ...],
                   seed: int, dense_acc: float, finetune: Callable[[Any, Any], float],
                   enabled: bool, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """The dense model fine-tuned exactly like the pruned branches (same epochs, learning rate
    and data order) without pruning, so every schedule point has a reference with the same
    training budget."""
    control: list[dict[str, Any]] = [{"target": 1.0, "accuracy": dense_acc}]
    if enabled:
        branch = fresh_branch()
        gen_c = torch.Generator().manual_seed(seed + 1)
        for d in sched[1:]:
            control.append({"target": d, "accuracy": finetune(branch, gen_c)})
            say(f"dense control step {len(control) - 1}: acc {control[-1]['accuracy']:.4f}")
    return control


def _common_density(common_density: float | None, no_loss: dict[str, dict[str, Any]],
                    sched: tuple[float, ...]) -> float:
    """The density every granularity is compared at: the given one (a schedule point), else
    fine's no-loss density (the first pruned point when fine has none)."""
    if common_density is None:
        common = float(no_loss["fine"]["target"])
        if common >= 1.0 and len(sched) > 1:
            common = sched[1]
        return common
    return next(d for d in sched[1:] if abs(common_density - d) < 1e-12)


def _provenance(torch: Any, data: DatasetSplit, *, seed: int, train_images: int,
                sched: tuple[float, ...], grans: list[str], epochs: int, finetune_epochs: int,
                batch_size: int, lr: float, finetune_lr: float, width: tuple[int, int],
                tolerance: float) -> dict[str, Any]:
    """What a study's result records about how it was made."""
    return {
        "scnn_sim_version": __version__,
        "torch_version": str(torch.__version__),
        "numpy_version": np.__version__,
        "seed": seed,
        "dataset": data.describe(),
        "train_images_used": train_images,
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
        "mask_source": "scnn_sim.sparsity.pruning.prune (L1 group norm), cumulative",
    }


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

    def fresh_branch() -> Any:
        branch = build_model(data.image_shape, data.n_classes, width=width, seed=seed)
        branch.load_state_dict(dense_state)
        return branch

    def finetune(branch: Any, gen: Any) -> float:
        _train(torch, branch, x_train, y_train, epochs=finetune_epochs, lr=finetune_lr,
               batch_size=batch_size, generator=gen)
        return float(_accuracy(torch, branch, x_test, y_test))

    def accuracy_of(branch: Any) -> float:
        return float(_accuracy(torch, branch, x_test, y_test))

    accuracy: dict[str, list[dict[str, Any]]] = {}
    snapshots: dict[tuple[str, float], dict[str, Any]] = {}
    for g in grans:
        accuracy[g] = _prune_branch(torch, model, fresh_branch(), g, sched, seed, dense_acc,
                                    finetune, accuracy_of, snapshots, say)
    control = _dense_control(torch, fresh_branch, sched, seed, dense_acc, finetune,
                             dense_control, say)
    no_loss = {g: no_loss_density(accuracy[g], dense_acc, tolerance) for g in grans}
    no_loss_control = {
        g: no_loss_density(accuracy[g], dense_acc, tolerance,
                           references=[c["accuracy"] for c in control])
        for g in grans} if dense_control else None
    common = _common_density(common_density, no_loss, sched)

    result: dict[str, Any] = {
        "format": "scnn-sim-real-study",
        "format_version": FORMAT_VERSION,
        "provenance": _provenance(
            torch, data, seed=seed, train_images=int(x_train.shape[0]), sched=sched,
            grans=grans, epochs=epochs, finetune_epochs=finetune_epochs,
            batch_size=batch_size, lr=lr, finetune_lr=finetune_lr, width=width,
            tolerance=tolerance),
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
