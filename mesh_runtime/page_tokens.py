"""Opaque, tamper-evident page tokens: a fixed number of int64 values and an HMAC that
binds them to the caller's scope (the tenant), so a client can neither forge a position
nor replay another tenant's token, and whatever decodes is in range by construction."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Sequence

from mesh_runtime.errors import InvalidArgument

_MAC_BYTES = 16
# A token is a few dozen characters: anything much longer is refused before decoding.
MAX_TOKEN_CHARS = 256


class PageTokens:
    def __init__(self, key: bytes, field: str = "page_token") -> None:
        self._key = key
        self._field = field

    def _mac(self, scope: str, body: bytes) -> bytes:
        message = scope.encode("utf-8", "surrogatepass") + b"\x00" + body
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, scope: str, values: Sequence[int]) -> str:
        body = struct.pack(f">{len(values)}q", *values)
        raw = body + self._mac(scope, body)
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def decode(self, scope: str, token: str, count: int) -> tuple[int, ...]:
        """The ``count`` values of a token this codec issued for ``scope``."""
        invalid = InvalidArgument.single(self._field, "is not a page token issued for this query")
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise invalid
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise invalid from None
        size = 8 * count
        if len(raw) != size + _MAC_BYTES:
            raise invalid
        body, mac = raw[:size], raw[size:]
        if not hmac.compare_digest(mac, self._mac(scope, body)):
            raise invalid
        return struct.unpack(f">{count}q", body)
