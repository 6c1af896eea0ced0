"""The room benchmark's clients can join a real server and cast one stored ballot each way
(sealed, waiting for its batch of k, written when the facilitator closes voting).

If Streamlit changes its websocket protocol, the join page stops handing its ballot
component what it needs, or the form baseline renames a widget, this fails here rather than
as a room benchmark that silently measures nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.http_phone import HttpPhone
from benchmarks.room import close_room, open_room, stored_ballots
from benchmarks.streamlit_client import StreamlitClient, receipt_in
from tests.server import streamlit_server

pytestmark = pytest.mark.slow


async def _one_ballot(
    base: str, code: str, card: str, close: Callable[[], None]
) -> tuple[str, list[str]]:
    phone = StreamlitClient(
        base.replace("http://", "ws://"), "join", f"w={code}&card={card}", locale="en-US"
    )
    await phone.connect()
    try:
        opened = await phone.run()
        assert opened.status == "FINISHED_SUCCESSFULLY", opened
        assert not opened.exceptions, opened.exceptions
        assert "card=" not in phone.query_string  # the page takes the card out of the URL
        data = phone.components["beidui_ballot"]
        assert data["card"] == card and data["endpoint"] == "/api/ballot"
        # The ranking never travels over the websocket: only the component's data does.
        top = [m["key"] for m in data["methods"][:3]]
        http = HttpPhone(base)
        body = {"workshop": data["workshop"], "token": data["token"], "card": card}
        reply = await http.post_json(data["endpoint"], {**body, "ranking": top, "lang": "en"})
        # The only phone in the room (k = 5): sealed and queued, nothing written yet.
        assert reply.status == 202 and reply.body["state"] == "waiting", reply
        assert reply.body["waiting_for"] == 4
        await asyncio.to_thread(close)  # the facilitator closes: the last batch is written
        status = {**body, "ticket": reply.body["ticket"], "lang": "en"}
        for _ in range(50):
            reply = await http.post_json(data["statusEndpoint"], status)
            if reply.body.get("state") != "waiting":
                break
            await asyncio.sleep(0.2)
        await http.close()
        assert reply.status == 200 and reply.body["state"] == "stored", reply
        receipt = reply.body["receipt"]
        # The component hands the receipt to the page, which shows it and keeps it.
        phone.values[phone.component_ids["beidui_ballot"]] = (
            "json_value",
            json.dumps({"receipt": receipt}),
        )
        done = await phone.run()
        # The vote is closed by now: the page shows the receipt as a caption, not a heading.
        assert any(f"`{receipt}`" in b for b in done.markdown), done.markdown
        return receipt, top
    finally:
        await phone.close()


async def _one_form_ballot(
    base: str, code: str, card: str, close: Callable[[], None]
) -> str | None:
    phone = StreamlitClient(base.replace("http://", "ws://"), "", f"w={code}")
    await phone.connect()
    try:
        assert (await phone.run()).status == "FINISHED_SUCCESSFULLY"
        options = list(phone.widget("ranking").element.options)
        phone.set_value("card", "string_value", card)
        phone.set_value("ranking", "string_array_value", options[:2])
        # `receipt_when_stored` waits for the batch: the run finishes once the close writes it.
        casting = asyncio.create_task(phone.run(triggers=[phone.widget("cast").id], timeout=60))
        await asyncio.sleep(2)
        assert not casting.done()
        await asyncio.to_thread(close)
        done = await casting
        return next((r for b in done.markdown if (r := receipt_in(b))), None)
    finally:
        await phone.close()


def test_a_simulated_phone_joins_by_link_and_casts_one_stored_ballot(tmp_path: Path) -> None:
    with streamlit_server(tmp_path) as server:
        room = open_room(server, 1)
        assert stored_ballots(server, room.code) == 0

        def close() -> None:
            assert stored_ballots(server, room.code) == 0  # queued in server memory only
            close_room(server, room.code)

        receipt, _ = asyncio.run(
            asyncio.wait_for(_one_ballot(server.url, room.code, room.cards[0], close), 120)
        )
        assert receipt
        assert stored_ballots(server, room.code) == 1


def test_the_form_baseline_page_casts_one_stored_ballot(tmp_path: Path) -> None:
    with streamlit_server(tmp_path, script="benchmarks/form_page.py") as server:
        room = open_room(server, 1)

        def close() -> None:
            assert stored_ballots(server, room.code) == 0  # queued in server memory only
            close_room(server, room.code)

        receipt = asyncio.run(
            asyncio.wait_for(_one_form_ballot(server.url, room.code, room.cards[0], close), 120)
        )
        assert receipt
        assert stored_ballots(server, room.code) == 1
