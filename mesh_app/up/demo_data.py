"""``feedbackmesh demo-data``: realistic feedback through the public JSON API.

Ratings and comments agree the way real ones do (a 5 comes with praise, a 1 with a
complaint), targets repeat (so "top agents" mean something) and a fifth of the feedback
has no comment, so every chart of the dashboard has something to show.
"""

from __future__ import annotations

import json
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from mesh_runtime.auth import DEFAULT_USER_SCOPES, mint_token
from mesh_runtime.settings import Settings

TENANT_NAMES = ("demo", "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne")
FEEDBACK_TYPES = (
    ("FEEDBACK_TYPE_EXECUTION", 0.4),
    ("FEEDBACK_TYPE_AGENT", 0.3),
    ("FEEDBACK_TYPE_CHAT", 0.2),
    ("FEEDBACK_TYPE_GENERAL", 0.1),
)
# Skewed towards good ratings, as product feedback is.
RATING_WEIGHTS = (0.08, 0.1, 0.17, 0.3, 0.35)
COMMENTS = {
    5: (
        "Excellent answer, exactly what I needed.",
        "Great job, the agent fixed the bug on the first try!",
        "Fantastic: fast, accurate and well explained.",
        "Love it, this saved me an hour of work.",
    ),
    4: (
        "Good result, a couple of small mistakes but helpful overall.",
        "Nice summary, mostly correct.",
        "Helpful and quick, thanks.",
    ),
    3: (
        "It worked, but I had to rephrase the question twice.",
        "The answer was okay.",
        "Average response, nothing special.",
    ),
    2: (
        "Slow and the answer was partly wrong.",
        "Not very helpful, it missed the point of my question.",
        "Confusing explanation, I gave up halfway.",
    ),
    1: (
        "Terrible, the agent deleted the wrong file.",
        "Completely wrong answer, useless.",
        "Awful experience, it crashed twice and lost my work.",
    ),
}
TAGS = (
    "accuracy",
    "speed",
    "ux",
    "hallucination",
    "tool-use",
    "formatting",
    "latency",
    "helpful",
    "billing",
    "docs",
)
CLIENTS = ("web", "ios", "android", "cli", "slack")


def generate_feedback(rng: random.Random, *, no_comment_share: float = 0.2) -> dict[str, Any]:
    """One SubmitFeedback body (proto JSON field names), with a fresh request_id."""
    kind = rng.choices([t for t, _ in FEEDBACK_TYPES], [w for _, w in FEEDBACK_TYPES])[0]
    rating = rng.choices(range(1, 6), RATING_WEIGHTS)[0]
    body: dict[str, Any] = {
        "request_id": f"demo-{uuid.UUID(int=rng.getrandbits(128))}",
        "feedback_type": kind,
        "rating": rating,
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "metadata": {"source": "demo-data", "client": rng.choice(CLIENTS)},
    }
    if kind == "FEEDBACK_TYPE_EXECUTION":
        # A small id range: some executions get several ratings (top executions).
        body["execution_id"] = str(rng.randint(10_000, 10_060))
    elif kind == "FEEDBACK_TYPE_AGENT":
        body["agent_id"] = str(rng.randint(1, 12))
    elif kind == "FEEDBACK_TYPE_CHAT":
        body["chat_session_id"] = f"chat-{rng.randint(1, 200):04d}"
    if rng.random() >= no_comment_share:
        body["comment"] = rng.choice(COMMENTS[rating])
    return body


def tenant_names(count: int) -> list[str]:
    names = list(TENANT_NAMES[:count])
    names += [f"tenant-{i}" for i in range(len(names) + 1, count + 1)]
    return names


def tenant_batches(names: list[str], count: int, size: int) -> Iterator[tuple[str, int]]:
    """(tenant, batch size) pairs that split ``count`` evenly over the tenants (the first
    ones get one more when it does not divide), interleaved so each fills as it goes."""
    shares = {name: count // len(names) + (i < count % len(names)) for i, name in enumerate(names)}
    while any(shares.values()):
        for name in names:
            batch = min(size, shares[name])
            if batch:
                shares[name] -= batch
                yield name, batch


def _progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / max(time.monotonic() - started, 1e-6)
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} feedback  {rate:,.0f}/s ")
    sys.stderr.flush()


def post_json(url: str, token: str, body: Any, timeout: float = 60.0) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the gateway URL the user gave
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def load_demo_data(
    settings: Settings,
    *,
    gateway: str,
    count: int,
    tenants: int = 3,
    batch_size: int = 100,
    seed: int | None = None,
) -> int:
    if tenants < 1 or count < tenants or not 1 <= batch_size <= 500:
        print(
            "feedbackmesh demo-data: need --tenants >= 1, --count >= --tenants (every tenant "
            "gets feedback), --batch-size 1..500",
            file=sys.stderr,
        )
        return 2
    rng = random.Random(seed)
    names = tenant_names(tenants)
    # Several users per tenant, so "active users" is more than one.
    tokens = {
        (tenant, user): mint_token(
            settings, tenant_id=tenant, user_id=user, scopes=DEFAULT_USER_SCOPES, ttl_seconds=3600
        )
        for tenant in names
        for user in (f"user-{i}" for i in range(1, 9))
    }
    url = gateway.rstrip("/") + "/v1/feedback:batchSubmit"
    created = invalid = 0
    started = time.monotonic()
    done = 0
    try:
        for tenant, size in tenant_batches(names, count, batch_size):
            key = (tenant, f"user-{rng.randint(1, 8)}")
            items = [generate_feedback(rng) for _ in range(size)]
            reply = post_json(url, tokens[key], {"requests": items})
            created += int(reply.get("created_count", 0))
            invalid += int(reply.get("invalid_count", 0))
            done += size
            _progress(done, count, started)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", errors="replace")[:500]
        print(f"\nfeedbackmesh demo-data: {url} answered {exc.code}: {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(
            f"\nfeedbackmesh demo-data: cannot reach {gateway} ({exc}); is `feedbackmesh up` "
            "running (and on which --gateway-port)?",
            file=sys.stderr,
        )
        return 1
    sys.stderr.write("\n")
    print(
        f"submitted {done} feedback to {len(names)} tenants ({', '.join(names)}): "
        f"{created} created, {invalid} invalid"
    )
    return 0 if invalid == 0 else 1
