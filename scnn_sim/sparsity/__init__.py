"""Sparsity: pruning at each granularity, compressed formats and their encoders.

``scnn_sim.sparsity`` was one module before the stage folders; its names still resolve here
(lazily, from :mod:`scnn_sim.sparsity.pruning`), so ``from scnn_sim.sparsity import X`` keeps
working.
"""

from scnn_sim import forward_names

__getattr__ = forward_names("scnn_sim.sparsity", "scnn_sim.sparsity.pruning")
