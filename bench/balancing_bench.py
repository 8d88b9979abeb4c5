"""How peer calls spread over replicas: client-side round robin vs one pinned connection.

    python bench/balancing_bench.py [--seconds 12] [--late 3]

Two in-process gRPC servers stand in for two pods of a service; the second starts
``--late`` seconds after the client (a replica added by the HPA). The client is a channel
built by ``Resources.channel`` (the mesh's peer channel options) to a static two-address
target, which is what a headless Service's DNS answer gives it; with ``pick_first`` it
behaves like one HTTP/2 connection through a ClusterIP (kube-proxy picks a pod per
connection, not per call). Prints calls per server and when the late one got its first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mesh_runtime.net import free_port
from mesh_runtime.resources import Resources
from mesh_runtime.settings import Settings

METHOD = "/bench.Echo/Call"


class Counter(grpc.GenericRpcHandler):
    def __init__(self) -> None:
        self.calls = 0
        self.first_at: float | None = None

    def service(
        self, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[bytes, bytes] | None:
        async def call(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            self.calls += 1
            if self.first_at is None:
                self.first_at = time.monotonic()
            return request

        return grpc.unary_unary_rpc_method_handler(call)


async def _server(port: int, counter: Counter) -> grpc.aio.Server:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([counter])
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


async def run(policy: str, seconds: float, late: float) -> str:
    ports = [free_port(), free_port()]
    counters = [Counter(), Counter()]
    servers = [await _server(ports[0], counters[0])]
    settings = Settings(peer_lb_policy=policy)
    resources = Resources(settings)
    channel = resources.channel(f"ipv4:127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}")
    call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(METHOD)
    started = time.monotonic()
    late_started: float | None = None
    while time.monotonic() - started < seconds:
        if late_started is None and time.monotonic() - started >= late:
            servers.append(await _server(ports[1], counters[1]))
            late_started = time.monotonic()
        await asyncio.gather(*(call(b"x", timeout=5) for _ in range(8)))
        await asyncio.sleep(0.01)
    await resources.close()
    for server in servers:
        await server.stop(None)
    total = sum(c.calls for c in counters)
    first = counters[1].first_at
    after = f"{first - late_started:.2f} s" if first and late_started else "never"
    share = ", ".join(f"{c.calls / total:.0%}" for c in counters)
    return f"| {policy} | {total} | {share} | {after} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--late", type=float, default=3.0)
    args = parser.parse_args()
    print("| policy | calls | share (first, late server) | late server's first call after |")
    print("|---|---|---|---|")
    for policy in ("round_robin", "pick_first"):
        print(await run(policy, args.seconds, args.late))


if __name__ == "__main__":
    asyncio.run(main())
