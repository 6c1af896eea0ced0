"""What docs/threat-model.md says of the ballot route (web/ballot_api.py) and of the keys the
attempt limiters see, checked at the route's ASGI edge with core's casting replaced:

1. every answer, whatever it is, is `Cache-Control: no-store`;
2. nothing about a request is logged: not the card, the ranking, the role, the token, the
   ticket, the receipt or the client's address; an unexpected failure logs its type only;
3. the status route answers only with a page token of the ticket's workshop;
4. the limiters are keyed by the client's address where the server sees one (the route and
   the pages alike), else by a random per-session key;
5. the ballot component hands the page only a receipt or a ticket, never the ranking.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core import ballot_values, casting
from web import ballot_api, page_token

KEY = b"k" * 32
CODE = "ABC234"
CARD = "7KQM-4HXD-PW"
ROLE = "funder_role"
RANKING = ["secret_method_one", "secret_method_two"]
TICKET = "ticket-zq8Wv3Lm5Nx2"
RECEIPT = "RCPT7-QX4M2"
PEER = "198.51.100.23"


def _call(
    path: str,
    body: dict[str, Any] | bytes,
    *,
    method: str = "POST",
    origin: bytes | None = b"http://beidui.test",
    content_type: bytes = b"application/json",
) -> tuple[int, dict[bytes, bytes], dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [
            (b"content-type", content_type),
            (b"host", b"beidui.test"),
            *([(b"origin", origin)] if origin else []),
        ],
        "client": (PEER, 5000),
    }
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    chunks = [{"type": "http.request", "body": data, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(ballot_api.ENDPOINTS[path](scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), json.loads(payload)


@pytest.fixture
def route(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Core's casting replaced: what the next cast answers is set through the dict."""
    plan: dict[str, Any] = {"outcome": "stored"}

    def submit_ballots(db: object, key: bytes, code: str, requests: list[Any]) -> list[Any]:
        plan["requests"] = requests
        if plan["outcome"] == "crash":
            raise RuntimeError(f"database went away while casting {CARD} {RANKING} {PEER}")
        if plan["outcome"] == "refused":
            return [ballot_values.CardNotFound("no usable card with this code")]
        return [casting.Ticket(TICKET, 1)]

    def ballot_status(ticket: str, *, workshop: str | None = None) -> casting.BallotStatus:
        if ticket != TICKET or workshop != CODE:
            raise casting.UnknownTicket("no such ticket here")
        if plan["outcome"] == "waiting":
            return casting.BallotStatus(casting.BallotState.WAITING, 1)
        return casting.BallotStatus(casting.BallotState.STORED, 0, receipt=RECEIPT)

    monkeypatch.setattr(casting, "submit_ballots", submit_ballots)
    monkeypatch.setattr(casting, "ballot_status", ballot_status)
    monkeypatch.setattr(casting, "notify_when_done", lambda *a, **k: False)
    monkeypatch.setattr(ballot_api, "instance", lambda: SimpleNamespace(db=None, secret_key=KEY))
    return plan


def _cast_body(token: str) -> dict[str, Any]:
    return {"workshop": CODE, "token": token, "card": CARD, "ranking": RANKING, "role": ROLE}


