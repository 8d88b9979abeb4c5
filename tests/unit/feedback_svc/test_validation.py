"""Submission validation rules, without any server: each rule names its field, and a
valid submission is normalized the way it will be stored."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from feedback_svc.domain import RawSubmission
from feedback_svc.validation import (
    MAX_COMMENT,
    MAX_METADATA_WIRE_BYTES,
    MAX_TAGS,
    normalize_json,
    validate,
)
from mesh_runtime.errors import FieldViolation

GOOD = RawSubmission(
    request_id="r-1",
    feedback_type="agent",
    execution_id=0,
    agent_id=42,
    chat_session_id="",
    rating=4,
    comment="  Fine agent.  ",
    tags=["Speed", "speed", "docs"],
    metadata={"client": "cli", "n": 2.0},
)


def violated(raw: RawSubmission) -> dict[str, str]:
    result = validate(raw, "tenant", "user")
    assert isinstance(result, list), result
    assert all(isinstance(v, FieldViolation) for v in result)
    return {v.field: v.description for v in result}


def test_a_valid_submission_is_normalized() -> None:
    item = validate(GOOD, "tenant", "user")
    assert not isinstance(item, list)
    assert (item.tenant_id, item.user_id, item.feedback_type) == ("tenant", "user", "agent")
    assert (item.agent_id, item.execution_id, item.chat_session_id) == (42, None, None)
    assert item.comment == "Fine agent."
    assert item.tags == ("speed", "docs")  # lower-cased, de-duplicated, first order kept
    assert item.metadata == {"client": "cli", "n": 2}
    assert item.metadata_json == '{"client":"cli","n":2}'


def test_the_payload_hash_covers_the_user_and_ignores_the_tenant() -> None:
    first = validate(GOOD, "tenant", "user")
    other_tenant = validate(GOOD, "elsewhere", "user")
    other_user = validate(GOOD, "tenant", "someone")
    assert not isinstance(first, list) and not isinstance(other_tenant, list)
    assert not isinstance(other_user, list)
    assert first.payload_hash == other_tenant.payload_hash
    assert first.payload_hash != other_user.payload_hash


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x" * 129}, "request_id"),
        ({"request_id": "a\x00b"}, "request_id"),
        ({"feedback_type": None}, "feedback_type"),
        ({"feedback_type": "#9"}, "feedback_type"),
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"comment": "x" * (MAX_COMMENT + 1)}, "comment"),
        ({"comment": "nul\x00"}, "comment"),
        ({"tags": ["no spaces"]}, "tags[0]"),
        ({"tags": [f"t{i}" for i in range(MAX_TAGS + 1)]}, "tags"),
        ({"metadata": {"text": "x" * 9000}}, "metadata"),
        ({"metadata": {"n": float("nan")}}, "metadata"),
        ({"metadata_wire_bytes": MAX_METADATA_WIRE_BYTES + 1}, "metadata"),
    ],
)
def test_each_rule_names_its_field(change: dict[str, Any], field: str) -> None:
    assert field in violated(replace(GOOD, **change))


@pytest.mark.parametrize(
    ("kind", "target", "value"),
    [
        ("execution", "execution_id", 7),
        ("agent", "agent_id", 7),
        ("chat", "chat_session_id", "session-7"),
    ],
)
def test_each_feedback_type_needs_its_own_target_and_no_other(
    kind: str, target: str, value: Any
) -> None:
    bare = replace(GOOD, feedback_type=kind, execution_id=0, agent_id=0, chat_session_id="")
    assert violated(bare) == {target: f"is required for feedback_type {kind}"}
    item = validate(replace(bare, **{target: value}), "tenant", "user")
    assert not isinstance(item, list) and getattr(item, target) == value
    others: dict[str, Any] = {"execution_id": 1, "agent_id": 1, "chat_session_id": "s"}
    del others[target]
    crowded = replace(bare, **{target: value}, **others)
    assert set(violated(crowded)) == set(others)


def test_general_feedback_has_no_target() -> None:
    general = replace(GOOD, feedback_type="general", agent_id=0)
    item = validate(general, "tenant", "user")
    assert not isinstance(item, list) and item.agent_id is None
    assert violated(replace(general, agent_id=3)) == {
        "agent_id": "must not be set for feedback_type general"
    }


def test_negative_ids_and_blank_chat_sessions_are_refused() -> None:
    assert violated(replace(GOOD, agent_id=-1)) == {"agent_id": "must be a positive id"}
    chat = replace(GOOD, feedback_type="chat", agent_id=0, chat_session_id="   ")
    assert violated(chat) == {"chat_session_id": "must be 1..128 characters, not blank"}


def test_every_violation_is_reported_at_once() -> None:
    bad = replace(GOOD, request_id="", rating=9, tags=["bad tag"])
    assert set(violated(bad)) == {"request_id", "rating", "tags[0]"}


def test_blank_comments_are_no_comment() -> None:
    item = validate(replace(GOOD, comment="   "), "tenant", "user")
    assert not isinstance(item, list) and item.comment is None


def test_integral_doubles_become_ints_at_any_depth() -> None:
    assert normalize_json({"a": [1.0, 1.5, {"b": 3.0}]}) == {"a": [1, 1.5, {"b": 3}]}
    assert isinstance(normalize_json(2.0**60), float)  # beyond exact integers: unchanged
