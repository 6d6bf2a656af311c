"""Schemathesis against the published OpenAPI schema of a live server: no 5xx, no schema drift.

Two passes over every operation: anonymous, and signed in as the node's operator (which
reaches the operator-only routes: pool creation, anchoring, training, epoch closing). The
example count is modest for CI; ``-m slow`` runs a longer pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.test_api_support import World, make_world

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
SETTINGS = dict(
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The streamed upload's body: send generated strings as they are."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("schema"), records=24) as w:
        yield w


@pytest.fixture(scope="module")
def operator_token(world: World) -> str:
    client = world.client("operator", login=True)
    assert client.token
    return client.token


def run_schema(world: World, token: str | None, examples: int) -> list[str]:
    """Fuzz every operation (valid and invalid inputs); returns the failures found."""
    schema = schemathesis.openapi.from_url(world.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if token and operation.label == "POST /v1/auth/logout":
            continue  # it would end the session this pass runs with
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, **SETTINGS)
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:  # nothing invalid to send (no parameters, no body)
                continue
            except Exception as exc:  # schemathesis groups its check failures
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
    return failures


def test_anonymous_calls_never_fail_the_schema(world: World) -> None:
    failures = run_schema(world, None, examples=5)
    assert not failures, "\n\n".join(failures)


def test_operator_calls_never_fail_the_schema(world: World, operator_token: str) -> None:
    failures = run_schema(world, operator_token, examples=5)
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_long_schema_run(world: World, operator_token: str) -> None:
    failures = run_schema(world, operator_token, examples=60)
    assert not failures, "\n\n".join(failures)
