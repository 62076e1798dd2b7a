"""Property tests over every Config field, with strategies derived from the fields' own declarations (type,
``choices``, ``ge``/``gt``/``le``/``lt``, ``below``, ``pattern``): a field added tomorrow is covered without a new
hand-written case.

- values every field allows build a Config, which round-trips through ``to_dict`` -> ``make_config`` and
  through the text of ``--set`` (:func:`aelib.config.parse_sets`);
- a value one field does not allow (wrong type, out of range, unknown name, not finite) raises a
  ``ConfigError`` that names that field, on one line; so does a pair out of order (``hop`` >= ``n_fft``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aelib.config import Config, ConfigError, check, make_config, parse_sets

FIELDS = {f.name: f for f in dataclasses.fields(Config)}
PAIRS = [(f.name, f.metadata["below"]) for f in FIELDS.values() if f.metadata["below"]]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIG = 10**6  # ints and floats range this far past their bound (nothing is built from them)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=6)


def _bounds(f):
    m = f.metadata
    lo = m["ge"] if m["ge"] is not None else m["gt"]
    hi = m["le"] if m["le"] is not None else m["lt"]
    return lo, hi, m["gt"] is not None, m["lt"] is not None


def in_range(f, x) -> bool:
    """The field's declared bounds, read as the spec (every float and int field has some or none)."""
    m = f.metadata
    return ((m["ge"] is None or x >= m["ge"]) and (m["gt"] is None or x > m["gt"])
            and (m["le"] is None or x <= m["le"]) and (m["lt"] is None or x < m["lt"]))


def _numbers(f, lo, hi) -> st.SearchStrategy:
    """Ints (and, for a float field, floats) from about ``lo`` to ``hi`` (None: BIG past the other end)."""
    lo = -BIG if lo is None and hi is None else (hi - BIG if lo is None else lo)
    hi = lo + BIG if hi is None else hi
    ints = st.integers(math.floor(lo), math.ceil(hi))
    return ints if f.type == "int" else ints | st.floats(lo, hi)


def valid(f) -> st.SearchStrategy:
    """Values field ``f`` allows on its own (pairs are put in order by the caller)."""
    m, kind = f.metadata, f.type
    lo, hi, _, _ = _bounds(f)
    if kind == "bool":
        return st.booleans()
    if kind in ("int", "float"):
        return _numbers(f, lo, hi).filter(lambda x: in_range(f, x))
    if kind == "str":
        if m["choices"] is not None:
            return st.sampled_from(m["choices"])
        if m["pattern"] is not None:
            return st.from_regex(m["pattern"], fullmatch=True)
        return st.text(max_size=20)
    if kind == "tuple[float, ...]":
        return st.lists(st.floats(-200, 200) | st.integers(-200, 200), min_size=1, max_size=8,
                        unique_by=float).map(tuple)
    if kind == "dict[str, Any]":
        return st.dictionaries(st.text(max_size=8), JSON, max_size=3)
    raise AssertionError(f"no strategy for {f.name}: {kind}")


def invalid(f) -> st.SearchStrategy:
    """Values field ``f`` does not allow, whatever the other fields are."""
    m, kind = f.metadata, f.type
    lo, hi, _, _ = _bounds(f)
    wrong = {"bool": st.integers() | st.text() | st.none(),
             "int": st.floats() | st.text() | st.booleans() | st.none(),
             "float": st.text() | st.booleans() | st.none() | st.lists(st.integers(), max_size=2),
             "str": st.integers() | st.floats() | st.booleans() | st.none() | st.lists(st.text(), max_size=2),
             "tuple[float, ...]": (st.text() | st.integers() | st.just([]) | st.lists(st.text(), min_size=1)
                                   | st.lists(st.sampled_from([math.nan, math.inf, -math.inf]), min_size=1)
                                   | st.floats(-50, 50).map(lambda x: [x, x])),
             "dict[str, Any]": st.lists(st.integers()) | st.text() | st.integers()}[kind]
    out = [wrong]
    if kind in ("int", "float"):
        if lo is not None:
            out.append(_numbers(f, None, lo).filter(lambda x: not in_range(f, x)))
        if hi is not None:
            out.append(_numbers(f, hi, None).filter(lambda x: not in_range(f, x)))
        if kind == "float":
            out.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    if m["choices"] is not None:
        out.append(st.text(max_size=12).filter(lambda s: s not in m["choices"]))
    if m["pattern"] is not None:
        out.append(st.text(max_size=12).filter(lambda s: not re.fullmatch(m["pattern"], s)))
    return st.one_of(out)


