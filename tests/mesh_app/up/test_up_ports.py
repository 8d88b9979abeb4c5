"""Port planning and the port-in-use message of `feedbackmesh up`."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_app.up.ports import (
    busy_ports,
    plan_ports,
    port_in_use,
    port_in_use_message,
)
from mesh_runtime.settings import Settings


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_default_plan_uses_the_documented_ports() -> None:
    plan = plan_ports(
        Settings(), base_port=None, gateway_port=None, host="127.0.0.1", colocate_clickhouse=True
    )
    assert (plan.gateway, plan.admin) == (8080, 9901)
    assert [(p.name, p.grpc_port, p.metrics_port) for p in plan.processes] == [
        ("feedback", 50051, 9101),
        ("sentiment", 50052, 9102),
        ("ingest-analytics", 50053, 9103),
    ]
    # Co-located targets share one address.
    assert plan.addr("analytics") == plan.addr("ingest") == "127.0.0.1:50053"


def test_base_port_packs_a_separate_mesh_into_eleven_ports() -> None:
    plan = plan_ports(
        Settings(), base_port=30000, gateway_port=None, host="127.0.0.1", colocate_clickhouse=False
    )
    ports = [port for port, _ in plan.labelled_ports()]
    assert sorted(ports) == list(range(30000, 30011))
    assert [p.name for p in plan.processes] == ["feedback", "sentiment", "ingest", "analytics"]
    assert plan.addr("analytics") == "127.0.0.1:30005"


def test_gateway_port_flag_wins() -> None:
    plan = plan_ports(
        Settings(), base_port=30000, gateway_port=8888, host="127.0.0.1", colocate_clickhouse=True
    )
    assert plan.gateway == 8888


def test_base_port_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="--base-port"):
        plan_ports(
            Settings(), base_port=65530, gateway_port=None, host="::1", colocate_clickhouse=True
        )


def test_busy_port_is_detected(listener: int) -> None:
    assert port_in_use("127.0.0.1", listener)
    plan = plan_ports(
        Settings(), base_port=None, gateway_port=listener, host="0.0.0.0", colocate_clickhouse=True
    )
    assert (listener, "gateway") in busy_ports(plan)


def test_message_is_one_line_naming_every_port() -> None:
    message = port_in_use_message([(8080, "gateway"), (50051, "feedback gRPC")])
    assert "\n" not in message
    assert "8080 (gateway)" in message and "50051 (feedback gRPC)" in message
    assert "--base-port" in message


def test_up_reports_a_busy_port_in_one_line_and_exits_2(listener: int, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mesh_app.cli", "up", "--data-dir", str(tmp_path)),
            *("--gateway-port", str(listener), "--base-port", "31000"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"{listener} (gateway)" in lines[0]
    # Nothing was started: no embedded PostgreSQL directory.
    assert not (tmp_path / "postgres").exists()
