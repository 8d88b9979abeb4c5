"""``feedbackmesh up``: storage, migrations, the service processes and Envoy, supervised in
the foreground until Ctrl-C or SIGTERM, then stopped in order (services drain first)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from gateway.envoy import EnvoyError
from mesh_app import registry
from mesh_app.up import banner
from mesh_app.up.launch import (
    UpError,
    envoy_process,
    mesh_env,
    run_migrations,
    service_env,
)
from mesh_app.up.liveness import LivenessCheck, LivenessPolicy, Probe, grpc_probe, http_probe
from mesh_app.up.logrotate import LogRotation
from mesh_app.up.ports import PortPlan, busy_ports, plan_ports, port_in_use_message
from mesh_app.up.readiness import HealthProbe, http_ok, service_name, unhealthy_clusters
from mesh_app.up.rundir import DataDirBusy, lock_data_dir, reap_stale, write_status
from mesh_app.up.stores import StoreError, Stores, StoreSupervision, start_stores
from mesh_app.up.supervisor import (
    ManagedProcess,
    log_tail,
    service_launcher,
    stop_all,
)
from mesh_runtime.resources import is_embedded_clickhouse
from mesh_runtime.settings import Settings

POLL_SECONDS = 0.25
# Crashes before the mesh is first ready after which `up` gives up (1 + 2 + 4 s of backoff).
START_CRASH_LIMIT = 3


class Shutdown(BaseException):
    """Raised by the signal handler: unwinds whatever `up` is doing into the clean stop."""


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    base_port: int | None = None
    gateway_port: int | None = None
    timeout: float = 120.0
    descriptor: Path | None = None


def run_up(settings: Settings, options: UpOptions) -> int:
    # A pipe or a file would otherwise hold `up`'s messages (a restart report, the banner)
    # in a block buffer until exit.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    if settings.log_level.upper() != "DEBUG":
        # `up` talks to its user with print(); library INFO chatter (embedded PostgreSQL
        # narrates every pg_ctl call) would bury that. The services log to their files.
        logging.getLogger().setLevel(logging.WARNING)
    data_dir = options.data_dir.expanduser().resolve()
    run_dir, logs_dir = data_dir / "run", data_dir / "logs"
    for directory in (run_dir, logs_dir):
        directory.mkdir(parents=True, exist_ok=True)
    try:
        lock = lock_data_dir(run_dir / "up.lock", data_dir)
    except DataDirBusy as exc:
        print(f"feedbackmesh up: {exc}", file=sys.stderr)
        return 2
    reaped = reap_stale(run_dir / "status.json")
    if reaped:
        print(f"feedbackmesh up: stopped processes left by a previous run: {reaped}", flush=True)
    # Local development: listen on loopback unless the settings ask for another address.
    host = settings.gateway_host if "gateway_host" in settings.model_fields_set else "127.0.0.1"
    settings = settings.model_copy(update={"data_dir": data_dir, "gateway_host": host})
    colocate = is_embedded_clickhouse(settings)
    try:
        plan = plan_ports(
            settings,
            base_port=options.base_port,
            gateway_port=options.gateway_port,
            host=host,
            colocate_clickhouse=colocate,
        )
    except ValueError as exc:
        print(f"feedbackmesh up: {exc}", file=sys.stderr)
        return 2
    busy = busy_ports(plan)
    if busy:
        print(f"feedbackmesh up: {port_in_use_message(busy)}", file=sys.stderr)
        return 2
    mesh = _Mesh(settings, plan, options, run_dir, logs_dir)
    try:
        return mesh.run()
    finally:
        lock.close()


class _Mesh:
    def __init__(
        self, settings: Settings, plan: PortPlan, options: UpOptions, run_dir: Path, logs: Path
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.options = options
        self.run_dir = run_dir
        self.logs = logs
        self.stores: Stores | None = None
        self.services: list[ManagedProcess] = []
        self.envoy: ManagedProcess | None = None
        self._last_pids: list[int | None] = []
        self._ready = False
        self._probes = ThreadPoolExecutor(max_workers=8, thread_name_prefix="up-liveness")
        self._liveness = LivenessPolicy(
            interval=settings.up_liveness_interval_seconds,
            timeout=settings.up_liveness_timeout_seconds,
            failures=settings.up_liveness_failures,
            startup_grace=options.timeout,
        )
        self._rotation = LogRotation(logs, settings.up_log_max_bytes, settings.up_log_backups)

    def run(self) -> int:
        previous = {sig: signal.signal(sig, _raise_shutdown) for sig in _SIGNALS}
        try:
            self._start()
            self._supervise()
        except Shutdown:
            print("\nfeedbackmesh up: stopping (services drain first) ...", flush=True)
        except (UpError, StoreError) as exc:
            print(f"feedbackmesh up: {exc}", file=sys.stderr, flush=True)
            return exc.code if isinstance(exc, UpError) else 1
        finally:
            # A second Ctrl-C must not interrupt the ordered stop half-way.
            for sig in _SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            self._stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        print("feedbackmesh up: stopped; data kept in", self.settings.data_dir, flush=True)
        return 0

    # --- start ---------------------------------------------------------------------------
    def _start(self) -> None:
        supervision = StoreSupervision(
            self.settings.data_dir,
            self.logs,
            self.run_dir,
            self._liveness,
            self._probes,
            self.options.timeout,
        )
        self.stores = start_stores(self.settings, supervision, valkey_port=self.plan.valkey)
        base_env = mesh_env(self.settings, self.plan, self.stores)
        run_migrations(base_env, self.logs / "migrate.log")
        for spec in self.plan.processes:
            log = self.logs / f"{spec.name}.log"
            launch = service_launcher(spec, service_env(base_env, spec), log)
            liveness = self._check(grpc_probe(f"127.0.0.1:{spec.grpc_port}"))
            self.services.append(
                ManagedProcess(spec.name, launch, log, self.run_dir, spec=spec, liveness=liveness)
            )
        for proc in self.services:
            proc.start()
        self.envoy = envoy_process(
            self.settings,
            self.plan,
            self.options.descriptor,
            self.run_dir,
            self.logs,
            liveness=self._check(http_probe(f"http://127.0.0.1:{self.plan.admin}/ready")),
        )
        try:
            self.envoy.start()
        except EnvoyError as exc:  # no Envoy binary
            raise UpError(str(exc)) from exc
        self._write_status(ready=False)
        waiting = self._wait_ready()
        if waiting:
            raise UpError(self._not_ready_message(waiting))
        self._write_status(ready=True)
        banner.print_ready(self.settings, self.plan, self.stores, self.services)

    def _check(self, probe: Probe) -> LivenessCheck:
        return LivenessCheck(probe, self._liveness, self._probes)

    # --- readiness ------------------------------------------------------------------------
    def _wait_ready(self) -> list[tuple[str, Path | None]]:
        """[] when everything passes; else what is still not up (with its log) at timeout."""
        probe = HealthProbe()
        deadline = time.monotonic() + self.options.timeout
        # Ready = 200 from the gateway's /readyz: every service cluster has a healthy host.
        gateway = f"http://127.0.0.1:{self.plan.gateway}/readyz"
        admin = f"http://127.0.0.1:{self.plan.admin}"
        try:
            while True:
                self._check_processes()
                waiting: list[tuple[str, Path | None]] = []
                for proc in self.services:
                    assert proc.spec is not None
                    addr = f"127.0.0.1:{proc.spec.grpc_port}"
                    for target in proc.spec.targets:
                        if not probe.service_serving(addr, service_name(target)):
                            label = f"{proc.name} ({service_name(target)})"
                            waiting.append((label, proc.log_path))
                assert self.envoy is not None
                if not http_ok(gateway):
                    # Services all serving: name those Envoy has not seen healthy yet.
                    keys = [] if waiting else list(registry.SERVICE_NAMES)
                    log = self.envoy.log_path
                    waiting += [
                        (f"envoy -> {key} (upstream health checks not passing)", log)
                        for key in unhealthy_clusters(admin, keys)
                    ] or [(f"envoy ({gateway})", log)]
                if not waiting:
                    return []
                if time.monotonic() > deadline:
                    hint = f"(waited {self.options.timeout:g}s; a slow machine needs --timeout)"
                    return [*waiting, (hint, None)]
                crashing: list[tuple[str, Path | None]] = [
                    (f"{p.name} (exited {p.restarts + 1} times while starting)", p.log_path)
                    for p in [*self.services, self.envoy]
                    if p.restarts >= START_CRASH_LIMIT and p.pid is None
                ]
                if crashing:
                    # A crash loop at start-up is a bug or a bad setting, not slowness: say so
                    # now rather than after the whole timeout.
                    return crashing
                time.sleep(POLL_SECONDS)
        finally:
            probe.close()

    def _not_ready_message(self, waiting: list[tuple[str, Path | None]]) -> str:
        lines = ["the mesh did not come up; not ready:"]
        lines += [f"  - {label}" if log else f"  {label}" for label, log in waiting]
        for log in dict.fromkeys(path for _, path in waiting if path is not None):
            lines.append(f"last lines of {log}:\n{log_tail(log)}")
        return "\n".join(lines)

    # --- running --------------------------------------------------------------------------
    def _supervise(self) -> None:
        while True:
            self._check_processes()
            time.sleep(POLL_SECONDS)

    def _check_processes(self) -> None:
        stores = self.stores.processes if self.stores else []
        procs = [*stores, *self.services, *([self.envoy] if self.envoy else [])]
        for proc in procs:
            proc.check()
        self._rotation.check()
        pids = [proc.pid for proc in procs]
        if pids != self._last_pids:
            self._last_pids = pids
            self._write_status(ready=None)

    def _write_status(self, *, ready: bool | None) -> None:
        assert self.stores is not None
        status_path = self.run_dir / "status.json"
        if ready is not None:
            self._ready = ready
        status: dict[str, object] = {
            "pid": os.getpid(),
            "ready": self._ready,
            "data_dir": str(self.settings.data_dir),
            "gateway_url": f"http://127.0.0.1:{self.plan.gateway}",
            "envoy_admin_url": f"http://127.0.0.1:{self.plan.admin}",
            "embedded": self.stores.embedded,
            "processes": {proc.name: proc.status() for proc in self.services},
            "envoy": self.envoy.status() if self.envoy else None,
            "stores": self.stores.status(),
        }
        if "postgres" in self.stores.embedded:
            # Passwordless Unix-socket URL: handy for psql and the acceptance test.
            status["database_url"] = self.stores.database_url
        if "redis" in self.stores.embedded:
            status["redis_url"] = self.stores.redis_url
        write_status(status_path, status)

    # --- stop -----------------------------------------------------------------------------
    def _stop(self) -> None:
        grace = self.settings.drain_delay_seconds + self.settings.drain_grace_seconds + 5.0
        stop_all(self.services, timeout=grace)
        if self.envoy is not None:
            stop_all([self.envoy], timeout=5.0)
        if self.stores is not None:
            self.stores.stop()
        self._probes.shutdown(wait=False, cancel_futures=True)
        (self.run_dir / "status.json").unlink(missing_ok=True)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signum)
