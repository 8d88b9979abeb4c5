"""The client wheel as a consumer gets it: its contents and dependencies, and mypy over a
consumer script installed against it (PEP 561: ``py.typed`` and the ``.pyi`` stubs).

``.ci/run`` builds the wheel first and names it in FEEDBACKMESH_CLIENT_WHEEL; without
that variable the test builds one the same way (pip's isolated build).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GOOD = """
    import grpc

    from feedbackmesh.client import FeedbackMeshClient, FeedbackType, Granularity, SentimentLabel
    from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc


    def use(client: FeedbackMeshClient) -> float:
        stored = client.submit(feedback_type=FeedbackType.AGENT, agent_id=1, rating=5)
        total: int = stored.rating
        for feedback in client.list(min_rating=4, sentiment=SentimentLabel.POSITIVE):
            total += feedback.rating
        ratings = client.ratings_analytics(granularity=Granularity.DAY)
        stub = feedback_pb2_grpc.FeedbackServiceStub(grpc.insecure_channel("localhost:50051"))
        fetched = stub.GetFeedback(feedback_pb2.GetFeedbackRequest(id=stored.id))
        return total + ratings.avg_rating + fetched.sentiment_score
"""
# Each line marked "# error" must be reported by mypy, and nothing else.
BAD = """
    import grpc

    from feedbackmesh.client import FeedbackMeshClient, FeedbackType
    from feedbackmesh.feedback.v1 import feedback_pb2, feedback_pb2_grpc


    def use(client: FeedbackMeshClient) -> None:
        client.submit(feedback_type=FeedbackType.AGENT, agent_id=1, rating="five")  # error
        client.list(min_rating="4")  # error
        comment: int = client.get(1).comment  # error
        feedback_pb2.SubmitFeedbackRequest(rating="five")  # error
        stub = feedback_pb2_grpc.FeedbackServiceStub(grpc.insecure_channel("localhost:50051"))
        rating: str = stub.GetFeedback(feedback_pb2.GetFeedbackRequest(id=1)).rating  # error
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = os.environ.get("FEEDBACKMESH_CLIENT_WHEEL")
    if built:
        return Path(built)
    # Built from a copy: setuptools leaves build/ and egg-info directories in its source.
    source = tmp_path_factory.mktemp("client-source") / "python"
    skip = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    shutil.copytree(REPO / "clients" / "python", source, ignore=skip)
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
    subprocess.run([*pip, "-w", str(out), str(source)], check=True)
    [found] = out.glob("feedbackmesh_client-*.whl")
    return found


def test_the_wheel_holds_the_typed_api_and_depends_on_three_packages(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = re.findall(
            r"^Requires-Dist: ([A-Za-z0-9_.-]+)(.*)$", archive.read(metadata).decode(), re.M
        )
    assert "feedbackmesh/py.typed" in names and "feedbackmesh/client/sync.py" in names
    for service in ("feedback", "sentiment", "analytics", "ingest"):
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert f"feedbackmesh/{service}/v1/{service}{suffix}" in names
    assert not [n for n in names if n.split("/")[0] in ("mesh_runtime", "mesh_app", "feedback_svc")]
    runtime = {name.lower() for name, rest in requires if "extra ==" not in rest}
    assert runtime == {"grpcio", "protobuf", "googleapis-common-protos"}


def test_mypy_checks_consumer_code_against_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True)
    # grpcio, protobuf and their type stubs come from this environment, after the wheel.
    [site] = venv.glob("lib/python*/site-packages")
    ours = [p for p in sys.path if p.endswith("site-packages")]
    (site / "zz_test_environment.pth").write_text("\n".join(ours) + "\n")
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad.py").write_text(textwrap.dedent(BAD))

    def mypy(*files: str) -> str:
        command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
        command += ["--python-executable", str(python), "--config-file", os.devnull]
        command += files
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
        return done.stdout + done.stderr

    report = mypy("good.py", "bad.py")
    flagged = {int(n) for n in re.findall(r"^bad\.py:(\d+): error", report, re.M)}
    expected = {
        i + 1
        for i, line in enumerate(textwrap.dedent(BAD).splitlines())
        if line.endswith("# error")
    }
    assert flagged == expected, report
    assert "good.py" not in report, report

    # Without py.typed mypy does not read the package at all: the marker is what works.
    [marker] = site.glob("feedbackmesh/py.typed")
    marker.unlink()
    assert "py.typed" in mypy("good.py"), "the wheel's package was typed without its marker"
