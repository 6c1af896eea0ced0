"""Two `streamlit run` servers on one PostgreSQL database act as one ballot box.

What is exercised, end to end over Streamlit's own websocket protocol (the phone client in
`benchmarks/streamlit_client.py`, no browser):
1. Servers A and B start from separate data folders (as on two machines) with the same
   `DATABASE_URL` (a fresh schema, via `?options=-csearch_path%3D...`) and the same
   `BEIDUI_SECRET_KEY`; each runs `core.setup`, which migrates once and seeds nothing twice.
2. Phones cast ballots through A with cards issued against the shared database.
3. The projector page rendered by B shows A's ballots in its count.
4. A phone on B cannot reuse a card spent through A (the card's state is in the database,
   not in a server).
5. A server C with ANOTHER secret refuses every card: why the secret must be shared.
6. A fresh card casts through B and waits, sealed, for its batch of k; the facilitator
   closes voting from another process, B notices the stage and commits the remainder into
   the mix, the phone shows its receipt, and A's projector counts it.

What is not: a load balancer and sticky sessions (each phone here keeps one websocket to one
server, which is what affinity guarantees), a server dying under a live session (see
test_crash_safety.py), and live results (their box key is in the memory of the server
where the facilitator unlocked it; see core/live_key.py `_LIVE_KEYS`).

PostgreSQL is required: skipped without TEST_DATABASE_URL, failed in CI.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.cards import issue_cards
from core.closing import close_voting
from core.console import move_to
from core.console_access import open_console, unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.i18n import t
from core.instance import Admin
from core.templates import available_templates
from core.workshops import create_workshop
from tests.conftest import PgSchema, require_postgres
from tests.server import streamlit_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PASS = "correct horse battery"
PHONES_ON_A = 10  # two batches of k = 5
COUNT = re.compile(r'class="bd-count">(\d+)<')


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def shared_url() -> Iterator[str]:
    schema = PgSchema(require_postgres())
    try:
        yield with_search_path(schema.base_url, schema.name)
    finally:
        schema.drop()


def ws(url: str) -> str:
    return url.replace("http://", "ws://")


async def vote(base_ws: str, code: str, card: str) -> tuple[str | None, list[str]]:
    """One phone: open the join link, rank three methods, review, cast. (receipt, texts)."""
    from benchmarks.streamlit_client import StreamlitClient

    c = StreamlitClient(base_ws, "join", f"w={code}&card={card}")
    await c.connect()
    try:
        return await tap_ballot(c, code, timeout=60)
    finally:
        await c.close()


async def post_ballot(c: Any, timeout: float) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """What a phone does on pages/join.py, on a connected client: open the page, then cast
    as its ballot component does — ONE POST to the server's /api/ballot with the page's
    token. Returns (the component's data, the route's answer, the texts the page showed)."""
    from benchmarks.http_phone import HttpPhone

    result = await c.run(timeout=timeout)
    texts = result.markdown + result.exceptions
    if result.status != "FINISHED_SUCCESSFULLY":
        raise RuntimeError(f"page run ended {result.status}")
    data = c.components["beidui_ballot"]
    http = HttpPhone(_http_base(c))
    try:
        reply = await http.post_json(
            data["endpoint"],
            {
                "workshop": data["workshop"],
                "token": data["token"],
                "card": data["card"],
                "ranking": [m["key"] for m in data["methods"][:3]],
                "lang": data["lang"],
            },
            timeout=timeout,
        )
    finally:
        await http.close()
    if reply.status == 0:
        raise ConnectionError(f"no answer from {_http_base(c)}")
    return data, reply.body, texts


def _http_base(c: Any) -> str:
    return str(c.url).replace("ws://", "http://").removesuffix("/_stcore/stream")


async def poll_ballot(
    c: Any, data: dict[str, Any], answer: dict[str, Any], wait: float
) -> dict[str, Any]:
    """Poll a "waiting" answer as the component does, for at most `wait` seconds."""
    from benchmarks.http_phone import HttpPhone

    http = HttpPhone(_http_base(c))
    deadline = time.monotonic() + wait
    try:
        while answer.get("state") == "waiting" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            reply = await http.post_json(
                data["statusEndpoint"],
                {
                    "workshop": data["workshop"],
                    "token": data["token"],
                    "ticket": answer["ticket"],
                    "lang": data["lang"],
                },
            )
            answer = reply.body if reply.status else answer
    finally:
        await http.close()
    return answer


async def tap_ballot(
    c: Any, code: str, timeout: float, wait: float = 60.0
) -> tuple[str | None, list[str]]:
    """Cast as the phone's component does and wait (at most `wait` s) for the batch of k to
    be stored: (receipt or None, texts shown: the page's and the route's message)."""
    del code  # the component's data names the workshop
    data, answer, texts = await post_ballot(c, timeout)
    answer = await poll_ballot(c, data, answer, wait)
    if answer.get("state") == "stored":
        return str(answer["receipt"]), texts
    return None, [*texts, str(answer.get("message", answer))]


async def projector_count(base_ws: str, code: str, expected: int, timeout: float = 30) -> int:
    """The ballot count the server's projector page renders, polled until it shows
    `expected` (the page caches its database reads for a second)."""
    from benchmarks.streamlit_client import StreamlitClient

    c = StreamlitClient(base_ws, "projector", f"w={code}")
    await c.connect()
    seen = -1
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = await c.run(timeout=60)
            counts = [int(m.group(1)) for b in result.markdown if (m := COUNT.search(b))]
            seen = counts[-1] if counts else -1
            if seen == expected:
                break
            await asyncio.sleep(0.5)
        return seen
    finally:
        await c.close()


def test_two_servers_sharing_one_database_and_secret_count_and_guard_the_same_ballots(
    shared_url: str, tmp_path: Path
) -> None:
    pytest.importorskip("websockets")
    from benchmarks.streamlit_client import StreamlitClient

    key = secrets.token_bytes(32)
    env = {"BEIDUI_SECRET_KEY": key.hex(), "BEIDUI_ADMIN_PASSWORD": "admin-pass-123"}
    other = {**env, "BEIDUI_SECRET_KEY": secrets.token_bytes(32).hex()}
    for name in "abc":
        (tmp_path / name).mkdir()
    with (
        streamlit_server(tmp_path / "a", shared_url, env) as server_a,
        streamlit_server(tmp_path / "b", shared_url, env) as server_b,
        streamlit_server(tmp_path / "c", shared_url, other) as server_c,
    ):
        # 1. the facilitator's side, against the shared database with the shared secret
        db = Database.connect(shared_url, migrate_schema=False)
        try:
            code = create_workshop(
                Admin.trusted(db), available_templates()["default"], "两台服务器", PASS
            )
            grant = unlock_console(db, key, code, PASS).token
            cards = issue_cards(open_console(db, key, code, grant), PHONES_ON_A + 2)
            move_to(open_console(db, key, code, grant), StagePosition(Stage.VOTING))

            async def story() -> None:
                # 2. phones cast through A, in waves of k = 5: each wave is one batch
                for wave in range(0, PHONES_ON_A, 5):
                    cast_a = await asyncio.gather(
                        *(vote(ws(server_a.url), code, c) for c in cards[wave : wave + 5])
                    )
                    assert all(receipt for receipt, _ in cast_a), [m[-1:] for _, m in cast_a]
                # 3. B's projector counts them
                assert await projector_count(ws(server_b.url), code, PHONES_ON_A) == PHONES_ON_A
                # 4. a card spent through A is refused by B
                receipt, texts = await vote(ws(server_b.url), code, cards[0])
                assert receipt is None
                assert any(t("ballot.errors.card_spent", "en") in m for m in texts), texts
                # 5. a server C with ANOTHER secret cannot verify the cards the others issued
                receipt, texts = await vote(ws(server_c.url), code, cards[PHONES_ON_A + 1])
                assert receipt is None
                assert any(t("ballot.errors.card_not_found", "en") in m for m in texts), texts
                # 6. a fresh card on B is sealed and waits for 4 more ballots ...
                c = StreamlitClient(ws(server_b.url), "join", f"w={code}&card={cards[-2]}")
                await c.connect()
                try:
                    data, answer, _ = await post_ballot(c, timeout=60)
                    assert answer["state"] == "waiting" and answer["waiting_for"] == 4, answer
                    # ... until the facilitator closes voting elsewhere (here: a third
                    # process): B sees the stage and commits it into the mix.
                    await asyncio.to_thread(close_voting, open_console(db, key, code, grant))
                    answer = await poll_ballot(c, data, answer, 30)
                    assert answer["state"] == "stored", answer
                finally:
                    await c.close()
                assert (
                    await projector_count(ws(server_a.url), code, PHONES_ON_A + 1)
                    == PHONES_ON_A + 1
                )

            asyncio.run(asyncio.wait_for(story(), timeout=300))
        finally:
            db.dispose()
