"""Generated code is committed; these tests fail when it is stale."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", REPO / "scripts" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_generated_code_is_fresh() -> None:
    stale = _generator().stale_files()
    assert stale == [], f"run `python scripts/generate.py`; stale: {stale}"


def test_a_proto_change_without_regeneration_is_detected(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(REPO / "protos", protos)
    proto = protos / "feedbackmesh" / "sentiment" / "v1" / "sentiment.proto"
    text = proto.read_text().replace(
        "  string text = 1;\n", "  string text = 1;\n  string language = 2;\n", 1
    )
    proto.write_text(text)
    stale = _generator().stale_files(REPO, protos)
    assert "clients/python/src/feedbackmesh/sentiment/v1/sentiment_pb2.py" in stale
    assert "gateway/generated/feedbackmesh.pb" in stale
