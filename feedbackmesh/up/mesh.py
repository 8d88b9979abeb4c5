"""``feedbackmesh up``: storage, migrations, the service processes and Envoy, supervised in
the foreground until Ctrl-C or SIGTERM, then stopped in order (services drain first)."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from feedbackmesh.up import banner
from feedbackmesh.up.ports import PortPlan, ProcessSpec, busy_ports, plan_ports, port_in_use_message
from feedbackmesh.up.readiness import HealthProbe, http_ok, service_name, unhealthy_clusters
from feedbackmesh.up.stores import Stores, ignoring_sigint, start_stores
from feedbackmesh.up.supervisor import (
    ManagedProcess,
    log_tail,
    service_launcher,
    stop_all,
    write_status,
)
from gateway.config import render_envoy_config
from gateway.descriptor import SERVICES, DescriptorError
from gateway.envoy import EnvoyError, start_envoy
from mesh_runtime.resources import is_embedded_clickhouse
from mesh_runtime.settings import Settings

MIGRATE_TIMEOUT_SECONDS = 300.0
POLL_SECONDS = 0.25


class Shutdown(BaseException):
    """Raised by the signal handler: unwinds whatever `up` is doing into the clean stop."""


class UpError(Exception):
    """Start-up failed for a reason that needs no traceback (message, exit code)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    base_port: int | None = None
    gateway_port: int | None = None
    timeout: float = 120.0
    descriptor: Path | None = None


