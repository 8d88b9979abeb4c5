"""The Dockerfile: multi-stage, slim, non-root, no build tools shipped, the right command."""

from __future__ import annotations

import json
import re

from deploy_helpers import REPO

DOCKERFILE = REPO / "Dockerfile"
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|cmake|cargo|rustc)\b")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def test_multi_stage_on_python_311_slim() -> None:
    args = dict(
        rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG" and "=" in rest
    )
    assert args["PYTHON_IMAGE"] == "python:3.11.13-slim-bookworm"
    all_stages = stages()
    assert len(all_stages) >= 2
    for stage in all_stages:
        assert stage[0][1].split()[0] == "${PYTHON_IMAGE}"


def test_final_stage_is_non_root_without_build_tools() -> None:
    final = stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"0", "root"}
    for keyword, rest in final:
        if keyword == "RUN":
            assert not BUILD_TOOLS.search(rest), rest
    copies = [rest for keyword, rest in final if keyword == "COPY"]
    assert copies and all(c.startswith("--from=build ") for c in copies), copies
    # The build stage is where the compilers are.
    assert any(BUILD_TOOLS.search(rest) for keyword, rest in stages()[0] if keyword == "RUN")


def test_entrypoint_and_default_command() -> None:
    final = dict(stages()[-1])
    assert json.loads(final["ENTRYPOINT"]) == ["feedbackmesh"]
    assert json.loads(final["CMD"]) == ["serve", "all"]


def test_no_secret_in_the_image() -> None:
    for keyword, rest in instructions():
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|_URL)\b", rest, re.IGNORECASE), rest
