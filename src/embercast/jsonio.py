"""JSON for the live system's hot paths (device payloads, bus messages): orjson's speed with
the standard library's meaning.

:func:`loads` reads what :func:`json.loads` reads (a payload orjson refuses, such as a ``NaN``
token or UTF-16 text, is read again by :mod:`json`, which also words the error), but for an
integer beyond 64 bits, which comes as the nearest float;
:func:`dumps` writes strict JSON and, like ``json.dumps(..., allow_nan=False)``, refuses
non-finite numbers (orjson would write them as ``null``) with a ValueError; what orjson cannot
write (numpy scalars, non-string keys) goes through :mod:`json`.

>>> loads(b'{"a": [1, 2.5, null]}')
{'a': [1, 2.5, None]}
>>> loads('{"t": NaN}')["t"]
nan
>>> dumps({"b": 1, "a": [0.1, None]}, sort_keys=True)
'{"a":[0.1,null],"b":1}'
>>> dumps({"x": float("inf")})
Traceback (most recent call last):
    ...
ValueError: Out of range float values are not JSON compliant: inf
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """The value of the JSON text ``data``; ``json.JSONDecodeError`` (a ValueError) or
    UnicodeDecodeError as :func:`json.loads` raises them."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # read again below, outside this handler (the error then is json's own)
    return json.loads(data)


def _finite(value: Any) -> None:
    """ValueError when ``value`` holds a non-finite float, anywhere within."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    elif isinstance(value, dict):
        for v in value.values():
            _finite(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _finite(v)


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """``value`` as compact JSON text (keys sorted with ``sort_keys``); ValueError for a
    non-finite number, TypeError for what is not JSON-serialisable."""
    _finite(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
    except orjson.JSONEncodeError:
        pass
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False)
