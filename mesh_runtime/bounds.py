"""Input bounds shared by every public RPC: checks that run before an input costs
anything, and whose limits keep whatever is accepted readable on every read path.

The JSON limits are set by the tightest reader: protobuf's decoders (the Python runtime,
Envoy's transcoder, most client libraries) refuse messages nested more than 100 levels,
and a ``google.protobuf.Struct`` spends three message levels per JSON level (map entry,
``Value``, ``Struct``/``ListValue``). A ``BatchSubmitFeedbackResponse`` puts metadata four
messages deep, so 16 JSON levels (about 55 message levels) leave room to spare, where
Envoy's transcoder failed list pages from 33 levels on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

MAX_JSON_DEPTH = 16  # nested objects and arrays
MAX_JSON_MEMBERS = 256  # object members and array items, over the whole document
MAX_JSON_KEY_CHARS = 128
MAX_INT64 = 2**63 - 1


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (PostgreSQL refuses NUL), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid UTF-8"
    return None


def _children(value: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, list):
        for item in value:
            yield None, item


def json_problem(document: Any) -> str | None:
    """Why a JSON document (``dict``/``list``/scalars, as ``json`` or ``MessageToDict``
    builds it) is outside the bounds, or None. Iterative: a deep document costs no stack."""
    members = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return f"strings {problem}"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "numbers must be finite"
        elif isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return f"must nest at most {MAX_JSON_DEPTH} objects or arrays deep"
            for key, child in _children(value):
                members += 1
                if members > MAX_JSON_MEMBERS:
                    return f"must hold at most {MAX_JSON_MEMBERS} members and items in all"
                if key is not None:
                    if len(key) > MAX_JSON_KEY_CHARS:
                        return f"keys must be at most {MAX_JSON_KEY_CHARS} characters"
                    problem = text_problem(key)
                    if problem is not None:
                        return f"keys {problem}"
                stack.append((child, depth + 1))
    return None
