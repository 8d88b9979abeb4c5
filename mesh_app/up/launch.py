"""What ``feedbackmesh up`` starts: the services' environment, the migration run and the
Envoy process (its config rendered into the data directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.config import render_envoy_config
from gateway.descriptor import DescriptorError
from gateway.envoy import start_envoy
from mesh_app import registry
from mesh_app.up.liveness import LivenessCheck
from mesh_app.up.ports import PortPlan, ProcessSpec
from mesh_app.up.stores import Stores, ignoring_sigint
from mesh_app.up.supervisor import ManagedProcess, log_tail
from mesh_runtime.settings import Settings

MIGRATE_TIMEOUT_SECONDS = 300.0
# Set per service process; a value inherited from the user's shell would clash.
_PER_PROCESS = {"FEEDBACKMESH_GRPC_PORT", "FEEDBACKMESH_METRICS_PORT"}


class UpError(Exception):
    """Start-up failed for a reason that needs no traceback (message, exit code)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def mesh_env(settings: Settings, plan: PortPlan, stores: Stores) -> dict[str, str]:
    """The environment every service process (and the migration) runs with."""
    # The user's own FEEDBACKMESH_* settings (JWT secret, channel ...) pass through.
    env = {k: v for k, v in os.environ.items() if k not in _PER_PROCESS}
    env.update(
        PYTHONUNBUFFERED="1",
        FEEDBACKMESH_DATA_DIR=str(settings.data_dir),
        FEEDBACKMESH_DATABASE_URL=stores.database_url,
        FEEDBACKMESH_REDIS_URL=stores.redis_url,
        FEEDBACKMESH_CLICKHOUSE_URL=stores.clickhouse_url,
        FEEDBACKMESH_LOG_FORMAT=settings.log_format,
        FEEDBACKMESH_GRPC_HOST=plan.host,
        FEEDBACKMESH_METRICS_HOST=plan.host,
    )
    for name in registry.SERVICE_NAMES:
        env[f"FEEDBACKMESH_PEERS__{name.upper()}"] = plan.addr(name)
    return env


def service_env(base: dict[str, str], spec: ProcessSpec) -> dict[str, str]:
    return base | {
        "FEEDBACKMESH_GRPC_PORT": str(spec.grpc_port),
        "FEEDBACKMESH_METRICS_PORT": str(spec.metrics_port),
    }


def run_migrations(env: dict[str, str], log_path: Path) -> None:
    """``feedbackmesh migrate`` as a subprocess, so that `up` never opens the chDB directory
    (chDB allows one process per directory, and ingest/analytics need it next)."""
    print("feedbackmesh up: applying migrations ...", flush=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mesh_app.cli", "migrate"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code: int | None = proc.wait(timeout=MIGRATE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if code != 0:
        what = "timed out" if code is None else f"failed (exit code {code})"
        raise UpError(f"migrations {what}; {log_path}:\n{log_tail(log_path)}")


def envoy_process(
    settings: Settings,
    plan: PortPlan,
    descriptor: Path | None,
    run_dir: Path,
    logs: Path,
    liveness: LivenessCheck | None = None,
) -> ManagedProcess:
    """Renders data_dir/envoy/envoy.json (descriptor inlined) and wraps Envoy for supervision."""
    from gateway import DEFAULT_DESCRIPTOR

    gateway_settings = settings.model_copy(
        update={"gateway_port": plan.gateway, "envoy_admin_port": plan.admin}
    )
    try:
        text = render_envoy_config(
            gateway_settings,
            descriptor=(descriptor or DEFAULT_DESCRIPTOR).read_bytes(),
            upstreams=registry.upstreams({n: plan.addr(n) for n in registry.SERVICE_NAMES}),
            admin_address="127.0.0.1",
        )
    except (DescriptorError, OSError, ValueError) as exc:
        raise UpError(f"cannot render the Envoy config: {exc}") from exc
    config = settings.data_dir / "envoy" / "envoy.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")
    log = logs / "envoy.log"

    def launch() -> subprocess.Popen[bytes]:
        with ignoring_sigint():
            return start_envoy(config, log)

    return ManagedProcess("envoy", launch, log, run_dir, liveness=liveness)
