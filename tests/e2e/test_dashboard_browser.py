"""The dashboard in headless Chromium (Debian's package), served by a real `feedbackmesh up`.

Tests run in file order on one mesh. Screenshots of each view go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from chaos_helpers import hit
from e2e_helpers import Mesh
from playwright.sync_api import Browser, Page, sync_playwright

from mesh_app.up.demo_data import generate_feedback
from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.net import free_port
from mesh_runtime.settings import Settings

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
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
TENANT, OTHER = "browser-acme", "browser-globex"
WAIT_MS = 60_000

# Two pages on other origins: one the mesh allows, one it does not.
ALLOWED_PORT, FOREIGN_PORT = free_port(), free_port()
ALLOWED_ORIGIN = f"http://127.0.0.1:{ALLOWED_PORT}"
FOREIGN_ORIGIN = f"http://127.0.0.1:{FOREIGN_PORT}"
MESH_ENV = {"FEEDBACKMESH_CORS_ALLOWED_ORIGINS": ALLOWED_ORIGIN}


def token(tenant: str, settings: Settings | None = None) -> str:
    return mint_token(
        settings or Settings(),
        tenant_id=tenant,
        user_id="viewer",
        scopes=DEFAULT_USER_SCOPES,
        ttl_seconds=3600,
    )


def auth(tenant: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token(tenant)}"}


@pytest.fixture(scope="module")
def http(mesh: Mesh) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.gateway, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def other_origins() -> Iterator[None]:
    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>elsewhere</title><p>another site</p>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    ports = (ALLOWED_PORT, FOREIGN_PORT)
    servers = [ThreadingHTTPServer(("127.0.0.1", port), Elsewhere) for port in ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    for server in servers:
        server.shutdown()


def submit(http: httpx.Client, tenant: str, count: int, seed: int) -> None:
    import random

    rng = random.Random(seed)
    reply = http.post(
        "/v1/feedback:batchSubmit",
        json={"requests": [generate_feedback(rng) for _ in range(count)]},
        headers=auth(tenant),
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["created_count"] == count


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def total(http: httpx.Client, tenant: str) -> int:
    reply = http.get("/v1/analytics/ratings", headers=auth(tenant))
    assert reply.status_code == 200, reply.text
    return int(reply.json()["total_count"])


def open_dashboard(browser: Browser, mesh: Mesh, tenant: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York")
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{mesh.gateway}/#token={token(tenant)}")
    page.wait_for_selector("main [data-state=ready]")
    return page


def show(page: Page, view: str) -> None:
    page.get_by_role("button", name=view, exact=True).click()
    page.wait_for_selector(f"main[data-view={view.lower()}] [data-state=ready]")


def table(page: Page, test_id: str) -> list[list[str]]:
    rows = page.locator(f"[data-testid={test_id}] tbody tr")
    return [
        [cell.strip() for cell in rows.nth(i).locator("td").all_text_contents()]
        for i in range(rows.count())
    ]


def api(http: httpx.Client, tenant: str, path: str, query: str) -> Any:
    reply = http.get(f"{path}?{query}", headers=auth(tenant))
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_setup_data_for_two_tenants(mesh: Mesh, http: httpx.Client) -> None:
    submit(http, TENANT, 60, seed=1)
    submit(http, OTHER, 7, seed=2)
    wait_until(lambda: total(http, TENANT) == 60 and total(http, OTHER) == 7, "ingestion")


def test_dashboard_loads_from_the_gateway_signed_in_by_the_fragment(
    browser: Browser, mesh: Mesh
) -> None:
    page = open_dashboard(browser, mesh, TENANT)
    try:
        assert "token=" not in page.url  # dropped from the address bar once read
        assert page.get_by_test_id("tenant").inner_text().startswith(TENANT)
        # The time zone defaults to the browser's.
        assert page.locator("select[name=time_zone]").input_value() == "America/New_York"
        page.screenshot(path=ARTIFACTS / "ratings.png", full_page=True)
    finally:
        page.close()


def test_charts_show_the_numbers_the_api_returns(
    browser: Browser, mesh: Mesh, http: httpx.Client
) -> None:
    page = open_dashboard(browser, mesh, TENANT)
    try:
        query = page.locator("main").get_attribute("data-query") or ""
        assert "time_zone=America%2FNew_York" in query and "granularity=GRANULARITY_DAY" in query
        ratings = api(http, TENANT, "/v1/analytics/ratings", query)
        assert ratings["total_count"] == 60
        assert page.get_by_test_id("ratings-total").inner_text() == "60"
        assert page.get_by_test_id("ratings-average").inner_text() == f"{ratings['avg_rating']:.2f}"
        assert table(page, "chart-count-table") == [
            [p["date"], str(p["count"])] for p in ratings["series"]
        ]
        counts = [row[1] for row in table(page, "chart-distribution-table")]
        assert counts == [str(d["count"]) for d in ratings["distribution"]]
        # The SVG draws one bar per non-empty bucket.
        bars = page.locator("[data-testid=chart-count] .recharts-bar-rectangle path")
        assert bars.count() == sum(1 for p in ratings["series"] if p["count"])

        show(page, "Sentiment")
        sentiment = api(http, TENANT, "/v1/analytics/sentiment", query)
        totals = sentiment["totals"]
        for key in ("positive", "neutral", "negative", "no_comment"):
            shown = page.get_by_test_id(f"sentiment-{key}").inner_text()
            assert shown.startswith(f"{totals[key]} ("), (key, shown)
        assert table(page, "chart-sentiment-table") == [
            [p["date"], *(str(p[k]) for k in ("positive", "neutral", "negative", "no_comment"))]
            for p in sentiment["series"]
        ]
        page.screenshot(path=ARTIFACTS / "sentiment.png", full_page=True)

        show(page, "Usage")
        # The one request shape: the same range, granularity and zone as the other views.
        usage = api(http, TENANT, "/v1/analytics/usage-trends", query)
        assert page.get_by_test_id("usage-submissions").inner_text() == str(
            usage["total_submissions"]
        )
        assert table(page, "chart-usage-table") == [
            [p["date"], str(p["submissions"]), str(p["active_users"])] for p in usage["series"]
        ]
        assert table(page, "top-agents") == [
            [a["id"], str(a["count"]), f"{a['avg_rating']:.2f}"] for a in usage["top_agents"]
        ]
        page.screenshot(path=ARTIFACTS / "usage.png", full_page=True)

        show(page, "Feedback")
        newest = api(http, TENANT, "/v1/feedback", "page_size=25")["feedback"]
        ids = page.locator("[data-testid=feedback-list] tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.feedbackId)"
        )
        assert ids == [f["id"] for f in newest]
        page.locator("[data-testid=feedback-list] tbody tr").first.click()
        assert page.get_by_test_id("detail-id").inner_text() == newest[0]["id"]
        assert page.get_by_test_id("detail-rating").inner_text() == str(newest[0]["rating"])
        page.screenshot(path=ARTIFACTS / "feedback.png", full_page=True)
        page.get_by_role("button", name="Next →").click()
        page.wait_for_selector("[data-testid=feedback-page]:has-text('Page 2')")

        show_exports(page)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download Feedback (CSV)").click()
        assert re.fullmatch(
            rf"feedback-{TENANT}-\d{{8}}-\d{{6}}\.csv", download.value.suggested_filename
        )
        text = Path(download.value.path()).read_text()
        assert text.strip().splitlines()[-1].startswith("# export complete:")
        page.screenshot(path=ARTIFACTS / "exports.png", full_page=True)
    finally:
        page.close()


def show_exports(page: Page) -> None:
    page.get_by_role("button", name="Exports", exact=True).click()
    page.wait_for_selector("main[data-view=exports] [data-testid=export-feedback-csv]")


def live(page: Page) -> Page:
    page.wait_for_selector("[data-testid=live-state][data-state=live]")
    return page


def shown_total(page: Page) -> str:
    return page.get_by_test_id("ratings-total").inner_text()


def wait_for_total(page: Page, expected: int) -> None:
    """Until the open page's Ratings total reads ``expected``, with no click nor reload."""
    page.wait_for_function(
        "n => document.querySelector('[data-testid=ratings-total]')?.textContent === n",
        arg=str(expected),
    )


