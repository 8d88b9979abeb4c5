"""Checks the monitoring assets against promtool and, optionally, live /metrics pages.

    python scripts/check_monitoring.py                       # PromQL of every dashboard parses
    python scripts/check_monitoring.py --metrics URL [URL...] # ... and names only metrics
                                                             # that those pages export

Dashboards are ``deploy/grafana/dashboards/*.json``; the alert rules are
``deploy/prometheus/alerts.yml``. Parsing is promtool's (``promtool check rules`` on a
temporary rule file holding each query as a recording rule), so it is Prometheus' own parser.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"

# Grafana's built-in intervals, and the dashboards' own variables, as a parsable stand-in.
_INTERVALS = re.compile(r"\$__(rate_interval|interval|range)\b")
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
_VARIABLE_VALUES = {"top": "10"}
# PromQL words that are not metric names.
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"offset", "bool", "inf", "nan"}
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?")
_NUMBER_SUFFIX = re.compile(r"\d[\w.]*")


@dataclass(frozen=True)
class Query:
    source: str  # "dashboard title / panel title" or "alert NAME"
    expr: str  # with Grafana variables replaced


def grafana_to_promql(expr: str) -> str:
    expr = _INTERVALS.sub("5m", expr)
    return _VARIABLE.sub(lambda m: _VARIABLE_VALUES.get(m.group(1), ".*"), expr)


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries(directory: Path = DASHBOARDS) -> list[Query]:
    queries = []
    for path in sorted(directory.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                source = f"{board['title']} / {panel['title']}"
                queries.append(Query(source, grafana_to_promql(target["expr"])))
    return queries


def alert_queries(path: Path = ALERTS) -> list[Query]:
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return [Query(f"alert {r['alert']}", r["expr"]) for g in groups for r in g["rules"]]


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise SystemExit("promtool not found: apt-get install prometheus (see .ci/run)")
    return path


def parse_errors(queries: Iterable[Query]) -> str:
    """promtool's complaints about the queries ('' when every one parses)."""
    rules = [
        {"record": f"check:query_{i}", "expr": q.expr, "labels": {"source": q.source}}
        for i, q in enumerate(queries)
    ]
    with tempfile.TemporaryDirectory(prefix="feedbackmesh-promql-") as tmp:
        path = Path(tmp) / "queries.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
        result = subprocess.run(
            [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
    return "" if result.returncode == 0 else (result.stdout + result.stderr).strip()


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, label names
    and strings left out)."""
    stripped = _STRINGS.sub('""', expr)
    stripped = _BRACES.sub(" ", _RANGES.sub(" ", _LABEL_LISTS.sub(" ", stripped)))
    stripped = _NUMBER_SUFFIX.sub(" ", stripped)
    return {
        m.group(1)
        for m in _IDENTIFIER.finditer(stripped)
        if m.group(2) is None and m.group(1) not in _KEYWORDS
    }


def exported_names(page: str) -> set[str]:
    """Every sample name a /metrics page has or declares (a labelled metric with no
    children yet shows only its ``# TYPE`` line)."""
    names: set[str] = set()
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "counter":
                names.add(name.removesuffix("_total") + "_total")
            elif kind == "histogram":
                names.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def unknown_names(queries: Iterable[Query], exported: set[str]) -> dict[str, set[str]]:
    """source -> metric names it uses that no page exports (``up`` is Prometheus' own)."""
    missing: dict[str, set[str]] = {}
    for query in queries:
        unknown = metric_names(query.expr) - exported - {"up"}
        if unknown:
            missing.setdefault(query.source, set()).update(unknown)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", nargs="*", default=[], help="/metrics URLs to check names")
    args = parser.parse_args(argv)
    queries = dashboard_queries()
    errors = parse_errors(queries)
    if errors:
        print(errors, file=sys.stderr)
        return 1
    print(f"{len(queries)} dashboard queries parse")
    if args.metrics:
        exported: set[str] = set()
        for url in args.metrics:
            with urllib.request.urlopen(url, timeout=10) as response:
                exported |= exported_names(response.read().decode())
        missing = unknown_names([*queries, *alert_queries()], exported)
        for source, names in sorted(missing.items()):
            print(f"{source}: not exported: {', '.join(sorted(names))}", file=sys.stderr)
        if missing:
            return 1
        print("every metric the dashboards and alerts use is exported")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
