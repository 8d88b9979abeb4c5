"""UpdateFeedback and DeleteFeedback through the real Envoy gateway (PATCH and DELETE on
/v1/feedback/{id}): the field mask as a query parameter, etags (409 when stale), the
submission's input boundary (400 naming the field, nothing changed), 404 for a second
delete, and the analytics answer following the change once ingested."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from hostile_helpers import http_violations, tenant
from hostile_mesh import HostileMesh

from mesh_runtime.auth import DEFAULT_USER_SCOPES, SCOPE_FEEDBACK_ADMIN


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _ratings(http: httpx.Client, headers: dict[str, str]) -> dict[str, object]:
    reply = http.get("/v1/analytics/ratings", headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_patch_and_delete_through_the_gateway(
    http: httpx.Client, mesh: HostileMesh, token_for: Callable[..., str]
) -> None:
    name = tenant("life-http")
    author = _headers(token_for(tenant=name, user="ann"))
    body = {"request_id": "r1", "feedback_type": "FEEDBACK_TYPE_AGENT", "agent_id": "7",
            "rating": 2, "comment": "Slow and wrong, I hate it.", "tags": ["speed"]}  # fmt: skip
    created = http.post("/v1/feedback", json=body, headers=author)
    assert created.status_code == 200, created.text
    stored = created.json()
    assert stored["revision"] == 1 and stored["etag"]
    path = f"/v1/feedback/{stored['id']}"
    _wait_for(lambda: _ratings(http, author)["total_count"] == 1, "the submission in analytics")

    # Immutable fields, bad values and unknown paths: 400 naming the field, nothing changed.
    bad = http.patch(path, params={"update_mask": "agent_id"}, json={"agent_id": "8"},
                     headers=author)  # fmt: skip
    assert http_violations(bad) == ["update_mask"]
    bad = http.patch(path, params={"update_mask": "rating,tags"},
                     json={"rating": 6, "tags": ["a b"]}, headers=author)  # fmt: skip
    assert sorted(http_violations(bad)) == ["rating", "tags[0]"]
    other = _headers(token_for(tenant=name, user="bob"))
    denied = http.patch(path, params={"update_mask": "rating"}, json={"rating": 5}, headers=other)
    assert denied.status_code == 403, denied.text
    assert http.get(path, headers=author).json() == stored

    changed = http.patch(
        path,
        params={"update_mask": "rating,comment"},
        json={"rating": 5, "comment": "It was my fault, the agent was great!",
              "etag": stored["etag"]},
        headers=author,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    now = changed.json()
    assert (now["revision"], now["rating"], now["tags"]) == (2, 5, ["speed"])
    assert now["sentiment"] == "SENTIMENT_LABEL_POSITIVE" and now["etag"] != stored["etag"]
    assert now["updated_at"] >= now["created_at"] == stored["created_at"]
    stale = http.patch(path, params={"update_mask": "rating"},
                       json={"rating": 1, "etag": stored["etag"]}, headers=author)  # fmt: skip
    assert stale.status_code == 409, stale.text
    assert http.get(path, headers=author).json() == now
    _wait_for(lambda: _ratings(http, author)["avg_rating"] == 5.0, "the change in analytics")

    admin = _headers(token_for(tenant=name, user="moderator",
                               scopes=(*DEFAULT_USER_SCOPES, SCOPE_FEEDBACK_ADMIN)))  # fmt: skip
    gone = http.delete(path, headers=admin)
    assert gone.status_code == 200 and gone.json() == {}, gone.text
    again = http.delete(path, headers=author)
    assert again.status_code == 404, again.text
    assert http.get(path, headers=author).status_code == 404
    assert mesh.feedback_count(name) == 0
    _wait_for(lambda: _ratings(http, author)["total_count"] == 0, "the retraction in analytics")
