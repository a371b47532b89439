"""The simulation options, declared once: :class:`SimOptions`.

Every option of a simulation -- what to simulate with (architecture, energy and area tables),
how to prune (granularity, density, weight format, pointwise group), the synthetic tensors
(seed, clustering), which layers, and what to count or check (count-merges, verify) -- is one
field here, with its default, its allowed values (``Annotated[..., Meta(...)]``) and its help
text. From this one declaration come:

- the validation of :func:`scnn_sim.simulate`'s keywords (:func:`sim_options`), with one error
  type, :class:`OptionError`, naming the option: ``density: must be a number in [0, 1] or
  null, got 1.5``;
- the command-line options of ``run``, ``granularity`` and the commands built on them
  (:func:`scnn_sim.commands.options.add_cli_options`: flag, metavar, help and default of
  each field);
- the options of a sweep point (:mod:`scnn_sim.sweep.point`) and of the granularity study.

Checks of one option against another (a granularity that fixes the density, ``nm:2:4``) and
of an option against the workload (a layer name) run after the model, in
:mod:`scnn_sim.simulation`.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal, get_args, get_type_hints

import msgspec
import numpy as np
from msgspec import Meta

from scnn_sim.errors import ConfigError
from scnn_sim.inputs.validation import convert

__all__ = ["DEFAULT_WEIGHT_FORMAT", "WEIGHT_FORMATS", "OptionError", "SimOptions",
           "OPTION_DEFAULTS", "OPTION_TYPES", "check_option", "sim_options"]

#: DRAM weight formats: ``group`` (one index per kept group of a coarse granularity; the same
#: as ``scnn`` for fine pruning) and ``scnn`` (SCNN's per-weight zero runs).
WeightFormat = Literal["group", "scnn"]
WEIGHT_FORMATS: tuple[str, ...] = get_args(WeightFormat)

#: The one default of ``run``, ``granularity``, ``sweep`` and :func:`scnn_sim.simulate`:
#: coarse pruning is worth studying because it saves index bits, so a coarse granularity is
#: stored with one index per kept group unless asked otherwise.
DEFAULT_WEIGHT_FORMAT: WeightFormat = "group"


class OptionError(ConfigError):
    """A simulation option of the wrong type or out of range (names the option)."""


def _opt(help: str, metavar: str | None = None, **constraints: Any) -> Meta:
    """A field's help text (also its schema description) and its command-line metavar."""
    return Meta(description=help, extra={"metavar": metavar}, **constraints)


class SimOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """How to simulate a workload (everything but the workload itself). The fields are in
    the order ``scnn-sim run --help`` lists them."""

    arch: Annotated[str | list[str | dict[str, Any]] | dict[str, Any] | None, _opt(
        "architecture: a shipped name (scnn, dnnsim) or a YAML path; repeat to merge several, "
        "later ones override earlier ones (default: scnn)", "NAME|ARCH.yaml")] = None
    energy: Annotated[str | None, _opt(
        "energy table: aladdin40 (default), horowitz45, accelergy45 or a YAML path",
        "TABLE")] = None
    seed: Annotated[int, _opt("seed of synthetic tensors, >= 0 (default 0)", ge=0)] = 0
    clustered: Annotated[float, _opt(
        "spatial clustering of synthetic activations, 0..1 (default 0)", ge=0.0,
        le=1.0)] = 0.0
    pointwise_group: Annotated[int, _opt(
        "vector/kernel groups on 1x1 layers: N consecutive input channels", "N", ge=1)] = 1
    layers: Annotated[list[str] | None, _opt(
        "simulate only these conv layers (comma-separated names)", "A,B")] = None
    area: Annotated[str | None, _opt(
        "area table: scnn16 (default, SCNN's Table 4) or a YAML path", "TABLE")] = None
    granularity: Annotated[str | None, _opt(
        "prune weights at this granularity (fine, vector, kernel, filter, channel, "
        "block:AxBxCxD, nm:N:M)")] = None
    density: Annotated[Annotated[float, Meta(ge=0.0, le=1.0)] | None, _opt(
        "weight density for every layer (default: each layer's own)")] = None
    weight_format: Annotated[WeightFormat, _opt(
        "DRAM weight format of coarse granularities: group (one index per kept group; the "
        "same as scnn for fine) or scnn (per-weight zero runs); default "
        f"{DEFAULT_WEIGHT_FORMAT}")] = DEFAULT_WEIGHT_FORMAT
    verify: Annotated[bool, _opt(
        "check each layer's outputs against a dense reference convolution")] = False
    count_merges: Annotated[bool | None, _opt(
        "also count accumulator accesses of the same-address and wide models")] = None

    def kwargs(self) -> dict[str, Any]:
        """The options as keywords of :func:`scnn_sim.simulate`."""
        return {f: getattr(self, f) for f in self.__struct_fields__}


#: Each option's declared type (``Annotated``: allowed values, help) and default, for models
#: that take an option too (the sweep spec).
OPTION_TYPES: dict[str, Any] = get_type_hints(SimOptions, include_extras=True)
OPTION_DEFAULTS: dict[str, Any] = {f.name: f.default for f in msgspec.structs.fields(SimOptions)}

#: Options whose value may also be an object (an ArchConfig, an EnergyTable...) in the API.
OBJECT_OPTIONS = ("arch", "energy", "area")


def _plain(name: str, value: Any) -> Any:
    """A value as the model reads it: numpy scalars as Python ones, paths as text."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):  # a 0-d array is its scalar; others, their lists
        return value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if name == "layers" and isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if name == "arch" and isinstance(value, (list, tuple)):
        return [os.fspath(v) if isinstance(v, os.PathLike) else v for v in value]
    return value


def sim_options(**values: Any) -> SimOptions:
    """Validate option values (the keywords of :func:`scnn_sim.simulate`) into
    :class:`SimOptions`; unknown names and bad values raise :class:`OptionError`.

    ``arch``, ``energy`` and ``area`` may also be loaded objects (validated when they were
    loaded); they are kept as given.
    """
    objects = {k: values.pop(k) for k in OBJECT_OPTIONS
               if k in values and not _is_plain(values[k])}
    data = {k: _plain(k, v) for k, v in values.items()}
    try:
        opts = convert(data, SimOptions, "\0", OptionError, what="the options")
    except OptionError as exc:
        raise OptionError(str(exc).removeprefix("\0:").removeprefix("\0: ")) from None
    return msgspec.structs.replace(opts, **objects) if objects else opts


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, os.PathLike, dict)):
        return True
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, os.PathLike, dict)) for v in value)


def check_option(name: str, value: Any) -> Any:
    """One option's value, checked as :class:`SimOptions` checks it (:class:`OptionError`)."""
    return getattr(sim_options(**{name: value}), name)
