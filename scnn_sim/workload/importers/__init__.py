"""Models in: turn an ONNX model or a SCALE-Sim topology CSV into scnn-sim inputs.

* :func:`~scnn_sim.workload.importers.onnx_model.import_onnx`: every ``Conv`` node of an ONNX
graph with
  its weights, and real (``images``) or synthetic input activations, written as an
  exported-layer HDF5 file (:mod:`scnn_sim.workload.h5io`), or its shapes only as a workload YAML.
* :func:`~scnn_sim.workload.importers.scalesim.import_scalesim_csv`: a SCALE-Sim topology CSV as a
  workload YAML.

Both write workload YAML through
:func:`~scnn_sim.workload.importers.workload_yaml.write_workload_yaml`,
which loads the written text back with :func:`scnn_sim.workload.shapes.load_workload` before
the file
is renamed into place, so an imported workload is always loadable by ``scnn-sim run``.
"""

from __future__ import annotations

from scnn_sim.errors import ScnnSimError

__all__ = ["ModelImportError"]


class ModelImportError(ScnnSimError):
    """A model or topology file that cannot be imported (malformed, or not modelled by SCNN)."""
