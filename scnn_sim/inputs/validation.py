"""Declared input models -> validated values, with one-line errors.

Every input kind (architecture, workload, energy table, ERT mapping, sweep spec) is declared
once, as msgspec ``Struct`` classes beside its loader: their annotations state the allowed
values (types, ranges, choices, required keys) and their defaults, and ``scnn_sim.results.schemas``
turns the same classes into JSON Schema. :func:`convert` validates parsed YAML against one and
turns msgspec's error into one line::

    FILE:field.path: must be ALLOWED, got VALUE
    FILE:field.path: missing required key (DESCRIPTION)
    FILE:field.path: unknown key (allowed: a, b, c)

The allowed values are described from the model itself (:func:`describe`), so a message can
never disagree with the schema. Checks a schema cannot state (one field against another, names
that refer to other entries) stay as code run after the model, with messages of the same shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from scnn_sim.errors import ConfigError, ScnnSimError

__all__ = ["PositiveInt", "NonNegativeInt", "Fraction", "NonEmptyStr", "NonNegativeNumber",
           "PositiveNumber", "MAX_NUMBER", "convert", "describe", "shown", "dotted",
           "FieldPath", "MAX_DEPTH", "check_finite"]

T = TypeVar("T")

#: One step of a field path: a key (str) or a list index (int).
FieldPath = tuple[str | int, ...]

#: Reusable constrained types (JSON Schema: minimum / maximum / pattern).
PositiveInt = Annotated[int, Meta(ge=1)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]
NonEmptyStr = Annotated[str, Meta(pattern=r"\S")]

#: The number rule: every configuration number is finite (``.inf``, ``1e400`` and ``.nan``
#: are refused by :func:`convert` wherever they appear) and at most this large in magnitude:
#: far above any physical value of a unit scnn-sim reads (pJ, GHz, bytes, GB/s) and far enough
#: below float64's 1.8e308 that a price times 1e12 actions, summed, stays finite.
MAX_NUMBER = 1e18
NonNegativeNumber = Annotated[float, Meta(ge=0, le=MAX_NUMBER)]
PositiveNumber = Annotated[float, Meta(gt=0, le=MAX_NUMBER)]


def dotted(path: FieldPath) -> str:
    """``("a", 0, "b")`` -> ``"a[0].b"`` (the default way a field path is printed)."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def shown(value: Any, limit: int = 80) -> str:
    """A bad value as the message shows it: ``repr`` (NaN as ``NaN``), cut at ``limit``."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def convert(data: Any, model: type[T], where: str, error: type[ScnnSimError] = ConfigError,
            *, prefix: FieldPath = (), what: str = "the file",
            render: Callable[[FieldPath], str] = dotted) -> T:
    """Validate ``data`` (parsed YAML) into ``model``; raise ``error`` with one line on failure.

    Parameters
    ----------
    data
        The parsed mapping (or any value).
    model
        A msgspec ``Struct`` class (or any type msgspec converts to).
    where
        The file (or other origin) that every message starts with.
    error
        The :class:`~scnn_sim.errors.ScnnSimError` subclass to raise.
    prefix
        Field path of ``data`` inside its file (messages show ``prefix + path``).
    what
        How a message calls the whole of ``data`` when it has the wrong type
        (``"FILE: the spec must be a mapping ..."``).
    render
        Turns a field path into its printed form (default :func:`dotted`).

    Returns
    -------
    An instance of ``model`` (defaults filled in).
    """
    bad = _first_non_finite(data, where, error, prefix, render)  # refuses cycles, depth
    try:
        out = msgspec.convert(data, model)
    except msgspec.ValidationError as exc:
        raise error(_message(str(exc), data, model, where, prefix, what, render)) from None
    except Exception as exc:  # noqa: BLE001 - objects msgspec cannot inspect (arrays, ...)
        text = " ".join(str(exc).split())[:120]
        raise error(f"{where}: {what} must be plain data (mappings, lists, numbers, text), "
                    f"got {type(data).__name__} ({type(exc).__name__}: {text})") from None
    if bad is not None:  # the model allowed it (no bound, or an untyped field): still refused
        _fail_non_finite(bad, where, error, prefix, render)
    return out


def check_finite(data: Any, where: str, error: type[ScnnSimError] = ConfigError, *,
                 prefix: FieldPath = (), render: Callable[[FieldPath], str] = dotted) -> None:
    """The number rule, applied to parsed input: no infinite or NaN number anywhere
    (``.inf``, ``1e400`` parsed as inf, ``.nan``), no nesting deeper than :data:`MAX_DEPTH`
    and no structure containing itself (a recursive YAML alias). :func:`convert` applies it
    to every input model.

    Raises
    ------
    ScnnSimError
        ``error``: ``where:field.path: must be a finite number, got inf``.
    """
    bad = _first_non_finite(data, where, error, prefix, render)
    if bad is not None:
        _fail_non_finite(bad, where, error, prefix, render)


#: Deepest nesting an input may have (the deepest model is a handful of levels).
MAX_DEPTH = 64


def _loc(where: str, prefix: FieldPath, path: FieldPath,
         render: Callable[[FieldPath], str]) -> str:
    full = prefix + path
    return f"{where}:{render(full)}" if full else where


def _fail_non_finite(bad: tuple[FieldPath, float], where: str, error: type[ScnnSimError],
                     prefix: FieldPath, render: Callable[[FieldPath], str]) -> None:
    path, value = bad
    raise error(f"{_loc(where, prefix, path, render)}: must be a finite number, "
                f"got {shown(value)}")


def _first_non_finite(data: Any, where: str, error: type[ScnnSimError], prefix: FieldPath,
                      render: Callable[[FieldPath], str]) -> tuple[FieldPath, float] | None:
    """The first infinite or NaN number in ``data`` (path, value), or None; raises ``error``
    for a structure nested deeper than :data:`MAX_DEPTH` or containing itself. Containers
    shared through YAML aliases are walked once."""
    done: set[int] = set()
    found: list[tuple[FieldPath, float]] = []

    def walk(value: Any, path: FieldPath, ancestors: frozenset[int]) -> None:
        if isinstance(value, float):
            if not math.isfinite(value) and not found:
                found.append((path, value))
            return
        if not isinstance(value, (dict, list, tuple)) or id(value) in done:
            return
        if id(value) in ancestors:
            raise error(f"{_loc(where, prefix, path, render)}: refers to itself (a recursive "
                        f"YAML alias)")
        if len(path) >= MAX_DEPTH:
            raise error(f"{_loc(where, prefix, path, render)}: nested deeper than "
                        f"{MAX_DEPTH} levels")
        inner = ancestors | {id(value)}
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            walk(v, (*path, k if isinstance(k, (str, int)) else str(k)), inner)
        done.add(id(value))

    walk(data, (), frozenset())
    return found[0] if found else None


# ------------------------------------------------------------------------------ messages

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`(?: in `(?P<parent>[^`]*)`)?)?$")


def _message(text: str, data: Any, model: Any, where: str, prefix: FieldPath, what: str,
             render: Callable[[FieldPath], str]) -> str:
    import msgspec.inspect as mi

    m = _AT.match(text)
    msg, raw = (m["msg"], m["path"]) if m else (text, None)
    key_error = m is not None and m["parent"] is not None   # "- at `key` in `$.x`"
    root = mi.type_info(model)
    path = _dict_keys(_parse(m["parent"] if m is not None and key_error else (raw or "$"), root),
                      data, model,
                      text)

    def loc(p: FieldPath) -> str:
        full = prefix + p
        return f"{where}:{render(full)}" if full else where

    if key_error:
        parent = _value_at(data, path)
        bad = next((k for k in parent if not isinstance(k, str)), None) \
            if isinstance(parent, dict) else None
        return f"{loc(path)}: keys must be text, got {shown(bad)}"
    field = re.fullmatch(r"Object (missing required|contains unknown) field `(.*)`", msg)
    if field:
        struct = _member(_type_at(root, path), str)
        names = [f.encode_name for f in struct.fields] if isinstance(struct, mi.StructType) else []
        if field[1] == "contains unknown":
            shown_names = names if len(names) <= 20 else names[:16] + [
                f"... and {len(names) - 16} more"]
            return f"{loc(path + (field[2],))}: unknown key (allowed: {', '.join(shown_names)})"
        info = next(f for f in struct.fields if f.encode_name == field[2])
        hint = _doc(info.type)
        return f"{loc(path + (field[2],))}: missing required key" + (f" ({hint})" if hint else "")
    value = _value_at(data, path)
    allowed = describe(_type_at(root, path))
    if not msg.startswith(("Expected", "Invalid enum value")):   # a __post_init__ ValueError
        return f"{loc(path)}: {msg}"
    if not path and not prefix:
        return f"{where}: {what} must be {allowed}, got {type(value).__name__}"
    return f"{loc(path)}: must be {allowed}, got {shown(value)}"


def _parse(text: str, root: Any) -> FieldPath:
    """msgspec's ``$.a[0].b`` -> ``("a", 0, "b")``, reading struct field names (which may
    contain dots, e.g. ``vary.pe_array.rows``) from the model."""
    import msgspec.inspect as mi

    rest = text.removeprefix("$")
    path: list[str | int] = []
    t = root
    while rest:
        if m := re.match(r"\[(\d+)\]", rest):
            path.append(int(m[1]))
            rest = rest[m.end():]
        elif rest.startswith("[...]"):   # a dict value: msgspec does not say which key
            path.append("...")
            rest = rest[5:]
        else:
            rest = rest[1:]                                  # the dot
            struct = _unwrap(_member(t, str))
            names = [f.encode_name for f in struct.fields] \
                if isinstance(struct, mi.StructType) else []
            name = max((n for n in names if rest == n or rest.startswith((n + ".", n + "["))),
                       key=len, default=None) or re.split(r"[.\[]", rest, maxsplit=1)[0]
            path.append(name)
            rest = rest[len(name):]
        t = _type_at(t, tuple(path[-1:]))
    return tuple(path)


def _dict_keys(path: FieldPath, data: Any, model: Any, text: str) -> FieldPath:
    """Name the key behind each ``[...]`` step (msgspec does not say which value of a dict
    failed): the first key whose value alone, put back into ``data``, fails the same way."""
    while "..." in path:
        i = path.index("...")
        parent = _value_at(data, path[:i])
        if not isinstance(parent, dict):
            return path
        for key, value in parent.items():
            try:
                msgspec.convert(_replaced(data, path[:i], {key: value}), model)
            except msgspec.ValidationError as exc:
                if str(exc) == text:
                    path = path[:i] + (key,) + path[i + 1:]
                    break
        else:
            return path
    return path


def _replaced(data: Any, path: FieldPath, value: Any) -> Any:
    """A copy of ``data`` with the value at ``path`` replaced (containers on the way copied)."""
    if not path:
        return value
    out: Any = dict(data) if isinstance(data, dict) else list(data)
    out[path[0]] = _replaced(data[path[0]], path[1:], value)
    return out


def _unwrap(t: Any) -> Any:
    import msgspec.inspect as mi

    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def _member(t: Any, step_kind: type) -> Any:
    """The member of a union a path step of kind ``str`` (key) or ``int`` (index) goes into."""
    import msgspec.inspect as mi

    t = _unwrap(t)
    if isinstance(t, mi.UnionType):
        want = (mi.StructType, mi.DictType) if step_kind is str else (mi.ListType, mi.TupleType)
        return next((m for m in map(_unwrap, t.types) if isinstance(m, want)), t)
    return t


def _type_at(t: Any, path: FieldPath) -> Any:
    import msgspec.inspect as mi

    for step in path:
        t = _member(t, type(step))
        if isinstance(t, mi.StructType):
            t = next((f.type for f in t.fields if f.encode_name == step), mi.AnyType())
        elif isinstance(t, mi.DictType):
            t = t.value_type
        elif isinstance(t, mi.ListType):
            t = t.item_type
        elif isinstance(t, mi.TupleType) and isinstance(step, int) and step < len(t.item_types):
            t = t.item_types[step]
        else:
            return mi.AnyType()
    return t


def _value_at(data: Any, path: FieldPath) -> Any:
    for step in path:
        if isinstance(data, dict) and step in data:
            data = data[step]
        elif isinstance(data, (list, tuple)) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            return None
    return data


def _doc(t: Any) -> str:
    import msgspec.inspect as mi

    while isinstance(t, mi.Metadata):
        if t.extra_json_schema and "description" in t.extra_json_schema:
            return t.extra_json_schema["description"]
        t = t.type
    return ""


# ------------------------------------------------------------------------------ describe


def _num(x: float) -> str:
    if isinstance(x, int) and x >= 2 ** 20 and x & (x - 1) == 0:
        return f"2**{x.bit_length() - 1}"
    return f"{x:g}" if isinstance(x, float) else str(x)


def _plain(values: Sequence[Any]) -> str:
    return ", ".join("null" if v is None else str(v) for v in values)


def describe(t: Any) -> str:
    """What a declared type allows, in words: ``"a positive integer"``, ``"one of a, b"``,
    ``"a number in [0, 1]"``, ``"auto or a positive integer"``... An ``Annotated`` type with
    ``Meta(extra={"allowed": TEXT})`` says TEXT instead."""
    import msgspec.inspect as mi

    while isinstance(t, mi.Metadata):
        if t.extra and "allowed" in t.extra:
            return t.extra["allowed"]
        t = t.type
    if isinstance(t, mi.IntType):
        lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else None)
        hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else None)
        word = {0: "a non-negative integer", 1: "a positive integer"}.get(lo) \
            if lo is not None else None
        if word:
            return word + (f" up to {_num(hi)}" if hi is not None else "")
        if lo is not None and hi is not None:
            return f"an integer in [{_num(lo)}, {_num(hi)}]"
        return "an integer" + (f" >= {_num(lo)}" if lo is not None else "") \
            + (f" <= {_num(hi)}" if hi is not None else "")
    if isinstance(t, mi.FloatType):
        if t.le == MAX_NUMBER:   # the number rule's bound: say "finite", not 1e+18
            low = "a finite positive number" if t.gt == 0 else "a finite number"
            return low + (f" >= {_num(t.ge)}" if t.ge is not None else "") + (
                f" > {_num(t.gt)}" if t.gt not in (None, 0) else "")
        if t.ge is not None and t.le is not None:
            return f"a number in [{_num(t.ge)}, {_num(t.le)}]"
        if t.gt == 0 and t.le is None:
            return "a positive number"
        parts = [f"{op} {_num(v)}" for op, v in ((">=", t.ge), (">", t.gt), ("<=", t.le),
                                                 ("<", t.lt)) if v is not None]
        return "a number" + (" " + " and ".join(parts) if parts else "")
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.StrType):
        return "a non-empty string" if t.pattern == r"\S" or t.min_length else "text"
    if isinstance(t, mi.LiteralType):
        return _plain(t.values) if len(t.values) == 1 else f"one of {_plain(t.values)}"
    if isinstance(t, mi.NoneType):
        return "null"
    if isinstance(t, mi.UnionType):
        return " or ".join(describe(m) for m in t.types)
    if isinstance(t, mi.ListType):
        return "a non-empty list" if t.min_length else "a list"
    if isinstance(t, mi.TupleType):
        return f"a list of {len(t.item_types)} values"
    if isinstance(t, mi.StructType):
        return f"a mapping (keys: {', '.join(f.encode_name for f in t.fields)})"
    if isinstance(t, mi.DictType):
        return "a mapping"
    return "a valid value"
