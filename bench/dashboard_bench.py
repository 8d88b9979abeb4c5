"""The dashboard in a real browser: first load, and submit -> chart latency of live updates.

    feedbackmesh up &                     # a mesh with the development secret
    python bench/dashboard_bench.py --gateway http://127.0.0.1:8080 --count 50

Headless Debian Chromium (Playwright, the browser tests' flags). For each submission the
bench POSTs one feedback (timed from its 200), polls the ratings API until the row counts
(the moment it reached ClickHouse, as the API sees it) and waits for the open page's
"Feedback per bucket" chart data (its Data table) to show the new count, timed by a
MutationObserver with the browser's clock (the machine's wall clock). It also times first
loads (fresh browser context each) and sizes the bundle as the gateway serves it gzipped.
Figures go to bench/README.md ("Dashboard").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from typing import Any

from playwright.sync_api import sync_playwright

from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The sum of the count chart's Data table (one row per bucket), at every change of the view.
OBSERVE_CHART = """() => {
  window.__chartChanges = [];
  const sum = () => [...document.querySelectorAll('[data-testid=chart-count-table] tbody tr')]
    .reduce((n, row) => n + Number(row.cells[1]?.textContent || 0), 0);
  new MutationObserver(() => window.__chartChanges.push([Date.now(), sum()]))
    .observe(document.querySelector('main'),
             {childList: true, characterData: true, subtree: true});
}"""
BUNDLE_FILES = """() => [location.pathname,
  ...[...document.querySelectorAll('script[src], link[rel=stylesheet]')]
     .map(e => new URL(e.src || e.href).pathname)]"""


def _call(gateway: str, token: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        gateway + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


def _gzipped_sizes(gateway: str, paths: list[str]) -> dict[str, tuple[int, str]]:
    """Bytes on the wire per file when the browser accepts gzip, and the encoding served."""
    sizes = {}
    for path in paths:
        request = urllib.request.Request(gateway + path, headers={"accept-encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            sizes[path] = (len(reply.read()), reply.headers.get("content-encoding") or "identity")
    return sizes


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--loads", type=int, default=10, help="first loads to time")
    args = parser.parse_args()
    tenant = f"bench-dashboard-{uuid.uuid4().hex[:8]}"
    token = mint_token(
        Settings(), tenant_id=tenant, user_id="bench", scopes=DEFAULT_USER_SCOPES, ttl_seconds=3600
    )
    url = f"{args.gateway}/#token={token}"
    loads: list[float] = []
    submit_to_chart: list[float] = []
    clickhouse_to_chart: list[float] = []
    sizes: dict[str, tuple[int, str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for _ in range(args.loads):
            context = browser.new_context()  # an empty cache each time
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("main [data-state]:not([data-state=loading])")
            loads.append(time.perf_counter() - started)
            if not sizes:
                sizes = _gzipped_sizes(args.gateway, page.evaluate(BUNDLE_FILES))
            context.close()
        page = browser.new_page()
        page.set_default_timeout(60_000)
        # One feedback first, so the Ratings view has a total to watch.
        body = {"request_id": "warm", "feedback_type": "FEEDBACK_TYPE_GENERAL", "rating": 4}
        _call(args.gateway, token, "/v1/feedback", body)
        while _call(args.gateway, token, "/v1/analytics/ratings")["total_count"] < 1:
            time.sleep(0.05)
        page.goto(url)
        page.wait_for_selector("[data-testid=ratings-total]")
        state = page.locator("[data-testid=live-state]")
        page.wait_for_selector("[data-testid=live-state]:not([data-state=connecting])")
        if state.get_attribute("data-state") == "unavailable":
            browser.close()
            _report(tenant, sizes, loads, [], [])
            sys.exit("no live updates: this gateway has no GET /v1/analytics:watch")
        page.wait_for_selector("[data-testid=live-state][data-state=live]")
        page.evaluate(OBSERVE_CHART)
        for i in range(args.count):
            expected = i + 2
            body = {"request_id": f"b{i}", "feedback_type": "FEEDBACK_TYPE_GENERAL", "rating": 5}
            _call(args.gateway, token, "/v1/feedback", body)  # raises unless 200
            submitted = time.time()
            while _call(args.gateway, token, "/v1/analytics/ratings")["total_count"] < expected:
                time.sleep(0.02)
            reached = time.time()
            page.wait_for_function(
                "n => window.__chartChanges.some(([, sum]) => sum === n)", arg=expected
            )
            shown = page.evaluate(
                "n => window.__chartChanges.find(([, sum]) => sum === n)[0]", expected
            )
            submit_to_chart.append(shown / 1000 - submitted)
            clickhouse_to_chart.append(shown / 1000 - reached)
        browser.close()
    _report(tenant, sizes, loads, submit_to_chart, clickhouse_to_chart)


def _report(
    tenant: str,
    sizes: dict[str, tuple[int, str]],
    loads: list[float],
    submit_to_chart: list[float],
    clickhouse_to_chart: list[float],
) -> None:
    print(f"tenant {tenant}, load average {os.getloadavg()}")
    for path, (size, encoding) in sizes.items():
        print(f"bundle {path}: {size:,} B on the wire ({encoding})")
    print(f"bundle total on the wire: {sum(size for size, _ in sizes.values()):,} B")
    print(
        f"first load (empty cache, to the first view drawn): p50 {statistics.median(loads):.2f} s,"
        f" min {min(loads):.2f}, max {max(loads):.2f} (n={len(loads)})"
    )
    for name, values in (
        ("submit (200) -> chart", submit_to_chart),
        ("API saw it -> chart", clickhouse_to_chart),
    ):
        if values:
            print(
                f"{name}: p50 {_percentile(values, 0.5):.3f} s,"
                f" p99 {_percentile(values, 0.99):.3f} s, max {max(values):.3f} s"
                f" (n={len(values)})"
            )


if __name__ == "__main__":
    main()
