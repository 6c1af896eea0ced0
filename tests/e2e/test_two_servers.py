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
where the facilitator unlocked it; see core/ballots.py `_LIVE_KEYS`).

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

from core import ballots
from core.db import Database
from core.domain import Stage, StagePosition
from core.i18n import t
from core.templates import available_templates
from core.workshops import create_workshop, move_to, unlock_console
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


async def tap_ballot(
    c: Any, code: str, timeout: float, wait: float = 60.0
) -> tuple[str | None, list[str]]:
    """The taps of pages/join.py on a connected client: (receipt or None, texts shown).

    Follows both ballot flows the page has had: one form with a review button (now), or a
    ranking, a confirm checkbox and a cast button (before).
    """
    from benchmarks.streamlit_client import wait_for_receipt

    texts: list[str] = []

    async def run(**kw: Any) -> None:
        result = await c.run(timeout=timeout, **kw)
        texts.extend(result.markdown + result.exceptions)
        if result.status != "FINISHED_SUCCESSFULLY":
            raise RuntimeError(f"page run ended {result.status}")

    await run()
    ranking = c.widget(f"ranking_{code}")
    c.set_value(f"ranking_{code}", "string_array_value", list(ranking.element.options)[:3])
    try:
        review = c.widget("review")
    except KeyError:
        await run()
        c.set_value(f"confirm_{code}", "bool_value", True)
        await run()
    else:
        await run(triggers=[review.id])
    await run(triggers=[c.widget("cast").id])
    # Sealed and queued: the receipt shows once the batch of k is stored (or voting closes).
    receipt = await wait_for_receipt(c, texts, wait)
    return receipt, texts


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
    from benchmarks.streamlit_client import StreamlitClient, wait_for_receipt

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
            code = create_workshop(db, available_templates()["default"], "两台服务器", PASS)
            grant = unlock_console(db, key, code, PASS)
            cards = ballots.issue_cards(db, key, code, grant, PHONES_ON_A + 2)
            move_to(db, key, code, grant, StagePosition(Stage.VOTING))

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
                    receipt, texts = await tap_ballot(c, code, timeout=60, wait=0)
                    assert receipt is None
                    waiting = t("join.sealed_waiting", "en", n=4)
                    assert any(waiting in m for m in texts), texts
                    # ... until the facilitator closes voting elsewhere (here: a third
                    # process): B sees the stage and commits it into the mix.
                    await asyncio.to_thread(ballots.close_voting, db, key, code, grant)
                    receipt = await wait_for_receipt(c, texts, 30)
                    assert receipt is not None, texts[-3:]
                finally:
                    await c.close()
                assert (
                    await projector_count(ws(server_a.url), code, PHONES_ON_A + 1)
                    == PHONES_ON_A + 1
                )

            asyncio.run(asyncio.wait_for(story(), timeout=300))
        finally:
            db.dispose()
