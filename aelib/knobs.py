"""What a knob is: a ``Config`` field declared with its default, doc, roles and allowed values, and the checks
that hold every value to them.

:func:`knob` puts everything about a field into its ``metadata``, next to its default: the doc, the group and
cache-key roles (:data:`SHARED_ROLES`; ``aelib.config`` says what they mean) and what values it allows:
``choices`` (an enum), ``ge`` / ``gt`` / ``le`` / ``lt`` (inclusive / exclusive bounds of a number),
``below`` (a field this one must stay below: ``hop`` below ``n_fft``), ``pattern`` (a regular expression a
string must match in full) and ``allowed`` (the words for a pattern). The field's type (``bool``, ``int``,
``float``, ``str``, ``tuple[float, ...]``, ``dict[str, Any]``) is the rest of the contract:

- a ``bool`` takes only ``True`` / ``False``; an ``int`` only an integer (not a bool, not ``2.0``); a ``float``
  a finite int or float, kept as given (so that a run's ``params.json`` says what the user wrote); numpy
  scalars become their Python equal, a ``Path`` its string;
- a ``tuple[float, ...]`` a non-empty list or tuple of distinct finite numbers, stored as a tuple of floats.

:func:`check` raises :class:`ConfigError` (a ``ValueError``; :class:`ConfigTypeError`, also a ``TypeError``,
for a value of the wrong type) with one line naming the field, the value and what is allowed;
:func:`parse_text` reads the text of a ``--set KEY=VALUE`` as the field's type. Nothing here imports torch or
the rest of aelib.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import re
from pathlib import PurePath
from typing import Any, Callable

from .errors import UserError

#: a knob's place in the key of a cached shared stage (``aelib.config``'s docstring says why there are three)
SHARED_ROLES = {
    "always": "always in the key: it changes what a shared stage computes",
    "if_changed": "in the key only when off its default, so that stages cached before it existed keep their keys",
    "never": "not in the key: it cannot change a shared stage (each phase adds its own epochs)",
}
BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
KINDS = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
         "tuple[float, ...]": "a non-empty list of distinct finite numbers", "dict[str, Any]": "a JSON object"}


class ConfigError(UserError, ValueError):
    """A value that a ``Config`` field does not allow, or a key that is no field: a user's mistake."""


class ConfigTypeError(ConfigError, TypeError):
    """A ``ConfigError`` for a value of the wrong type (or an unknown key); also a ``TypeError``."""


def knob(default: Any = dataclasses.MISSING, doc: str = "", *, group: str, shared: str,
         input_quality: bool = False, factory: Callable[[], Any] | None = None,
         choices: tuple[str, ...] | None = None, ge: float | None = None, gt: float | None = None,
         le: float | None = None, lt: float | None = None, below: str | None = None,
         pattern: str | None = None, allowed: str | None = None) -> Any:
    """A ``Config`` field whose ``metadata`` holds its doc, group, cache-key roles and allowed values."""
    if shared not in SHARED_ROLES:
        raise ValueError(f"unknown shared role {shared!r}; choose one of {tuple(SHARED_ROLES)}")
    meta = {"doc": doc, "group": group, "shared": shared, "input_quality": input_quality,
            "choices": tuple(choices) if choices is not None else None, "ge": ge, "gt": gt, "le": le, "lt": lt,
            "below": below, "pattern": pattern, "allowed": allowed}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def allowed(f: dataclasses.Field) -> str:
    """What ``f`` allows, in words: ``"a number > 0"``, ``"one of 'kws', 'asr'"``, ``"an integer in [0, 1]"``."""
    m = f.metadata
    if m["choices"] is not None:
        return "one of " + ", ".join(repr(c) for c in m["choices"])
    if m["allowed"]:
        return m["allowed"]
    text = KINDS[f.type]
    lo = [(k, m[k]) for k in ("ge", "gt") if m[k] is not None]
    hi = [(k, m[k]) for k in ("le", "lt") if m[k] is not None]
    if lo and hi:
        (lk, lv), (hk, hv) = lo[0], hi[0]
        text += f" in {'[' if lk == 'ge' else '('}{_number(lv)}, {_number(hv)}{']' if hk == 'le' else ')'}"
    elif lo or hi:
        k, v = (lo or hi)[0]
        text += f" {BOUNDS[k]} {_number(v)}"
    if f.type == "tuple[float, ...]":
        text += " (dB)"
    return text + (f", below {m['below']}" if m["below"] else "")