def snapshot(page: Page) -> dict[str, Any]:
    """What a viewer sees of the Ratings view, and the page's live-update state."""
    app = page.locator(".app")
    return {
        "total": shown_total(page),
        "counts": table(page, "chart-count-table"),
        "distribution": table(page, "chart-distribution-table"),
        "data_version": app.get_attribute("data-data-version"),
        "refreshes": app.get_attribute("data-refresh-key"),
    }


def assert_shows_the_api(page: Page, http: httpx.Client, tenant: str, count: int) -> None:
    query = page.locator("main").get_attribute("data-query") or ""
    ratings = api(http, tenant, "/v1/analytics/ratings", query)
    assert ratings["total_count"] == count
    assert shown_total(page) == str(count)
    assert table(page, "chart-count-table") == [
        [p["date"], str(p["count"])] for p in ratings["series"]
    ]
    assert [row[1] for row in table(page, "chart-distribution-table")] == [
        str(d["count"]) for d in ratings["distribution"]
    ]


def test_a_submission_appears_live_and_another_tenants_dashboard_does_not_change(
    browser: Browser, mesh: Mesh, http: httpx.Client
) -> None:
    mine = live(open_dashboard(browser, mesh, TENANT))
    theirs = live(open_dashboard(browser, mesh, OTHER))
    try:
        assert shown_total(mine) == "60" and shown_total(theirs) == "7"
        mine_before, theirs_before = snapshot(mine), snapshot(theirs)
        submit(http, TENANT, 5, seed=3)
        # No Refresh click, no reload: the watch stream moves the page.
        wait_for_total(mine, 65)
        mine.wait_for_selector("main [data-state=ready]")
        assert_shows_the_api(mine, http, TENANT, 65)
        mine_after = snapshot(mine)
        assert mine_after["counts"] != mine_before["counts"]
        assert mine_after["data_version"] != mine_before["data_version"]
        mine.screenshot(path=ARTIFACTS / "ratings-live.png", full_page=True)
        # The other tenant's page saw no event of it: same version, no refetch, same numbers.
        assert snapshot(theirs) == theirs_before
        # ...and its own stream is alive: its tenant's next feedback moves it, and not mine.
        submit(http, OTHER, 1, seed=4)
        wait_for_total(theirs, 8)
        assert_shows_the_api(theirs, http, OTHER, 8)
        assert snapshot(mine) == mine_after
    finally:
        mine.close()
        theirs.close()