def test_every_answer_of_the_ballot_routes_is_no_store_and_nothing_of_a_request_is_logged(
    route: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    token = page_token.mint(KEY, CODE)
    cast_path, status_path = ballot_api.CAST_PATH, ballot_api.STATUS_PATH
    answers: list[tuple[str, int, dict[bytes, bytes], dict[str, Any]]] = []

    def call(label: str, path: str, body: dict[str, Any] | bytes, **kw: Any) -> None:
        answers.append((label, *_call(path, body, **kw)))

    caplog.set_level(logging.DEBUG)
    call("stored", cast_path, _cast_body(token))
    route["outcome"] = "waiting"
    call("waiting", cast_path, _cast_body(token))
    call("polled", status_path, {"workshop": CODE, "token": token, "ticket": TICKET})
    route["outcome"] = "refused"
    call("refused", cast_path, _cast_body(token))
    route["outcome"] = "crash"
    call("crash", cast_path, _cast_body(token))
    call("GET", cast_path, b"", method="GET")
    call("no origin", cast_path, _cast_body(token), origin=None)
    call("form", cast_path, b"card=" + CARD.encode(), content_type=b"x-www-form-urlencoded")
    call("unknown ticket", status_path, {"workshop": CODE, "token": token, "ticket": "nope"})
    assert [(label, status) for label, status, _, _ in answers] == [
        ("stored", 200),
        ("waiting", 202),
        ("polled", 202),
        ("refused", 422),
        ("crash", 503),
        ("GET", 405),
        ("no origin", 403),
        ("form", 400),
        ("unknown ticket", 404),
    ]
    assert answers[0][3] == {"state": "stored", "receipt": RECEIPT}  # the answers are real
    assert answers[1][3]["ticket"] == TICKET
    for label, _, headers, _ in answers:
        assert headers[b"cache-control"] == b"no-store", label
    # The limiter's key for this peer is its address (HMACed in memory by the limiter).
    assert route["requests"][0].client_key == f"ip:{PEER}"
    told = [r.getMessage() for r in caplog.records]
    request_parts = [CARD, *RANKING, ROLE, token, TICKET, RECEIPT, PEER, CODE]
    for message in told:
        assert not [part for part in request_parts if part in message], message
    ours = [m for r, m in zip(caplog.records, told, strict=True) if r.name.startswith("beidui")]
    assert ours == ["ballot route failed: RuntimeError"]  # the crash: its type, nothing else


def test_the_status_route_answers_only_with_a_page_token_of_the_tickets_workshop(
    route: dict[str, Any],
) -> None:
    route["outcome"] = "waiting"
    mine = {"workshop": CODE, "token": page_token.mint(KEY, CODE), "ticket": TICKET}
    assert _call(ballot_api.STATUS_PATH, mine)[0] == 202
    elsewhere = {**mine, "workshop": "WGEDYQ", "token": page_token.mint(KEY, "WGEDYQ")}
    refusals = [
        {**mine, "token": None},
        {**mine, "token": page_token.mint(KEY, "WGEDYQ")},  # another workshop's token
        {**mine, "token": page_token.mint(b"x" * 32, CODE)},  # another instance's
    ]
    for body in refusals:
        status, headers, answer = _call(ballot_api.STATUS_PATH, body)
        assert (status, answer["error"]) == (403, "web.forbidden")
        assert "waiting_for" not in answer and headers[b"cache-control"] == b"no-store"
    status, _, answer = _call(ballot_api.STATUS_PATH, elsewhere)
    assert (status, answer["error"]) == (404, "web.unknown_ticket")


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("198.51.100.23", "ip:198.51.100.23"),
        ("2001:db8::7", "ip:2001:db8::7"),
        ("127.0.0.1", "session:nonce-of-this-page"),  # a local proxy in front: no address
        ("::1", "session:nonce-of-this-page"),
        (None, "session:nonce-of-this-page"),
    ],
)
def test_the_route_keys_the_card_limiter_by_address_else_by_the_pages_nonce(
    peer: str | None, expected: str
) -> None:
    call = ballot_api.Call(None, None, "application/json", peer, b"{}")
    assert ballot_api.limiter_key(call, "nonce-of-this-page") == expected


def test_pages_key_the_limiters_by_address_else_by_a_random_key_of_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ui import doors

    session: dict[str, Any] = {}
    seen = SimpleNamespace(context=SimpleNamespace(ip_address=PEER), session_state=session)
    monkeypatch.setattr(doors, "st", seen)
    assert doors.client_key() == f"ip:{PEER}"
    assert session == {}  # nothing kept in the session when the address is known
    unseen = SimpleNamespace(context=SimpleNamespace(ip_address=None), session_state=session)
    monkeypatch.setattr(doors, "st", unseen)
    first = doors.client_key()
    assert re.fullmatch(r"session:[0-9a-f]{32}", first)
    assert doors.client_key() == first  # the same session keeps its key
    other = SimpleNamespace(context=SimpleNamespace(ip_address=None), session_state={})
    monkeypatch.setattr(doors, "st", other)
    assert doors.client_key() != first


def test_the_ballot_component_hands_the_page_only_a_receipt_or_a_ticket() -> None:
    script = (Path(__file__).resolve().parents[2] / "ui/ballot_component/ballot.js").read_text()
    handed = set(re.findall(r"setStateValue\(\s*\"(\w+)\"", script))
    assert handed == {"receipt", "ticket"}
    assert "setTriggerValue" not in script
    assert not re.search(r"setStateValue\(\s*[^\"\s]", script)  # no computed key