def _fail(f: dataclasses.Field, value: Any, cls: type[ConfigError] = ConfigError, what: str = "") -> None:
    unknown = f"unknown {f.name}, " if f.metadata["choices"] is not None and cls is ConfigError else ""
    err = cls(f"Config.{f.name} = {value!r}: {unknown}expected {what or allowed(f)}")
    err.field, err.value = f.name, value
    raise err


def _in_range(f: dataclasses.Field, x: float) -> bool:
    m = f.metadata
    return ((m["ge"] is None or x >= m["ge"]) and (m["gt"] is None or x > m["gt"])
            and (m["le"] is None or x <= m["le"]) and (m["lt"] is None or x < m["lt"]))


def _real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and not _is_numpy_bool(x)


def _is_numpy_bool(x: Any) -> bool:
    return type(x).__module__ == "numpy" and type(x).__name__ in ("bool", "bool_")  # numpy 2 / 1


def check(f: dataclasses.Field, value: Any) -> Any:
    """``value`` if field ``f`` allows it (numpy scalars as Python numbers, a list of SNRs as a tuple of
    floats); else :class:`ConfigError` naming the field, the value and what is allowed."""
    kind, m = f.type, f.metadata
    if kind == "bool":
        if not isinstance(value, bool) and not _is_numpy_bool(value):
            _fail(f, value, ConfigTypeError)
        return bool(value)
    if kind == "int":
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or _is_numpy_bool(value):
            _fail(f, value, ConfigTypeError)
        value = int(value)
    elif kind == "float":
        if not _real(value):
            _fail(f, value, ConfigTypeError)
        if type(value) not in (int, float):
            value = int(value) if isinstance(value, numbers.Integral) else float(value)
        if not math.isfinite(value):
            _fail(f, value)
    elif kind == "str":
        value = str(value) if isinstance(value, PurePath) else value  # a folder given as a Path
        if not isinstance(value, str):
            _fail(f, value, ConfigTypeError)
        if m["choices"] is not None and value not in m["choices"]:
            _fail(f, value)
        if m["pattern"] is not None and not re.fullmatch(m["pattern"], value):
            _fail(f, value)
        return value
    elif kind == "tuple[float, ...]":
        if not isinstance(value, (list, tuple)) or not all(_real(x) for x in value):
            _fail(f, value, ConfigTypeError)
        out = tuple(float(x) for x in value)
        if not out or not all(math.isfinite(x) for x in out) or len(set(out)) != len(out):
            _fail(f, value)
        return out
    elif kind == "dict[str, Any]":
        if not isinstance(value, dict):
            _fail(f, value, ConfigTypeError)
        return value
    else:
        raise TypeError(f"Config.{f.name}: no check for type {kind!r}")  # a new kind of field: a bug
    if not _in_range(f, value):
        _fail(f, value)
    return value


def parse_text(f: dataclasses.Field, text: str) -> Any:
    """The text of ``--set KEY=VALUE`` as field ``f``'s type, checked (:func:`check`). A string field takes
    the text as it is (or a JSON string: ``'"greedy"'``); a number ``16`` stays an int; SNRs take a JSON list
    or comma-separated numbers; ``extra`` a JSON object. Raises :class:`ConfigError` for text that is not one."""
    kind = f.type
    if kind == "str":  # as typed (a folder name may hold spaces)
        if len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                text = json.loads(text)
            except json.JSONDecodeError:
                pass
        return check(f, text)
    text = text.strip()
    value: Any = text
    if kind == "bool":
        value = {"true": True, "false": False}.get(text.lower(), text)
    elif kind in ("int", "float"):
        value = _parse_number(text)
    elif kind == "tuple[float, ...]":
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = [_parse_number(s) for s in text.strip("()[]").split(",")]
        value = [value] if _real(value) else value
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            pass
    return check(f, value)


def _parse_number(text: str) -> Any:
    """``"16"`` -> 16, ``"1e-3"`` / ``".5"`` -> float; other text stays text (the check then names it)."""
    text = text.strip()
    try:
        return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else float(text)
    except ValueError:  # not a number (or an int of more digits than Python reads)
        return text
