"""Stable JSON: same data, same bytes (sorted keys where the format allows, fixed separators)."""

from __future__ import annotations

import json
from typing import Any


def dumps(data: Any, *, sort_keys: bool = True, indent: int | None = None) -> bytes:
    """UTF-8 JSON bytes. Formats whose key order is part of the convention pass sort_keys=False."""
    separators = (",", ":") if indent is None else (",", ": ")
    return (json.dumps(data, sort_keys=sort_keys, indent=indent, separators=separators, ensure_ascii=False) + "\n").encode()