@st.composite
def valid_values(draw) -> dict:
    """A value for every field, the ``below`` pairs in order."""
    values = {name: draw(valid(f)) for name, f in FIELDS.items()}
    for low, high in PAIRS:
        a, b = sorted((values[low], values[high]))
        if a == b:
            b = values[high] = draw(valid(FIELDS[high]).filter(lambda x: x > a))
        values[low], values[high] = a, b
    return values


def _json(d: dict) -> str:
    return json.dumps(d, sort_keys=True)


@SETTINGS
@given(valid_values())
def test_allowed_values_build_a_config_that_round_trips(values):
    cfg = Config(**values)
    d = cfg.to_dict()
    again = make_config(d.pop("preset"), **d)
    assert again == cfg and _json(again.to_dict()) == _json(cfg.to_dict())
    for name, f in FIELDS.items():  # numbers stay as given: params.json says what the user wrote
        if f.type in ("int", "float"):
            assert type(getattr(cfg, name)) is type(values[name]), name


@SETTINGS
@given(valid_values(), st.data())
def test_allowed_values_survive_the_text_of_set(values, data):
    """Each field's value, written as ``--set [SCOPE:]name=<JSON>``, reads back as the Config holds it."""
    name = data.draw(st.sampled_from(sorted(FIELDS)))
    scope = data.draw(st.sampled_from(["", "asr:", "joint:", "kws/clean:"]))
    value = values[name]
    expected = check(FIELDS[name], value)  # as Config holds it (before data_dir "" takes its default)
    text = json.dumps(list(value) if isinstance(value, tuple) else value)
    got = parse_sets([f"{scope}{name}={text}"])[f"{scope}{name}"]
    assert _json(got) == _json(expected) and type(got) is type(expected), (name, text)
    if FIELDS[name].type == "str" and value and not value.startswith('"'):
        assert parse_sets([f"{name}={value}"]) == {name: value}  # a string needs no quotes


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_a_value_a_field_does_not_allow_is_a_config_error_naming_it(name):
    @settings(max_examples=25, deadline=None)
    @given(invalid(FIELDS[name]))
    def prop(value):
        with pytest.raises(ConfigError) as e:
            Config(**{name: value})
        assert e.value.field == name and str(e.value).startswith(f"Config.{name} = ")
        assert "\n" not in str(e.value)
    prop()


@pytest.mark.parametrize("low, high", PAIRS)
def test_a_pair_out_of_order_is_a_config_error_naming_the_lower_field(low, high):
    @settings(max_examples=25, deadline=None)
    @given(valid_values(), st.booleans())
    def prop(values, equal):
        values[low], values[high] = (values[high], values[high]) if equal else (values[high], values[low])
        assume(in_range(FIELDS[low], values[low]) and in_range(FIELDS[high], values[high]))
        with pytest.raises(ConfigError, match=f"^Config.{low} = .*below {high} = "):
            Config(**values)
    prop()


TEXTS = ["", " ", "abc", '"x"', "[", "nan", "1e400", "{}", "[1, 1]", "2.5", "yes", "-1", "0", "true"]


@pytest.mark.parametrize("name", sorted(name for name, f in FIELDS.items() if f.type != "str"))
def test_set_text_is_the_fields_value_or_a_config_error_quoting_the_flag(name):
    for text in TEXTS:
        try:
            value = parse_sets([f"{name}={text}"])[name]
        except ConfigError as e:
            assert str(e).startswith(f"--set {name}={text}: {name} expects ") and e.field == name, str(e)
            assert "\n" not in str(e)
        else:  # text the field can read: a value it allows
            assert value == check(FIELDS[name], value), text
