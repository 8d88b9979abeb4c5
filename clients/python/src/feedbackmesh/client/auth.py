"""The caller's token, sent as ``authorization: Bearer ...`` call metadata (so it works on
TLS and on plaintext channels alike).

A token provider is called for the first call and again whenever the server answers
UNAUTHENTICATED (an expired or revoked token), not before every call: it should return a
currently valid token each time it is called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

TokenProvider = Callable[[], str]
Metadata = tuple[tuple[str, str], ...]


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


class Credentials:
    def __init__(self, token: str | None = None, provider: TokenProvider | None = None) -> None:
        if token is not None and provider is not None:
            raise ValueError("pass either token or token_provider, not both")
        self._provider = provider
        self._metadata: Metadata | None = bearer(token) if token is not None else None
        if token is None and provider is None:
            self._metadata = ()
        self._lock = threading.Lock()

    def metadata(self) -> Metadata:
        current = self._metadata
        if current is None:
            with self._lock:
                if self._metadata is None:
                    self._metadata = bearer(self._fetch())
                current = self._metadata
        return current

    def refresh(self, stale: Metadata) -> bool:
        """Replaces the token that ``stale`` carried; False when there is no provider to ask.
        Concurrent callers that saw the same stale token share one provider call."""
        if self._provider is None:
            return False
        with self._lock:
            if self._metadata is stale or self._metadata is None:
                self._metadata = bearer(self._fetch())
        return True

    def _fetch(self) -> str:
        assert self._provider is not None
        return self._provider()