def run_up(settings: Settings, options: UpOptions) -> int:
    data_dir = options.data_dir.expanduser().resolve()
    run_dir, logs_dir = data_dir / "run", data_dir / "logs"
    for directory in (run_dir, logs_dir):
        directory.mkdir(parents=True, exist_ok=True)
    try:
        lock = _lock_data_dir(run_dir / "up.lock", data_dir)
    except UpError as exc:
        print(f"feedbackmesh up: {exc}", file=sys.stderr)
        return exc.code
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

    def run(self) -> int:
        previous = {sig: signal.signal(sig, _raise_shutdown) for sig in _SIGNALS}
        try:
            self._start()
            self._supervise()
        except Shutdown:
            print("\nfeedbackmesh up: stopping (services drain first) ...", flush=True)
        except UpError as exc:
            print(f"feedbackmesh up: {exc}", file=sys.stderr, flush=True)
            return exc.code
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
        self.stores = start_stores(
            self.settings, self.settings.data_dir, valkey_port=self.plan.valkey
        )
        base_env = self._base_env()
        self._migrate(base_env)
        for spec in self.plan.processes:
            log = self.logs / f"{spec.name}.log"
            launch = service_launcher(spec, self._service_env(base_env, spec), log)
            self.services.append(ManagedProcess(spec.name, launch, log, self.run_dir, spec=spec))
        for proc in self.services:
            proc.start()
        self.envoy = self._envoy_process()
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

    def _base_env(self) -> dict[str, str]:
        assert self.stores is not None
        # The user's own FEEDBACKMESH_* settings (JWT secret, channel ...) pass through.
        env = {k: v for k, v in os.environ.items() if k not in _PER_PROCESS}
        env.update(
            PYTHONUNBUFFERED="1",
            FEEDBACKMESH_DATA_DIR=str(self.settings.data_dir),
            FEEDBACKMESH_DATABASE_URL=self.stores.database_url,
            FEEDBACKMESH_REDIS_URL=self.stores.redis_url,
            FEEDBACKMESH_CLICKHOUSE_URL=self.stores.clickhouse_url,
            FEEDBACKMESH_LOG_FORMAT=self.settings.log_format,
            FEEDBACKMESH_GRPC_HOST=self.plan.host,
            FEEDBACKMESH_METRICS_HOST=self.plan.host,
        )
        for key in SERVICES:
            env[f"FEEDBACKMESH_{key.upper()}_ADDR"] = self.plan.addr(key)
        return env

    @staticmethod
    def _service_env(base: dict[str, str], spec: ProcessSpec) -> dict[str, str]:
        return base | {
            "FEEDBACKMESH_GRPC_PORT": str(spec.grpc_port),
            "FEEDBACKMESH_METRICS_PORT": str(spec.metrics_port),
        }

    def _migrate(self, env: dict[str, str]) -> None:
        """A subprocess, so that this process never opens the chDB directory (chDB allows one
        process per directory, and ingest/analytics need it next)."""
        print("feedbackmesh up: applying migrations ...", flush=True)
        log_path = self.logs / "migrate.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "feedbackmesh.cli", "migrate"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=MIGRATE_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if code != 0:
            what = "timed out" if code is None else f"failed (exit code {code})"
            raise UpError(f"migrations {what}; {log_path}:\n{log_tail(log_path)}")

    def _envoy_process(self) -> ManagedProcess:
        from gateway import DEFAULT_DESCRIPTOR

        path = self.options.descriptor or DEFAULT_DESCRIPTOR
        gateway_settings = self.settings.model_copy(
            update={"gateway_port": self.plan.gateway, "envoy_admin_port": self.plan.admin}
        )
        try:
            text = render_envoy_config(
                gateway_settings,
                descriptor=path.read_bytes(),
                upstreams={key: self.plan.addr(key) for key in SERVICES},
                admin_address="127.0.0.1",
            )
        except (DescriptorError, OSError, ValueError) as exc:
            raise UpError(f"cannot render the Envoy config: {exc}") from exc
        config = self.settings.data_dir / "envoy" / "envoy.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(text, encoding="utf-8")
        log = self.logs / "envoy.log"

        def launch() -> subprocess.Popen[bytes]:
            with ignoring_sigint():
                return start_envoy(config, log)

        return ManagedProcess("envoy", launch, log, self.run_dir)

    # --- readiness ------------------------------------------------------------------------
    def _wait_ready(self) -> list[tuple[str, Path]]:
        """[] when everything passes; else what is still not up (with its log) at timeout."""
        probe = HealthProbe()
        deadline = time.monotonic() + self.options.timeout
        gateway = f"http://127.0.0.1:{self.plan.gateway}/healthz"
        admin = f"http://127.0.0.1:{self.plan.admin}"
        try:
            while True:
                self._check_processes()
                waiting: list[tuple[str, Path]] = []
                for proc in self.services:
                    assert proc.spec is not None
                    addr = f"127.0.0.1:{proc.spec.grpc_port}"
                    for target in proc.spec.targets:
                        if not probe.service_serving(addr, service_name(target)):
                            waiting.append((f"{proc.name} ({service_name(target)})", proc.log_path))
                assert self.envoy is not None
                if not http_ok(gateway):
                    waiting.append((f"envoy ({gateway})", self.envoy.log_path))
                elif not waiting:
                    for key in unhealthy_clusters(admin, list(SERVICES)):
                        label = f"envoy -> {key} (upstream health checks not passing)"
                        waiting.append((label, self.envoy.log_path))
                if not waiting or time.monotonic() > deadline:
                    return waiting
                time.sleep(POLL_SECONDS)
        finally:
            probe.close()

    def _not_ready_message(self, waiting: list[tuple[str, Path]]) -> str:
        lines = [f"the mesh did not come up within {self.options.timeout:g}s; not ready:"]
        lines += [f"  - {label}" for label, _ in waiting]
        for log in dict.fromkeys(path for _, path in waiting):
            lines.append(f"last lines of {log}:\n{log_tail(log)}")
        return "\n".join(lines)

    # --- running --------------------------------------------------------------------------
    def _supervise(self) -> None:
        while True:
            self._check_processes()
            time.sleep(POLL_SECONDS)

    def _check_processes(self) -> None:
        procs = [*self.services, *([self.envoy] if self.envoy else [])]
        for proc in procs:
            proc.check()
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
        }
        if "postgres" in self.stores.embedded:
            # Passwordless Unix-socket URL: handy for psql and the acceptance test.
            status["database_url"] = self.stores.database_url
        write_status(status_path, status)

    # --- stop -----------------------------------------------------------------------------
    def _stop(self) -> None:
        grace = self.settings.drain_delay_seconds + self.settings.drain_grace_seconds + 5.0
        stop_all(self.services, timeout=grace)
        if self.envoy is not None:
            stop_all([self.envoy], timeout=5.0)
        if self.stores is not None:
            self.stores.stop()
        (self.run_dir / "status.json").unlink(missing_ok=True)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Set per service process; a value inherited from the user's shell would clash.
_PER_PROCESS = {"FEEDBACKMESH_GRPC_PORT", "FEEDBACKMESH_METRICS_PORT"}


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signum)


def _lock_data_dir(path: Path, data_dir: Path) -> IO[str]:
    """One `up` per data directory: two would fight over PostgreSQL, Valkey and chDB."""
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise UpError(
            f"another `feedbackmesh up` (pid {holder}) is using {data_dir}; stop it first "
            "or pass --data-dir",
            code=2,
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
