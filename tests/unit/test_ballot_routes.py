"""web.ballot_api's endpoints are plain ASGI apps, mounted as they are by Starlette's Route
too (the path st.App's router serves them on, e.g. under a base URL)."""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette

from core import ballot_values, casting
from core.errors import BeiduiError
from web import ballot_api


def _call(
    app: Any, method: str, path: str, body: bytes = b"", *, origin: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"host", b"beidui.test"),
            *([(b"origin", origin)] if origin else []),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("beidui.test", 80),
        "scheme": "http",
        "http_version": "1.1",
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_bytes = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body_bytes)


def test_starlettes_router_serves_the_endpoints_as_they_are() -> None:
    router = Starlette(routes=ballot_api.ROUTES)
    status, answer = _call(router, "GET", ballot_api.CAST_PATH)
    assert (status, answer["error"]) == (405, "web.bad_request")
    # A POST without an Origin is refused by the endpoint itself, as on the direct path.
    status, answer = _call(router, "POST", ballot_api.STATUS_PATH, b"{}")
    assert (status, answer["error"]) == (403, "web.forbidden")


def test_a_body_over_the_limit_is_not_read_on_and_is_refused() -> None:
    endpoint = ballot_api.ENDPOINTS[ballot_api.CAST_PATH]
    same_site = b"http://beidui.test"
    huge = b'{"lang": "en"' + b" " * ballot_api.MAX_BODY_BYTES + b"}"
    status, answer = _call(endpoint, "POST", ballot_api.CAST_PATH, huge, origin=same_site)
    assert (status, answer["error"]) == (400, "web.bad_request")
    # Not read, so not its "lang" either: the default language answers.
    assert answer["message"] == "无法读取这张选票。请刷新页面后再试。"


def test_casts_that_arrive_while_the_threads_are_busy_go_to_core_as_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each cast still gets its own answer (or its own error), a group keeps arrival order,
    and a cast whose request went away before a thread took it is never submitted."""
    busy, release = threading.Event(), threading.Event()
    groups: list[list[str | None]] = []

    def submit_ballots(
        db: object, key: bytes, code: str, requests: list[casting.BallotRequest]
    ) -> list[casting.Ticket | BeiduiError]:
        busy.set()
        release.wait(10)  # the one thread stays busy until every cast has arrived
        groups.append([r.card_code for r in requests])
        return [
            ballot_values.CardNotFound("no")
            if r.card_code == "bad"
            else casting.Ticket(f"t-{r.card_code}", 0)
            for r in requests
        ]

    def ballot_status(ticket: str, *, workshop: str | None = None) -> casting.BallotStatus:
        return casting.BallotStatus(casting.BallotState.STORED, 0, receipt=f"r-{ticket}")

    monkeypatch.setattr(casting, "submit_ballots", submit_ballots)
    monkeypatch.setattr(casting, "ballot_status", ballot_status)
    monkeypatch.setattr(ballot_api, "instance", lambda: SimpleNamespace(db=None, secret_key=b""))
    monkeypatch.setattr(ballot_api, "CAST_CONCURRENCY", 1)
    cards = [f"c{i}" for i in range(60)] + ["bad"]

    def cast(card: str) -> asyncio.Future[ballot_api.Answer]:
        request = casting.BallotRequest(card, ["m"], None)
        return asyncio.ensure_future(ballot_api._submit_grouped("ABC234", request))

    async def room() -> list[object]:
        first = cast("first")
        await asyncio.to_thread(busy.wait, 10)  # a thread is casting "first" ...
        casts = [cast(c) for c in [*cards, "gone"]]  # ... while the room taps
        await asyncio.sleep(0.01)
        casts[-1].cancel()  # this phone went away before a thread took its cast
        await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(first, *casts, return_exceptions=True)

    answers = asyncio.run(room())
    assert groups == [["first"], cards]  # one call for the whole room, in arrival order
    assert answers[1:-2] == [
        ballot_api.Answer(state="stored", receipt=f"r-t-{c}") for c in cards[:-1]
    ]
    assert isinstance(answers[-2], ballot_values.CardNotFound)
    assert isinstance(answers[-1], asyncio.CancelledError)


def test_a_bug_while_casting_a_group_reaches_its_casts_and_the_inbox_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def cast_group(code: str, casts: list[Any]) -> list[Any]:
        calls.append(len(casts))
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return [(c.future, ballot_api.Answer(state="stored", receipt="R"), None) for c in casts]

    monkeypatch.setattr(ballot_api, "_cast_group", cast_group)
    monkeypatch.setattr(ballot_api, "CAST_CONCURRENCY", 1)

    def cast() -> Any:
        return ballot_api._submit_grouped("ABC234", casting.BallotRequest("c", ["m"], None))

    async def room() -> tuple[object, object]:
        first = await asyncio.gather(asyncio.wait_for(cast(), 5), return_exceptions=True)
        later = await asyncio.wait_for(cast(), 10)  # a new drain starts and answers it
        return first[0], later

    first, later = asyncio.run(room())
    assert isinstance(first, RuntimeError)
    assert later == ballot_api.Answer(state="stored", receipt="R")
