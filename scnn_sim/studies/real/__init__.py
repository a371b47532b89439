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
   with :func:`scnn_sim.workload.export.from_torch` on a batch of real test images and
   simulated with
   :func:`scnn_sim.simulate` (``count_merges=True``; coarse granularities with
   ``weight_format="group"``, i.e. one index per kept group in DRAM). The first image of the
   batch is simulated.

Masks
-----
Masks are computed with :func:`scnn_sim.sparsity.pruning.prune` on the numpy weights -- the
same group
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

Modules
-------
``errors`` (:class:`RealStudyError`, lazy torch / scikit-learn imports), ``data`` (datasets),
``arguments`` (defaults, schedule and granularity checks), ``pruning`` (cumulative masks,
no-loss density), ``model`` (the CNN and its masks), ``training``, ``scnn`` (export and SCNN
simulation), ``run`` (:func:`run_study`: the pruning loop), ``report`` (tables, text and
markdown, through :func:`scnn_sim.results.tables.format_table`), ``plot`` (:func:`plot_accuracy`).
"""

from scnn_sim.engine.layer import ACC_MODELS
from scnn_sim.studies.real.arguments import (
    DATASET_DEFAULTS,
    DEFAULT_GRANULARITIES,
    DEFAULT_SCHEDULE,
    parse_granularities,
    parse_schedule,
)
from scnn_sim.studies.real.data import (
    DATASETS,
    FASHION_DEFAULT_ROOT,
    FASHION_PACKAGE,
    DatasetSplit,
    find_fashion_mnist_root,
    load_dataset,
    load_digits_dataset,
    load_fashion_mnist,
    read_idx,
)
from scnn_sim.studies.real.errors import RealStudyError
from scnn_sim.studies.real.model import build_model
from scnn_sim.studies.real.plot import plot_accuracy
from scnn_sim.studies.real.pruning import NO_LOSS_TOLERANCE, cumulative_mask, no_loss_density
from scnn_sim.studies.real.report import (
    SCNN_HEADERS,
    TABLES,
    accuracy_table,
    load_result,
    markdown_summary,
    no_loss_table,
    scnn_table,
    study_table,
    table_headers,
    text_report,
)
from scnn_sim.studies.real.run import run_study

__all__ = [
    "ACC_MODELS",
    "DATASETS",
    "DATASET_DEFAULTS",
    "DEFAULT_GRANULARITIES",
    "DEFAULT_SCHEDULE",
    "FASHION_DEFAULT_ROOT",
    "FASHION_PACKAGE",
    "NO_LOSS_TOLERANCE",
    "SCNN_HEADERS",
    "TABLES",
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
    "study_table",
    "table_headers",
    "text_report",
]
