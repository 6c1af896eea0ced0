"""The room benchmark's protocol client can join a real server and cast one stored ballot
(sealed, waiting for its batch, written when voting closes).

If Streamlit changes its websocket protocol or the join page renames a widget key, this
fails here rather than as a room benchmark that silently measures nothing.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.room import close_room, open_room, stored_ballots
from benchmarks.streamlit_client import StreamlitClient, wait_for_receipt
from tests.server import streamlit_server

pytestmark = pytest.mark.slow


async def _one_ballot(
    ws_url: str, code: str, card: str, close: Callable[[], None]
) -> tuple[str, list[str], list[str]]:
    phone = StreamlitClient(ws_url, "join", f"w={code}&card={card}", locale="en-US")
    await phone.connect()
    try:
        opened = await phone.run()
        assert opened.status == "FINISHED_SUCCESSFULLY", opened
        assert not opened.exceptions, opened.exceptions
        assert "card=" not in phone.query_string  # the page takes the card out of the URL

        ranking = phone.widget(f"ranking_{code}")
        top = list(ranking.element.options)[:3]
        phone.set_value(f"ranking_{code}", "string_array_value", top)
        # The ballot is one form: the ranking travels with the review submit.
        ranked = await phone.run(triggers=[phone.widget("review").id])
        assert ranked.status == "FINISHED_SUCCESSFULLY" and not ranked.exceptions, ranked
        review = "\n".join(ranked.markdown)
        assert "1. " in review and "2. " in review and "3. " in review, review
        cast = phone.widget("cast")
        assert not cast.element.disabled

        done = await phone.run(triggers=[cast.id])
        # Sealed and queued (k = 5): the phone says so, and nothing is written yet.
        texts = done.markdown + done.exceptions
        assert any("waiting for 4 more ballots" in body for body in texts), texts
        # After casting, the ballot's widgets are gone.
        assert not any(w.user_key == f"ranking_{code}" for w in phone.widgets.values())
        # The only phone in the room: its ballot is written when the facilitator closes.
        await asyncio.to_thread(close)
        receipt = await wait_for_receipt(phone, texts, 30)
        assert receipt is not None, texts[-3:]
        return receipt, texts, top
    finally:
        await phone.close()


def test_a_simulated_phone_joins_by_link_and_casts_one_stored_ballot(tmp_path: Path) -> None:
    with streamlit_server(
        tmp_path, extra_env={"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    ) as server:
        room = open_room(server, 1)
        assert stored_ballots(server, room.code) == 0
        ws_url = server.url.replace("http://", "ws://")

        def close() -> None:
            assert stored_ballots(server, room.code) == 0  # queued in server memory only
            close_room(server, room)

        receipt, _, ranking = asyncio.run(
            asyncio.wait_for(_one_ballot(ws_url, room.code, room.cards[0], close), 120)
        )
        assert receipt
        assert stored_ballots(server, room.code) == 1

        # Anyone on the room's Wi-Fi can read Streamlit's /_stcore/metrics (no login, no way
        # to switch it off in 1.67). Playing that adversary right after a ballot: it must hold
        # aggregate counters only, never the workshop, the card, the receipt or the ranking.
        with urllib.request.urlopen(f"{server.url}/_stcore/metrics", timeout=10) as resp:
            metrics = resp.read().decode("utf-8")
        assert "active_sessions" in metrics  # the endpoint answered with its real content
        secrets_seen = [room.code, room.cards[0], room.cards[0].replace("-", ""), receipt]
        for value in [*secrets_seen, *ranking]:
            assert value not in metrics, value
