"""Is a process under ``feedbackmesh up`` still answering?

Liveness, not readiness: a service that answers NOT_SERVING (its database is down) is
alive, and restarting it would not help; a process that does not answer at all within the
timeout (SIGSTOPped, deadlocked, spinning) is killed and restarted. As with a Kubernetes
liveness probe, misses count only once the process has answered after its (re)start, or
once its start-up grace has run out, so a slow start is not mistaken for a hang.
"""

from __future__ import annotations

import socket
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# timeout in seconds -> whether the process answered in time
Probe = Callable[[float], bool]

# PostgreSQL's SSLRequest: a server answers with one byte ('S' or 'N') before any
# authentication, and a client that then hangs up leaves nothing in the server log.
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_NOT_ANSWERED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


@dataclass(frozen=True)
class LivenessPolicy:
    interval: float = 5.0
    timeout: float = 5.0
    failures: int = 3
    startup_grace: float = 120.0


class LivenessCheck:
    """Runs ``probe`` every ``interval`` in a worker thread (a stalled child must not stall
    ``up``'s loop) and counts the misses in a row."""

    def __init__(self, probe: Probe, policy: LivenessPolicy, executor: Executor) -> None:
        self.policy = policy
        self.misses = 0
        self._probe = probe
        self._executor = executor
        self._pending: Future[bool] | None = None
        self._next_at = 0.0
        self._started_at = 0.0
        self._answered = False

    def restart(self, now: float) -> None:
        """The process was (re)started at ``now``."""
        self.misses = 0
        self._answered = False
        self._started_at = now
        self._next_at = now + self.policy.interval
        self._pending = None

    def due(self, now: float) -> bool:
        """Call every loop; True once the process missed ``failures`` probes in a row."""
        if self._pending is not None:
            if not self._pending.done():
                return False
            try:
                answered = self._pending.result()
            except Exception:
                answered = False
            self._pending = None
            if answered:
                self._answered, self.misses = True, 0
            elif self._answered or now - self._started_at >= self.policy.startup_grace:
                self.misses += 1
        if self.misses >= self.policy.failures:
            return True
        if now >= self._next_at:
            self._next_at = now + self.policy.interval
            self._pending = self._executor.submit(self._probe, self.policy.timeout)
        return False


def grpc_probe(addr: str) -> Probe:
    """Any health answer counts (SERVING, NOT_SERVING, even an unknown service)."""
    channel = grpc.insecure_channel(addr)
    stub = health_pb2_grpc.HealthStub(channel)

    def probe(timeout: float) -> bool:
        try:
            stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError as exc:
            return exc.code() not in _NOT_ANSWERED
        return True

    return probe


def http_probe(url: str) -> Probe:
    """Any HTTP status counts (Envoy's admin ``/ready`` says 503 while it is not ready)."""

    def probe(timeout: float) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - our own URL
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False

    return probe


def postgres_probe(socket_path: Path) -> Probe:
    def probe(timeout: float) -> bool:
        return _exchange(socket.AF_UNIX, str(socket_path), _SSL_REQUEST, timeout) in (b"S", b"N")

    return probe


def valkey_probe(port: int) -> Probe:
    def probe(timeout: float) -> bool:
        reply = _exchange(socket.AF_INET, ("127.0.0.1", port), b"*1\r\n$4\r\nPING\r\n", timeout)
        return reply.startswith(b"+PONG")

    return probe


def _exchange(family: int, address: str | tuple[str, int], message: bytes, timeout: float) -> bytes:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(message)
            return sock.recv(64)
    except OSError:
        return b""