RECORD_LIVE_STATES = """() => {
  window.__liveStates = [];
  const badge = document.querySelector('[data-testid=live-state]');
  new MutationObserver(() => window.__liveStates.push(badge.dataset.state))
    .observe(badge, {attributes: true, attributeFilter: ['data-state']});
}"""


@pytest.mark.parametrize("child", ["analytics", "envoy"])
def test_the_open_dashboard_reconnects_when_a_service_restarts(
    browser: Browser, mesh: Mesh, http: httpx.Client, child: str
) -> None:
    page = live(open_dashboard(browser, mesh, OTHER))
    try:
        before = int(shown_total(page))
        page.evaluate(RECORD_LIVE_STATES)
        name = "envoy" if child == "envoy" else mesh.process(child)["name"]
        hit(mesh, name, signal.SIGKILL)  # `up` starts a new one
        page.wait_for_function("() => window.__liveStates.includes('reconnecting')")
        live(page)
        states = page.evaluate("() => window.__liveStates")
        assert states[-1] == "live" and "reconnecting" in states, states
        # The new stream carries updates: a feedback submitted now shows without a reload.
        submit(http, OTHER, 1, seed=10 + before)
        wait_for_total(page, before + 1)
        assert_shows_the_api(page, http, OTHER, before + 1)
    finally:
        page.close()


FETCH = """async ([url, token]) => {
  try {
    const reply = await fetch(url, {headers: {authorization: `Bearer ${token}`}});
    return {read: true, status: reply.status, body: await reply.text()};
  } catch (error) {
    return {read: false, error: String(error)};
  }
}"""


def test_a_page_on_a_disallowed_origin_cannot_read_the_api(
    browser: Browser, mesh: Mesh, other_origins: None
) -> None:
    url = f"{mesh.gateway}/v1/analytics/ratings"
    page = browser.new_page()
    try:
        page.goto(f"{ALLOWED_ORIGIN}/")
        allowed = page.evaluate(FETCH, [url, token(TENANT)])
        # The setting is honoured: the origin it names reads the API...
        assert allowed["read"] and allowed["status"] == 200, allowed
        assert '"total_count":65' in allowed["body"]
        page.goto(f"{FOREIGN_ORIGIN}/")
        foreign = page.evaluate(FETCH, [url, token(TENANT)])
        # ...any other cannot (its preflight is refused with 403).
        assert foreign == {"read": False, "error": "TypeError: Failed to fetch"}
    finally:
        page.close()


def test_a_refused_token_asks_to_sign_in_again(browser: Browser, mesh: Mesh) -> None:
    forged = token(TENANT, Settings(jwt_secret="another-secret-that-the-mesh-does-not-know-0123"))
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f"{mesh.gateway}/#token={forged}")
        message = page.get_by_test_id("signin-message")
        assert "refused the token" in message.inner_text()
        assert page.locator("textarea[name=token]").is_visible()
    finally:
        page.close()
