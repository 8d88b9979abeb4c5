"""The dashboard bundle the gateway serves is committed; these tests fail when it is stale."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_dashboard", REPO / "scripts" / "build_dashboard.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_dashboard"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_bundle_is_a_fresh_build() -> None:
    stale = _builder().stale_files()
    assert stale == [], f"run `python scripts/build_dashboard.py`; stale: {stale}"


def test_a_changed_missing_or_extra_file_is_detected(tmp_path: Path) -> None:
    built, committed = tmp_path / "built", tmp_path / "committed"
    for root in (built, committed):
        (root / "assets").mkdir(parents=True)
        (root / "index.html").write_text("<html></html>")
    (built / "assets" / "app-new.js").write_text("1")
    (committed / "assets" / "app-old.js").write_text("1")
    (committed / "index.html").write_text("<html>old</html>")
    differences = _builder().differences(built, committed)
    assert differences == ["assets/app-new.js", "assets/app-old.js", "index.html"]
