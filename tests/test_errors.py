"""The one exception tree: unique codes, a true drawing, and every code round-tripped.

For every class of :mod:`fairwheel.errors`, a tiny FastAPI app with the API's own error
handlers (``fairwheel.api.app.install_error_handlers``) raises it from a route; the answer's
status and ``code`` must be the class's, and the Python client must turn the answer back into
that very class with the same details. No node is involved: httpx's ``MockTransport`` carries
the client's requests to the app through Starlette's ``TestClient``.

``FAIRWHEEL_TEST_UPDATE_DOCS=1 pytest tests/test_errors.py`` rewrites the errors table of
``docs/api.md`` from the tree.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from fairwheel import errors
from fairwheel.api.app import install_error_handlers
from fairwheel.client import FairwheelClient
from fairwheel.errors import ApiError, ChainError, FairwheelError, by_code, error_classes

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "fairwheel"
API_DOC = ROOT / "docs" / "api.md"
CLASSES = error_classes()
CODES = [cls.code for cls in CLASSES]
DETAILS: dict[str, Any] = {"field": "records.0.text", "n": 3, "nested": {"why": ["a", "b"]}}


def _depth(cls: type[FairwheelError]) -> int:
    return cls.__mro__.index(FairwheelError)


def _summary(cls: type[FairwheelError]) -> str:
    """The first line of the class's docstring, in Markdown."""
    return (cls.__doc__ or "").strip().splitlines()[0].replace("``", "`")


# ------------------------------------------------------------------------- the tree itself


def test_codes_are_unique_and_every_class_is_documented_with_an_error_status() -> None:
    assert len(set(CODES)) == len(CODES) == len(by_code())
    assert CLASSES[0] is FairwheelError
    for cls in CLASSES:
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", cls.code), cls.code
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} has no docstring"
        assert 400 <= cls.http_status <= 599, f"{cls.__name__}: {cls.http_status}"
        assert cls.__name__ in errors.__all__
        assert by_code()[cls.code] is cls


def test_every_framework_status_has_the_class_of_that_status() -> None:
    for status in range(400, 600):
        cls = errors.for_status(status)
        assert cls is ApiError or cls.http_status == status
    assert errors.for_status(404) is errors.NotFound
    assert errors.for_status(400) is errors.BadRequest
    assert errors.for_status(418) is ApiError


def test_no_exception_class_is_defined_outside_errors_py() -> None:
    names = {cls.__name__ for cls in CLASSES} | {"Exception", "BaseException", "ValueError"}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(b).rpartition(".")[2] for b in node.bases}
            if bases & names or any(b.endswith(("Error", "Exception")) for b in bases):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert not found, f"exception classes outside fairwheel/errors.py: {found}"


def test_the_old_homes_re_export_the_same_classes() -> None:
    from fairwheel.api import context, siwe
    from fairwheel.blobs import BlobDestroyed
    from fairwheel.cli.labels import CsvError
    from fairwheel.client import ApiError as ClientApiError

    assert context.Unauthorized is errors.Unauthorized
    assert context.Forbidden is errors.Forbidden
    assert context.PayloadTooLarge is errors.PayloadTooLarge
    assert context.RateLimited is errors.RateLimited
    assert siwe.SiweError is errors.SiweError
    assert BlobDestroyed is errors.BlobDestroyed
    assert CsvError is errors.CsvError
    assert ClientApiError is ApiError


_LINE = re.compile(
    r"^    (?P<lead>(?:[│ ]   )*(?:[├└]── )?)"  # the branches: four characters a level
    r"(?P<name>\w+) +(?P<status>\d{3}) (?P<code>\w+) "
)


