"""The command-line options of :class:`~scnn_sim.inputs.options.SimOptions`, generated from
its fields (flag, metavar, help, default), for ``run``, ``granularity`` and the commands built
on them. The options model itself knows nothing of argparse."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any, get_type_hints

import msgspec
from msgspec import Meta

from scnn_sim.inputs.options import (
    WEIGHT_FORMATS,
    OptionError,
    SimOptions,
    check_option,
    sim_options,
)

__all__ = ["add_cli_options", "cli_parser", "options_from_args"]


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
