"""The operator's page (issue #18): the node's health, each part checked by a real call, and
each pool's review queue with the reviewer's buttons.

A real node on the embedded chain with the fake embedder, seeded as ``serve --dev`` seeds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.test_api_support import LiveServer
from tests.test_web_support import dev_account, seeded_dev_server, signed_in


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with seeded_dev_server(tmp_path_factory.mktemp("operator")) as live:
        yield live


def _queue(page: str) -> list[str]:
    return re.findall(r'<tr data-record="(\d+)">', page)


def test_operator_sees_health_and_the_review_queue(dev: LiveServer) -> None:
    with dev.ctx.use() as node:
        record_id = int(node.queries.records(1, "accepted")[0]["id"])
        block = node.health().block
    with signed_in(dev, dev_account(dev, "operator")) as operator:
        before = operator.get("/operator").text
        out = operator.post(f"/v1/records/{record_id}/review",
                            json={"decision": "quarantine", "note": "looks off"})  # fmt: skip
        assert out.status_code == 200, out.text
        during = operator.get("/operator").text
        released = operator.post(f"/v1/records/{record_id}/review", json={"decision": "release"})
        assert released.status_code == 200
        after = operator.get("/operator").text
    assert 'id="health"' in before and 'Node health <span class="ok">✔ ok</span>' in before
    for part in ("chain", "database", "index"):
        assert (
            f'<tr class="health-{part}"><td>{part}</td><td><span class="ok">✔ ok</span>' in before
        )
    assert block is not None and re.search(r"block (\d+)", before)
    assert int(re.search(r"· block (\d+)", before).group(1)) >= block  # type: ignore[union-attr]
    assert str(record_id) not in _queue(before)
    assert _queue(during) == [str(record_id)] and "review quarantined: looks off" in during
    assert f'data-decision="release" data-record="{record_id}"' in during
    assert "<strong>1</strong> awaiting review" in during
    assert _queue(after) == []


def test_others_see_no_health_and_no_queue(dev: LiveServer) -> None:
    with signed_in(dev, dev_account(dev, "carol")) as carol:
        page = carol.get("/operator").text
    assert "Sign in with the node's operator key" in page
    assert 'id="health"' not in page and "Review queue" not in page