def _drawing() -> list[tuple[str, int, int, str]]:
    """(name, depth, status, code) of each line of the tree in the module docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in block.splitlines():
        match = _LINE.match(line)
        assert match, f"not a line of the tree: {line!r}"
        depth = len(match["lead"]) // 4
        rows.append((match["name"], depth, int(match["status"]), match["code"]))
    return rows


def test_the_docstring_draws_every_class_where_it_is() -> None:
    drawn = _drawing()
    assert drawn == [(c.__name__, _depth(c), c.http_status, c.code) for c in CLASSES]
    parents: dict[int, str] = {}
    for (name, depth, _, _), cls in zip(drawn, CLASSES, strict=True):
        if depth:
            assert parents[depth - 1] == cls.__base__.__name__, name
        parents[depth] = name


# ------------------------------------------------------------------- the round trip


class Boom(RuntimeError):
    """Not a Fairwheel error: the API answers it as ``internal_error``."""


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{code}")
    def raise_code(code: str) -> None:
        raise by_code()[code](f"this is {code}", **DETAILS)

    @app.get("/revert")
    def revert() -> None:
        raise ChainError("claim reverted with NothingToClaim()", reason="NothingToClaim")

    @app.get("/status/{status}")
    def status(status: int) -> None:
        raise HTTPException(status, f"plain {status}")

    @app.get("/boom")
    def boom() -> None:
        raise Boom("the disk is on fire")

    @app.get("/limited")
    def limited() -> None:
        raise errors.RateLimited("slow down", retry_after=2.5)

    return app


@pytest.fixture(scope="module")
def http() -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def fw(http: TestClient) -> Iterator[FairwheelClient]:
    """The Python client, its requests carried to the app by a ``MockTransport``."""

    def bridge(request: httpx.Request) -> httpx.Response:
        answer = http.request(
            request.method, str(request.url), content=request.content, headers=request.headers
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    with FairwheelClient("http://testserver", transport=httpx.MockTransport(bridge)) as client:
        yield client


def _refused(fw: FairwheelClient, path: str, method: str = "GET") -> FairwheelError:
    with pytest.raises(FairwheelError) as info:
        fw.request(method, path)
    return info.value


@pytest.mark.parametrize("cls", CLASSES, ids=CODES)
def test_every_code_round_trips_through_the_handler_and_the_client(
    cls: type[FairwheelError], http: TestClient, fw: FairwheelClient
) -> None:
    answer = http.get(f"/raise/{cls.code}")
    assert answer.status_code == cls.http_status
    assert answer.json() == {"code": cls.code, "message": f"this is {cls.code}", "details": DETAILS}
    error = _refused(fw, f"/raise/{cls.code}")
    assert type(error) is cls and isinstance(error, cls)
    assert error.code == cls.code and error.http_status == cls.http_status
    assert error.message == f"this is {cls.code}"
    assert error.details == {**DETAILS, "status": cls.http_status}


def test_a_revert_is_a_409_chain_error_and_comes_back_as_one(
    http: TestClient, fw: FairwheelClient
) -> None:
    answer = http.get("/revert")
    assert answer.status_code == 409 and answer.json()["code"] == "chain_error"
    error = _refused(fw, "/revert")
    assert type(error) is ChainError and error.http_status == 409
    assert error.details == {"reason": "NothingToClaim", "status": 409}


def test_framework_errors_answer_with_the_class_of_their_status(
    http: TestClient, fw: FairwheelClient
) -> None:
    assert http.get("/nowhere").json()["code"] == "not_found"
    assert type(_refused(fw, "/nowhere")) is errors.NotFound
    answer = http.post("/boom")
    assert answer.status_code == 405 and answer.json()["code"] == "method_not_allowed"
    assert type(_refused(fw, "/boom", "POST")) is errors.MethodNotAllowed
    for status, cls in ((400, errors.BadRequest), (413, errors.PayloadTooLarge)):
        assert http.get(f"/status/{status}").json()["code"] == cls.code
        assert type(_refused(fw, f"/status/{status}")) is cls


def test_a_status_without_a_class_is_http_error_carrying_it(
    http: TestClient, fw: FairwheelClient
) -> None:
    answer = http.get("/status/418")
    assert answer.status_code == 418
    assert answer.json() == {
        "code": "http_error",
        "message": "plain 418",
        "details": {"status": 418},
    }
    error = _refused(fw, "/status/418")
    assert type(error) is ApiError and error.code == "http_error"
    assert isinstance(error, ApiError) and error.status == error.http_status == 418


def test_a_validation_error_is_a_schema_error(http: TestClient, fw: FairwheelClient) -> None:
    answer = http.get("/status/not-a-number")
    assert answer.status_code == 422 and answer.json()["code"] == "schema_error"
    error = _refused(fw, "/status/not-a-number")
    assert type(error) is errors.SchemaError and error.details["errors"][0]["loc"][0] == "path"


def test_an_unexpected_failure_is_internal_error_without_its_text(
    http: TestClient, fw: FairwheelClient
) -> None:
    answer = http.get("/boom")
    assert answer.status_code == 500 and answer.json()["code"] == "internal_error"
    assert "fire" not in answer.text
    assert type(_refused(fw, "/boom")) is errors.InternalError


def test_rate_limited_says_retry_after_in_whole_seconds(http: TestClient) -> None:
    answer = http.get("/limited")
    assert answer.status_code == 429 and answer.headers["retry-after"] == "3"


def _client_for(response: httpx.Response) -> FairwheelClient:
    return FairwheelClient("http://x", transport=httpx.MockTransport(lambda _: response))


def test_the_client_keeps_an_unknown_code_and_survives_a_non_json_answer() -> None:
    body = {"code": "from_the_future", "message": "new", "details": {"k": 1}}
    with _client_for(httpx.Response(451, json=body)) as fw:
        error = _refused(fw, "/")
    assert type(error) is ApiError and error.code == "from_the_future"
    assert error.status == 451 and error.details == {"k": 1, "status": 451}
    with _client_for(httpx.Response(502, text="<html>bad gateway</html>")) as fw:
        error = _refused(fw, "/")
    assert type(error) is ApiError and error.code == "http_error" and error.status == 502
    assert "bad gateway" in error.message


# ------------------------------------------------------------------------------- docs


_BEGIN = "<!-- errors: generated from fairwheel.errors by tests/test_errors.py -->"
_END = "<!-- /errors -->"


def _docs_table() -> str:
    """One row per class at its status, and ChainError's second status (a revert's 409)."""
    rows = [(cls.http_status, i, cls, _summary(cls)) for i, cls in enumerate(CLASSES)]
    revert = "A contract reverted: `details.reason` names its error (`EpochNotActive`, …)."
    rows.append((409, CLASSES.index(ChainError), ChainError, revert))
    lines = ["  | HTTP | code | class | when |", "  |---|---|---|---|"]
    for status, _, cls, when in sorted(rows, key=lambda r: r[:2]):
        lines.append(f"  | {status} | `{cls.code}` | `{cls.__name__}` | {when} |")
    return "\n".join(lines)


def test_docs_api_lists_every_code_in_the_generated_table() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    assert _BEGIN in text and _END in text, "docs/api.md lost its generated errors table"
    head, rest = text.split(_BEGIN, 1)
    table, tail = rest.split(_END, 1)
    expected = "\n" + _docs_table() + "\n  "
    if table != expected and os.environ.get("FAIRWHEEL_TEST_UPDATE_DOCS") == "1":
        API_DOC.write_text(head + _BEGIN + expected + _END + tail, encoding="utf-8")
        table = expected
    assert table == expected, (
        "docs/api.md's errors table is stale; run FAIRWHEEL_TEST_UPDATE_DOCS=1 pytest "
        "tests/test_errors.py"
    )
    for code in CODES:
        assert f"`{code}`" in table
