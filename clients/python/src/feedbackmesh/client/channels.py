"""Where each service is, and how channels to it are made (TLS or plaintext, options).

One address can serve every public RPC (the Envoy gateway routes native gRPC by method);
``targets`` sends a service elsewhere, e.g. straight to FeedbackService on port 50051.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import grpc

Service = Literal["feedback", "sentiment", "analytics", "ingest"]
SERVICES: tuple[Service, ...] = ("feedback", "sentiment", "analytics", "ingest")
ChannelOption = tuple[str, int | str]
# Twin names of the asyncio and blocking gRPC types: aio.py uses the Async ones, and the
# blocking client generated from it (sync.py) the Sync ones.
AsyncChannel: TypeAlias = grpc.aio.Channel
SyncChannel: TypeAlias = grpc.Channel
AsyncUnary: TypeAlias = grpc.aio.UnaryUnaryMultiCallable
SyncUnary: TypeAlias = grpc.UnaryUnaryMultiCallable
AsyncInterceptor: TypeAlias = grpc.aio.ClientInterceptor
SyncInterceptor: TypeAlias = (
    grpc.UnaryUnaryClientInterceptor
    | grpc.UnaryStreamClientInterceptor
    | grpc.StreamUnaryClientInterceptor
    | grpc.StreamStreamClientInterceptor
)

# The servers accept messages up to 16 MiB; so does the client.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_RECONNECT_BACKOFF_MS = 5_000


def addresses(target: str | None, targets: Mapping[str, str] | None) -> dict[Service, str]:
    """The address of every service: ``targets[service]``, else ``target``."""
    overrides = dict(targets or {})
    unknown = set(overrides) - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown services in targets: {sorted(unknown)}; known: {SERVICES}")
    found: dict[Service, str] = {}
    for service in SERVICES:
        address = overrides.get(service, target)
        if address is not None:
            found[service] = address
    if not found:
        raise ValueError("pass target (one address for every service) or targets")
    return found


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """``tls``: True for TLS with the system's root certificates, False for plaintext, or
    ready ``grpc.ChannelCredentials`` (custom roots, mTLS). ``keepalive_time``: seconds
    between HTTP/2 pings while calls are open (None: no pings; servers refuse pings more
    often than every 5 minutes unless configured to allow them)."""

    tls: bool | grpc.ChannelCredentials = True
    keepalive_time: float | None = 300.0
    keepalive_timeout: float = 20.0
    options: Sequence[ChannelOption] = ()

    def credentials(self) -> grpc.ChannelCredentials | None:
        if self.tls is True:
            return grpc.ssl_channel_credentials()
        if self.tls is False:
            return None
        return self.tls

    def channel_options(self) -> list[ChannelOption]:
        chosen: dict[str, int | str] = {
            "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
            "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
            # After an outage, reconnect within seconds of the server's return (gRPC's
            # default backoff grows to 2 minutes, longer than the retries wait).
            "grpc.max_reconnect_backoff_ms": MAX_RECONNECT_BACKOFF_MS,
        }
        if self.keepalive_time is not None:
            chosen["grpc.keepalive_time_ms"] = int(self.keepalive_time * 1000)
            chosen["grpc.keepalive_timeout_ms"] = int(self.keepalive_timeout * 1000)
        chosen.update(dict(self.options))
        return list(chosen.items())

    def sync_channel(
        self, address: str, interceptors: Sequence[SyncInterceptor] = ()
    ) -> SyncChannel:
        credentials = self.credentials()
        options = self.channel_options()
        if credentials is None:
            channel = grpc.insecure_channel(address, options=options)
        else:
            channel = grpc.secure_channel(address, credentials, options=options)
        return grpc.intercept_channel(channel, *interceptors) if interceptors else channel

    def async_channel(
        self, address: str, interceptors: Sequence[AsyncInterceptor] = ()
    ) -> AsyncChannel:
        credentials = self.credentials()
        options = self.channel_options()
        if credentials is None:
            return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
        return grpc.aio.secure_channel(
            address, credentials, options=options, interceptors=interceptors
        )
