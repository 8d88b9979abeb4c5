"""Which ports ``feedbackmesh up`` uses, and whether they are free before anything starts.

Without ``--base-port`` the ports are the documented defaults (CONTRIBUTING.md), so a
README's curl examples work unchanged. ``--base-port B`` packs a whole mesh into
B..B+2+2n (n services), so a second mesh (or a test) can run next to the first one.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass, field

from mesh_app import registry
from mesh_runtime.settings import Settings

# Offsets from --base-port: gateway, Envoy admin, then gRPC and metrics ports per service,
# then Valkey.
_GRPC_OFFSET = 2
_METRICS_OFFSET = _GRPC_OFFSET + len(registry.SERVICES)
_VALKEY_OFFSET = _METRICS_OFFSET + len(registry.SERVICES)


@dataclass(frozen=True)
class ProcessSpec:
    """One service process: its targets share one gRPC port and one /metrics port."""

    name: str
    targets: tuple[str, ...]
    grpc_port: int
    metrics_port: int


@dataclass(frozen=True)
class PortPlan:
    host: str
    gateway: int
    admin: int
    grpc: dict[str, int]
    metrics: dict[str, int]
    # None: the embedded Valkey picks a free port itself.
    valkey: int | None = None
    processes: tuple[ProcessSpec, ...] = field(default=())

    def addr(self, service: str) -> str:
        """The address peers and Envoy use for ``service`` (co-located targets share one)."""
        for proc in self.processes:
            if service in proc.targets:
                return f"127.0.0.1:{proc.grpc_port}"
        return f"127.0.0.1:{self.grpc[service]}"

    def labelled_ports(self) -> list[tuple[int, str]]:
        """Every TCP port the mesh will listen on, with what it is for."""
        ports = [(self.gateway, "gateway"), (self.admin, "Envoy admin")]
        for proc in self.processes:
            ports.append((proc.grpc_port, f"{proc.name} gRPC"))
            ports.append((proc.metrics_port, f"{proc.name} metrics"))
        if self.valkey is not None:
            ports.append((self.valkey, "Valkey"))
        return ports


def plan_ports(
    settings: Settings,
    *,
    base_port: int | None,
    gateway_port: int | None,
    host: str,
    colocate_clickhouse: bool,
) -> PortPlan:
    """Ports for every process; ``colocate_clickhouse`` puts ingest and analytics in one
    process (chDB opens its directory in one process only)."""
    if base_port is not None:
        if not 1024 <= base_port <= 65535 - _VALKEY_OFFSET:
            raise ValueError(f"--base-port must be in 1024..{65535 - _VALKEY_OFFSET}")
        names = registry.SERVICE_NAMES
        grpc = {name: base_port + _GRPC_OFFSET + i for i, name in enumerate(names)}
        metrics = {name: base_port + _METRICS_OFFSET + i for i, name in enumerate(names)}
        gateway, admin, valkey = base_port, base_port + 1, base_port + _VALKEY_OFFSET
    else:
        grpc = {s.name: s.grpc_port for s in registry.SERVICES}
        metrics = {s.name: s.metrics_port for s in registry.SERVICES}
        gateway, admin, valkey = settings.gateway_port, settings.envoy_admin_port, None
    if gateway_port is not None:
        gateway = gateway_port
    return PortPlan(
        host=host,
        gateway=gateway,
        admin=admin,
        grpc=grpc,
        metrics=metrics,
        valkey=valkey,
        processes=tuple(process_layout(grpc, metrics, colocate_clickhouse=colocate_clickhouse)),
    )


def process_layout(
    grpc: dict[str, int], metrics: dict[str, int], *, colocate_clickhouse: bool
) -> list[ProcessSpec]:
    """One process per service, or per group of services that must share one; a group
    listens on its first member's ports."""
    groups = registry.process_groups(
        registry.SERVICE_NAMES, embedded_clickhouse=colocate_clickhouse
    )
    return [
        ProcessSpec("-".join(group), group, grpc[group[0]], metrics[group[0]]) for group in groups
    ]


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on ``host:port`` (or the port cannot be bound at all).

    SO_REUSEADDR as the servers themselves set it: a port in TIME_WAIT from the previous
    run is free for them, so it must not count as taken here.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def busy_ports(plan: PortPlan) -> list[tuple[int, str]]:
    hosts = {plan.host, "127.0.0.1"}
    return [
        (port, label)
        for port, label in plan.labelled_ports()
        if any(port_in_use(h, port) for h in hosts)
    ]


def port_in_use_message(busy: list[tuple[int, str]]) -> str:
    """One line naming every busy port and what to do about it."""
    described = ", ".join(f"{port} ({label})" for port, label in busy)
    plural = "s are" if len(busy) > 1 else " is"
    return (
        f"port{plural} already in use: {described}; stop what listens there (another "
        "`feedbackmesh up`?) or choose other ports with --base-port / --gateway-port"
    )
