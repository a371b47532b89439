"""Workloads: layer shapes, tensors, layer files (HDF5, .npz) and the model importers.

``scnn_sim.workload`` was one module before the stage folders; its names still resolve here
(lazily, from :mod:`scnn_sim.workload.shapes`), so ``from scnn_sim.workload import X`` keeps
working.
"""

from scnn_sim import forward_names

__getattr__ = forward_names("scnn_sim.workload", "scnn_sim.workload.shapes")
