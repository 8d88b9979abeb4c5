"""Gateway overhead: the same calls as JSON through Envoy and as direct gRPC, in one run.

    python bench/gateway_bench.py [--duration 10] [--concurrency 16] [--data-dir DIR]

Starts a real ``feedbackmesh up`` (embedded stores, free ports, a temporary data dir unless
``--data-dir``), then, for SubmitFeedback and GetRatingsAnalytics, runs each transport for
``--duration`` seconds with ``--concurrency`` requests in flight and prints a Markdown table
of requests/s and p50/p99 latency (the one recorded in bench/README.md).

Both clients run in this one process: grpc.aio for gRPC, and for JSON a minimal asyncio
HTTP/1.1 keep-alive client (one connection per in-flight request) rather than httpx, whose
pure-Python machinery would be the bottleneck and hide the gateway. A ``GET /healthz`` row
(answered by Envoy itself) shows the ceiling of that client + Envoy without any service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from feedbackmesh.analytics.v1 import analytics_pb2, analytics_pb2_grpc  # noqa: E402
from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc  # noqa: E402
from mesh_app.up.demo_data import generate_feedback  # noqa: E402
from mesh_app.up.ports import port_in_use  # noqa: E402
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token  # noqa: E402
from mesh_runtime.settings import Settings  # noqa: E402

Call = Callable[[], Awaitable[None]]
ROUNDS = 5


class RawHttp:
    """HTTP/1.1 keep-alive connections to one host:port, one request at a time each."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self._addr = (host, port)
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._size = size

    async def open(self) -> None:
        for _ in range(self._size):
            self._idle.put_nowait(await asyncio.open_connection(*self._addr))

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()

    async def request(self, method: str, path: str, headers: str, body: bytes = b"") -> int:
        reader, writer = await self._idle.get()
        try:
            head = f"{method} {path} HTTP/1.1\r\nhost: bench\r\n{headers}"
            head += f"content-length: {len(body)}\r\n\r\n"
            writer.write(head.encode() + body)
            status, _ = await _read_response(reader)
        except BaseException:
            writer.close()
            reader, writer = await asyncio.open_connection(*self._addr)
            raise
        finally:
            self._idle.put_nowait((reader, writer))
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        return status


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    status = int(head.split(" ", 2)[1])
    if "transfer-encoding: chunked" in head:
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readline()).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks)
            chunks.append(data[:-2])
    length = 0
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return status, await reader.readexactly(length)


