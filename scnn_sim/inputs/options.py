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
  (:func:`add_cli_options`: flag, metavar, help, default and a parser that checks the value
  as the model does, so a bad value is refused by argparse before any work);
- the options of a sweep point (:mod:`scnn_sim.sweep.point`) and of the granularity study.

Checks of one option against another (a granularity that fixes the density, ``nm:2:4``) and
of an option against the workload (a layer name) run after the model, in
:mod:`scnn_sim.simulation`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, get_type_hints

import msgspec
from msgspec import Meta

from scnn_sim.errors import ConfigError
from scnn_sim.inputs.validation import convert

__all__ = ["DEFAULT_WEIGHT_FORMAT", "WEIGHT_FORMATS", "OptionError", "SimOptions",
           "OPTION_DEFAULTS", "OPTION_TYPES", "add_cli_options", "check_option",
           "cli_parser", "options_from_args", "sim_options"]

#: DRAM weight formats: ``group`` (one index per kept group of a coarse granularity; the same
#: as ``scnn`` for fine pruning) and ``scnn`` (SCNN's per-weight zero runs).
WEIGHT_FORMATS = ("group", "scnn")

#: The one default of ``run``, ``granularity``, ``sweep`` and :func:`scnn_sim.simulate`:
#: coarse pruning is worth studying because it saves index bits, so a coarse granularity is
#: stored with one index per kept group unless asked otherwise.
DEFAULT_WEIGHT_FORMAT = "group"


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
    weight_format: Annotated[Literal[WEIGHT_FORMATS], _opt(
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
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    if name == "layers" and value is not None and not isinstance(value, (str, dict)):
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


# ------------------------------------------------------------------------------ command line


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parser(name: str, parse: Callable[[str], Any], what: str,
            check: bool) -> Callable[[str], Any]:
    """argparse ``type=``: parse the text; with ``check``, also check it as the model does
    (the other options are checked by the model when the command builds its SimOptions)."""
    def parse_and_check(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not check:
            return value
        try:
            return check_option(name, value)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name}: ")) from None
    parse_and_check.__name__ = name  # argparse names the type in some messages
    return parse_and_check


#: option -> (parser of its text, what the text must be, checked by argparse). Only the seed
#: is refused by argparse itself, as before SimOptions; the others reach the model.
_PARSE: dict[str, tuple[Callable[[str], Any], str, bool]] = {
    "seed": (int, "an integer", True), "pointwise_group": (int, "an integer", False),
    "clustered": (float, "a number", False), "density": (float, "a number", False),
    "layers": (lambda t: [s for s in t.split(",") if s] or None, "a list of names", False),
}


def cli_parser(name: str) -> Callable[[str], Any]:
    """The argparse ``type=`` of option ``name`` (parses the text, checks it as the model)."""
    return _parser(name, *_PARSE[name])


def add_cli_options(p: argparse.ArgumentParser, names: Iterable[str],
                    helps: dict[str, str] | None = None) -> None:
    """Add the command-line options of these :class:`SimOptions` fields to ``p``.

    The flag is the field name with dashes, the help, metavar, default and allowed values
    are the field's (``helps`` may word a help text for the command); booleans are switches
    (``count_merges``: on or not given, ``None``); ``arch`` may be repeated (merged in order).
    """
    info = {f.name: f for f in msgspec.structs.fields(SimOptions)}
    hints = get_type_hints(SimOptions, include_extras=True)
    for name in names:
        f = info[name]
        meta = _meta(hints[name])
        text = (helps or {}).get(name, meta.description)
        kw: dict[str, Any] = {"default": f.default, "help": text}
        if meta.extra and meta.extra.get("metavar"):
            kw["metavar"] = meta.extra["metavar"]
        if name == "arch":
            kw["action"] = "append"
        elif name == "weight_format":
            kw["choices"] = WEIGHT_FORMATS
        elif name in ("verify", "count_merges"):
            kw = {"action": "store_const", "const": True, "default": f.default, "help": text}
        elif name in _PARSE:
            kw["type"] = _parser(name, *_PARSE[name])
        p.add_argument(_flag(name), **kw)


def _meta(hint: Any) -> Meta:
    """The field's own (outermost) :class:`msgspec.Meta`: help text and metavar."""
    return next(m for m in reversed(hint.__metadata__) if isinstance(m, Meta))


def options_from_args(args: argparse.Namespace, **more: Any) -> SimOptions:
    """The :class:`SimOptions` of parsed command-line arguments (fields not on the command
    line keep their defaults; ``more`` overrides)."""
    values = {f: getattr(args, f) for f in SimOptions.__struct_fields__ if hasattr(args, f)}
    return sim_options(**{**values, **more})
