"""When to send a call again, and after how long.

Only UNAVAILABLE and RESOURCE_EXHAUSTED are retried, and only for calls that are safe to
repeat: reads, and submissions (every one carries a request_id, so a repeat returns the
original). The wait is jittered exponential backoff, never shorter than the server's
``google.rpc.RetryInfo`` delay. UNAUTHENTICATED is answered once per call by asking the
token provider for a new token.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

from feedbackmesh.client.auth import Credentials, Metadata
from feedbackmesh.client.errors import RpcError, UnauthenticatedError, from_grpc


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` counts the first try. Backoff before retry n (from 1) is uniform in
    [cap/2, cap] with cap = min(max_backoff, initial_backoff * multiplier**(n-1)). A
    server delay above ``max_server_delay`` is not waited for: the error is raised."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    max_server_delay: float = 60.0

    def backoff(self, retry: int) -> float:
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        return random.uniform(cap / 2, cap)


NO_RETRY = RetryPolicy(max_attempts=1)


class Attempts:
    """The retry state of one call: ``delay_after(error)`` is how long to wait before the
    next attempt, or None when the error is final."""

    def __init__(self, policy: RetryPolicy, credentials: Credentials, *, idempotent: bool) -> None:
        self._policy = policy
        self._credentials = credentials
        self._idempotent = idempotent
        self._refreshed = False
        self.made = 0

    def metadata(self) -> Metadata:
        """The call metadata for the next attempt (counts the attempt)."""
        self.made += 1
        return self._credentials.metadata()

    def next_delay(self, raw: grpc.RpcError, sent_with: Metadata, *, again: bool = True) -> float:
        """The wait before the next attempt after the failed one, sent with ``sent_with``;
        raises the client's error when there is none (or ``again`` is false)."""
        error = from_grpc(raw, self.made)
        delay = self.delay_after(error, sent_with) if again else None
        if delay is None:
            raise error from raw
        return delay

    def delay_after(self, error: RpcError, sent_with: Metadata) -> float | None:
        if isinstance(error, UnauthenticatedError) and not self._refreshed:
            # Rejected before the call ran, so any call may be repeated with a new token.
            self._refreshed = True
            return 0.0 if self._credentials.refresh(sent_with) else None
        if not (self._idempotent and error.retryable) or self.made >= self._policy.max_attempts:
            return None
        delay = self._policy.backoff(self.made)
        if error.retry_delay is not None:
            if error.retry_delay > self._policy.max_server_delay:
                return None
            delay = max(delay, error.retry_delay * random.uniform(1.0, 1.1))
        return delay
