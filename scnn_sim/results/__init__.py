"""Results: typed records, the HDF5/CSV/JSON writers, compare, provenance and schemas.

``scnn_sim.results`` was one module before the stage folders; its names still resolve here
(lazily, from :mod:`scnn_sim.results.records`), so ``from scnn_sim.results import X`` keeps working.
"""

from scnn_sim import forward_names

__getattr__ = forward_names("scnn_sim.results", "scnn_sim.results.records")
