"""Writing scenario.toml back after an import (the standard library reads TOML but cannot write it).

Covers what scenario files hold: strings, booleans, numbers, dates, arrays, tables, arrays of
tables and inline tables. ``tomllib.loads(dumps(doc)) == doc`` for every such document; comments
of the original file are not kept, so an import rewrites scenario.toml only when it must.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _value(value: object) -> str:
    """A value written inline (inside a key = value line, an array or an inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(doc: dict, path: list[str], lines: list[str]) -> None:
    for name, value in doc.items():
        if not isinstance(value, dict) and not _is_table_array(value):
            lines.append(f"{_key(str(name))} = {_value(value)}")
    for name, value in doc.items():
        dotted = ".".join(_key(str(p)) for p in [*path, str(name)])
        if isinstance(value, dict):
            lines += ["", f"[{dotted}]"]
            _table(value, [*path, str(name)], lines)
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{dotted}]]"]
                _table(item, [*path, str(name)], lines)


def dumps(doc: dict, header: str = "") -> str:
    """``doc`` as TOML text, after ``header`` (written as comment lines)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _table(doc, [], lines)
    return "\n".join(lines).strip("\n") + "\n"
