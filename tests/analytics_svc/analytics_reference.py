"""A brute-force Python reference of the analytics views over a list of events, and a
random event generator, for the chDB exactness tests."""

from __future__ import annotations

import bisect
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from analytics_svc.window import Window

TYPES = ("execution", "agent", "chat", "general")
SENTIMENTS = ("no_comment", "positive", "neutral", "negative")
TAGS = ("speed", "accuracy", "tone", "format", "cost", "ux", "docs")


@dataclass(frozen=True)
class Event:
    feedback_id: int
    tenant_id: str
    user_id: str
    feedback_type: str
    execution_id: int
    agent_id: int
    chat_session_id: str
    rating: int
    sentiment: str
    sentiment_score: float
    tags: tuple[str, ...]
    created_at: datetime

    def row(self) -> list[object]:
        return [
            self.feedback_id,
            self.feedback_id,
            self.tenant_id,
            self.user_id,
            self.feedback_type,
            self.execution_id,
            self.agent_id,
            self.chat_session_id,
            self.rating,
            self.sentiment,
            self.sentiment_score,
            list(self.tags),
            self.created_at,
            self.created_at,
        ]


def random_events(
    rnd: random.Random, tenants: list[str], count: int, end: datetime, days: int
) -> list[Event]:
    events = []
    for i in range(count):
        kind = rnd.choice(TYPES)
        sentiment = rnd.choice(SENTIMENTS)
        created = end - timedelta(microseconds=rnd.randrange(days * 86_400_000_000))
        events.append(
            Event(
                feedback_id=i + 1,
                tenant_id=rnd.choice(tenants),
                user_id=f"user-{rnd.randint(1, 40)}",
                feedback_type=kind,
                execution_id=rnd.randint(1, 12) if kind == "execution" else 0,
                agent_id=rnd.randint(1, 12) if kind == "agent" else 0,
                chat_session_id=f"chat-{rnd.randint(1, 5)}" if kind == "chat" else "",
                rating=rnd.randint(1, 5),
                sentiment=sentiment,
                sentiment_score=0.0 if sentiment == "no_comment" else rnd.uniform(-1, 1),
                tags=tuple(rnd.sample(TAGS, rnd.randint(0, 3))),
                created_at=created,
            )
        )
    return events


@dataclass
class Bucket:
    count: int = 0
    rating_sum: int = 0
    sentiments: Counter[str] = field(default_factory=Counter)
    score_sum: float = 0.0
    users: set[str] = field(default_factory=set)


def select(
    events: list[Event],
    tenant: str,
    start: datetime,
    end: datetime,
    feedback_type: str = "",
    agent_id: int = 0,
) -> list[Event]:
    return [
        e
        for e in events
        if e.tenant_id == tenant
        and start <= e.created_at < end
        and (not feedback_type or e.feedback_type == feedback_type)
        and (not agent_id or e.agent_id == agent_id)
    ]


def by_bucket(events: list[Event], window: Window) -> list[Bucket]:
    starts = [b.start for b in window.buckets]
    out = [Bucket() for _ in starts]
    for e in events:
        bucket = out[bisect.bisect_right(starts, e.created_at) - 1]
        bucket.count += 1
        bucket.rating_sum += e.rating
        bucket.sentiments[e.sentiment] += 1
        if e.sentiment != "no_comment":
            bucket.score_sum += e.sentiment_score
        bucket.users.add(e.user_id)
    return out


def themes(events: list[Event], sentiment: str, top_n: int) -> list[tuple[str, int, float]]:
    counts: Counter[str] = Counter()
    sums: dict[str, int] = defaultdict(int)
    for e in events:
        if e.sentiment == sentiment:
            for tag in e.tags:
                counts[tag] += 1
                sums[tag] += e.rating
    ranked = sorted(counts, key=lambda t: (-counts[t], t))[:top_n]
    return [(t, counts[t], sums[t] / counts[t]) for t in ranked]


def top(events: list[Event], attr: str, top_n: int) -> list[tuple[str, int, float]]:
    counts: Counter[int] = Counter()
    sums: dict[int, int] = defaultdict(int)
    for e in events:
        key = getattr(e, attr)
        if key:
            counts[key] += 1
            sums[key] += e.rating
    ranked = sorted(counts, key=lambda k: (-counts[k], k))[:top_n]
    return [(str(k), counts[k], sums[k] / counts[k]) for k in ranked]