def start_mesh(data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    rng = random.Random()
    base = next(
        b
        for b in (rng.randrange(20_000, 40_000) for _ in range(200))
        if not any(port_in_use("127.0.0.1", b + i) for i in range(11))
    )
    out = (data_dir / "up.out").open("wb")
    cmd = [sys.executable, "-m", "mesh_app.cli", "up", "--data-dir", str(data_dir)]
    proc = subprocess.Popen([*cmd, "--base-port", str(base)], stdout=out, stderr=out)
    status_path = data_dir / "run" / "status.json"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit((data_dir / "up.out").read_text())
        if status_path.exists():
            status = json.loads(status_path.read_text())
            if status.get("ready"):
                return proc, status
        time.sleep(0.25)
    proc.kill()
    raise SystemExit("feedbackmesh up did not become ready")


async def run_for(call: Call, duration: float, concurrency: int) -> list[float]:
    """``concurrency`` workers calling back to back for ``duration`` s; latencies in s."""
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < end:
            started = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if errors:
        print(f"  ({errors} errors)", file=sys.stderr)
    return latencies


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (Linux /proc), 0 where unreadable."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def row(name: str, latencies: list[float], duration: float, cpu: tuple[float, float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    envoy, services = (1000 * c / len(ordered) for c in cpu)
    return (
        f"| {name} | {len(ordered) / duration:,.0f} | {p50:.1f} | {p99:.1f} "
        f"| {envoy:.2f} | {services:.2f} |"
    )


async def bench(status: dict[str, Any], duration: float, concurrency: int) -> list[str]:
    settings = Settings()
    token = mint_token(
        settings, tenant_id="bench", user_id="bench-user", scopes=DEFAULT_USER_SCOPES
    )
    metadata = (("authorization", f"Bearer {token}"),)
    rng = random.Random(1)
    procs = status["processes"]
    feedback_addr = f"127.0.0.1:{procs['feedback']['grpc_port']}"
    analytics = next(p for p in procs.values() if "analytics" in p["targets"])
    analytics_addr = f"127.0.0.1:{analytics['grpc_port']}"

    def body() -> dict[str, Any]:
        item = generate_feedback(rng)
        item["request_id"] = f"bench-{uuid.uuid4()}"
        return item

    gateway_port = int(status["gateway_url"].rsplit(":", 1)[1])
    http = RawHttp("127.0.0.1", gateway_port, concurrency)
    await http.open()
    auth_header = f"authorization: Bearer {token}\r\n"
    json_header = auth_header + "content-type: application/json\r\n"
    async with (
        grpc.aio.insecure_channel(feedback_addr) as feedback_channel,
        grpc.aio.insecure_channel(analytics_addr) as analytics_channel,
        # Native gRPC through Envoy (its routes match gRPC paths): the hop without transcoding.
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway_port}") as envoy_channel,
    ):
        via_envoy = feedback_pb2_grpc.FeedbackServiceStub(envoy_channel)
        feedback = feedback_pb2_grpc.FeedbackServiceStub(feedback_channel)
        analytics_stub = analytics_pb2_grpc.AnalyticsServiceStub(analytics_channel)

        async def json_submit() -> None:
            await http.request("POST", "/v1/feedback", json_header, json.dumps(body()).encode())

        async def grpc_submit() -> None:
            request = json_format.ParseDict(body(), feedback_pb2.SubmitFeedbackRequest())
            await feedback.SubmitFeedback(request, metadata=metadata, timeout=30)

        async def grpc_submit_via_envoy() -> None:
            request = json_format.ParseDict(body(), feedback_pb2.SubmitFeedbackRequest())
            await via_envoy.SubmitFeedback(request, metadata=metadata, timeout=30)

        async def json_ratings() -> None:
            await http.request("GET", "/v1/analytics/ratings", auth_header)

        async def json_healthz() -> None:
            # Answered by Envoy itself: the ceiling of this HTTP client + Envoy, no service.
            await http.request("GET", "/healthz", "")

        async def grpc_ratings() -> None:
            request = analytics_pb2.GetRatingsAnalyticsRequest()
            await analytics_stub.GetRatingsAnalytics(request, metadata=metadata, timeout=30)

        # Warm up: connections, the analyzer, ClickHouse caches.
        for call in (json_submit, grpc_submit, grpc_submit_via_envoy, json_ratings, grpc_ratings):
            await run_for(call, 1.0, concurrency)
        # Rounds alternate the transports, so a load spike on a shared machine hits both.
        scenarios = (
            ("SubmitFeedback, JSON via Envoy", json_submit),
            ("SubmitFeedback, direct gRPC", grpc_submit),
            ("SubmitFeedback, gRPC via Envoy (no transcoding)", grpc_submit_via_envoy),
            ("GetRatingsAnalytics, JSON via Envoy", json_ratings),
            ("GetRatingsAnalytics, direct gRPC", grpc_ratings),
            ("GET /healthz (Envoy only: client ceiling)", json_healthz),
        )
        samples: dict[str, list[float]] = {name: [] for name, _ in scenarios}
        # CPU per request holds up on a busy machine where requests/s does not.
        cpu: dict[str, tuple[float, float]] = {name: (0.0, 0.0) for name, _ in scenarios}
        envoy_pid = [int(status["envoy"]["pid"])]
        service_pids = [int(p["pid"]) for p in procs.values()]
        for _ in range(ROUNDS):
            for name, call in scenarios:
                before = cpu_seconds(envoy_pid), cpu_seconds(service_pids)
                samples[name] += await run_for(call, duration / ROUNDS, concurrency)
                after = cpu_seconds(envoy_pid), cpu_seconds(service_pids)
                cpu[name] = (
                    cpu[name][0] + after[0] - before[0],
                    cpu[name][1] + after[1] - before[1],
                )
        rows = [row(name, samples[name], duration, cpu[name]) for name, _ in scenarios]
    await http.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fm-gateway-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        proc, status = start_mesh(data_dir)
        try:
            rows = asyncio.run(bench(status, args.duration, args.concurrency))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    load = os.getloadavg()[0]
    print(
        f"\nconcurrency {args.concurrency}, {args.duration:g} s per row in {ROUNDS} alternating "
        f"rounds, {os.cpu_count()} CPUs, load average {load:.1f}\n"
    )
    print("| call | requests/s | p50 ms | p99 ms | Envoy CPU ms/req | services CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
