"""What the sync and asyncio clients share: their options, addresses, token and retry
policy."""

from __future__ import annotations

from asyncio import sleep as async_sleep
from collections.abc import Mapping, Sequence
from time import sleep
from typing import TypedDict

import grpc

from feedbackmesh.client.auth import Credentials, TokenProvider
from feedbackmesh.client.channels import ChannelOption, ChannelSettings, Service, addresses
from feedbackmesh.client.retry import Attempts, RetryPolicy

# The twins of aio.py (async_sleep) and the blocking client generated from it (sleep).
__all__ = ["ClientCore", "ClientOptions", "async_sleep", "sleep"]

# Per attempt, in seconds: unary calls, and a whole export stream.
DEFAULT_TIMEOUT = 30.0
DEFAULT_EXPORT_TIMEOUT = 600.0


class ClientOptions(TypedDict, total=False):
    """Keyword options of ``FeedbackMeshClient`` and ``AsyncFeedbackMeshClient``.

    ``targets``: per-service addresses ("feedback", "sentiment", "analytics", "ingest")
    overriding ``target``. ``token`` or ``token_provider`` (a callable returning a token,
    called again on UNAUTHENTICATED). ``tls``: True (system roots, the default), False
    (plaintext), or ``grpc.ChannelCredentials``. ``keepalive_time`` / ``options``: channel
    settings (``options`` as gRPC channel arguments, overriding the client's). ``timeout``
    / ``export_timeout``: default deadlines in seconds, per attempt. ``retry``: the policy
    for UNAVAILABLE / RESOURCE_EXHAUSTED.
    """

    targets: Mapping[str, str]
    token: str
    token_provider: TokenProvider
    tls: bool | grpc.ChannelCredentials
    keepalive_time: float | None
    options: Sequence[ChannelOption]
    timeout: float
    export_timeout: float
    retry: RetryPolicy


class ClientCore:
    def __init__(self, target: str | None, options: ClientOptions) -> None:
        self.addresses = addresses(target, options.get("targets"))
        self.channel_settings = ChannelSettings(
            tls=options.get("tls", True),
            keepalive_time=options.get("keepalive_time", 300.0),
            options=options.get("options", ()),
        )
        self.credentials = Credentials(options.get("token"), options.get("token_provider"))
        self.timeout = options.get("timeout", DEFAULT_TIMEOUT)
        self.export_timeout = options.get("export_timeout", DEFAULT_EXPORT_TIMEOUT)
        self.retry = options.get("retry", RetryPolicy())

    def address(self, service: Service) -> str:
        try:
            return self.addresses[service]
        except KeyError:
            raise ValueError(f"no address for the {service} service: pass target") from None

    def attempts(self, *, idempotent: bool = True) -> Attempts:
        return Attempts(self.retry, self.credentials, idempotent=idempotent)
