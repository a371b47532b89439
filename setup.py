"""Package list for setuptools (metadata and dependencies are in setup.cfg).

The built-in workloads and the example sweep live in the top-level ``workloads/`` folder, the
one place users see and edit them. A wheel ships that folder as the data-only package
``scnn_sim.workloads`` (``package_dir`` maps it), so there is one copy of each file for the
checkout, an editable install, the sdist and the wheel; ``scnn_sim.workload.shapes.builtin_dir`` looks
in the installed package first, then in the checkout. setup.cfg cannot add a mapped package to
``find_namespace:``, hence this file.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["scnn_sim", "scnn_sim.*"])
    + ["scnn_sim.workloads", "scnn_sim.workloads.sweeps"],
    package_dir={"scnn_sim.workloads": "workloads"},
)
