"""The live system's JSON reads and writes what the standard library does, strictly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from embercast import jsonio

TEXTS = [
    b'{"ts": 1800000000.123, "co2_ppm": 415.5, "rh": null, "ok": true}',
    b'[{"a": 1}, {"a": -2e-7}]',
    b'{"t": NaN, "u": -Infinity}',  # not JSON, but json.loads reads it, so the checks see it
    '{"z": "\u00e9"}'.encode("utf-16"),
    '{"s": "caf\u00e9"}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_loads_reads_what_json_reads(text: bytes | str) -> None:
    got, want = jsonio.loads(text), json.loads(text)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
    assert [type(v) for v in _leaves(got)] == [type(v) for v in _leaves(want)]


def test_integers_past_64_bits_are_read_as_floats() -> None:
    assert jsonio.loads(b'{"n": -9223372036854775808}') == {"n": -(2**63)}
    big = jsonio.loads(b'{"n": 123456789012345678901234567890}')["n"]
    assert isinstance(big, float) and big == float(123456789012345678901234567890)


@pytest.mark.parametrize("text", [b"{", b'{"a": }', b"\xff\xfe\xff", b""])
def test_loads_refuses_what_json_refuses_with_its_error(text: bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)) as got:
        jsonio.loads(text)
    with pytest.raises(type(got.value)) as want:
        json.loads(text)
    assert str(got.value) == str(want.value)


def test_dumps_round_trips_and_sorts() -> None:
    value = {"b": [0.1, 1e-7, 1800000000.123, None, True], "a": {"y": "é", "x": -3}}
    text = jsonio.dumps(value, sort_keys=True)
    assert json.loads(text) == value
    assert text.index('"a"') < text.index('"b"') and " " not in text.replace("é", "")
    assert jsonio.dumps({1: np.float64(2.5)}) == '{"1":2.5}'  # what orjson cannot write


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_dumps_refuses_non_finite_numbers_anywhere(bad: float) -> None:
    for value in ({"x": bad}, {"rows": [[1.0, bad]]}, [{"a": (bad,)}]):
        with pytest.raises(ValueError, match="not JSON compliant"):
            jsonio.dumps(value)
    with pytest.raises(TypeError):
        jsonio.dumps({"x": object()})


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _leaves(value[k])]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]
