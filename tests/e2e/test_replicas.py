"""Two app processes on one PostgreSQL behind nginx (the recipe in docs/deployment.md).

1. nginx (scripts/replicas.py) keeps each browser on one process by a cookie that names only
   the replica; a projector pinned to r0 and one pinned to r1 both show their QR image, and
   the image is served by the process that drew the page (a media URL asked of the OTHER
   process is not found there: why the cookie is needed).
2. A phone whose page came from r0 casts its ballot on r1 (the route's token is stateless),
   and phones with no cookie land on both processes: every acknowledged ballot is stored.
3. One process is killed (SIGKILL) mid-vote: phones keep casting through nginx, which sends
   them to the live process, and every receipt acknowledged before or after is in the box.

Needs Debian's nginx (skipped without it; `.ci/run` installs it and sets
BEIDUI_REQUIRE_NGINX=1, which turns the skip into a failure) and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from benchmarks.http_phone import HttpPhone
from benchmarks.room import Room, close_room, open_room, stored_ballots, verified_receipts
from benchmarks.streamlit_client import StreamlitClient
from scripts.replicas import COOKIE, Replicas, nginx_available, run_replicas
from tests.conftest import PgSchema, require_postgres
from tests.e2e.conftest import PHONE

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    if not nginx_available():
        if os.environ.get("BEIDUI_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is required here (BEIDUI_REQUIRE_NGINX=1)")
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    schema = PgSchema(require_postgres())
    url = f"{schema.base_url}?options=-csearch_path%3D{schema.name}"
    try:
        with run_replicas(2, tmp_path, url) as rep:
            yield rep
    finally:
        schema.drop()


def run_async(coro: Any) -> Any:
    """asyncio.run in its own thread: Playwright's sync API keeps a loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return r.status, dict(r.headers.items())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items())


async def ballot_page(base: str, room: Room, card: str, cookie: str | None = None) -> Any:
    """Open a phone's join page through nginx; the data it hands its ballot component."""
    client = StreamlitClient(base.replace("http://", "ws://"), "join", f"w={room.code}&card={card}")
    if cookie:  # pin the websocket to one replica, as the browser's cookie would
        client.extra_headers = {"Cookie": f"{COOKIE}={cookie}"}
    await client.connect()
    try:
        result = await client.run(timeout=60)
        assert result.status == "FINISHED_SUCCESSFULLY", result
        return client.components["beidui_ballot"]
    finally:
        await client.close()


async def cast(base: str, data: Any, cookie: str | None = None) -> tuple[int, Any, str]:
    phone = HttpPhone(base)
    if cookie:
        phone.cookies[COOKIE] = cookie
    body = {
        "workshop": data["workshop"],
        "token": data["token"],
        "card": data["card"],
        "ranking": [m["key"] for m in data["methods"][:3]],
        "lang": "en",
    }
    try:
        reply = await phone.post_json(data["endpoint"], body)
    finally:
        await phone.close()
    return reply.status, reply.body, reply.cookies.get(COOKIE, "")


async def settle(
    base: str, data: Any, answer: tuple[int, Any, str], wait: float = 30.0
) -> tuple[int, Any, str]:
    """Poll a "waiting" answer on the process that holds its ticket (the cookie nginx gave),
    as the component does, until it is stored or refused, or `wait` seconds pass."""
    status, body, replica = answer
    deadline = time.monotonic() + wait
    while body.get("state") == "waiting" and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        phone = HttpPhone(base)
        phone.cookies[COOKIE] = replica
        try:
            reply = await phone.post_json(
                data["statusEndpoint"],
                {
                    "workshop": data["workshop"],
                    "token": data["token"],
                    "ticket": body["ticket"],
                    "lang": "en",
                },
            )
        finally:
            await phone.close()
        status, body = reply.status, reply.body
    return status, body, replica


def test_each_replica_serves_its_pages_and_qr_images_behind_nginx(
    replicas: Replicas, browser: Any
) -> None:
    room = open_room(replicas.servers[0].env, 2)
    for replica, other in (("r0", "r1"), ("r1", "r0")):
        context = browser.new_context(**PHONE)
        context.add_cookies([{"name": COOKIE, "value": replica, "url": replicas.url}])
        try:
            page = context.new_page()
            page.goto(f"{replicas.url}/projector?w={room.code}", wait_until="domcontentloaded")
            img = page.get_by_test_id("stImage").locator("img")
            img.wait_for(timeout=60_000)
            page.wait_for_function(
                "(i) => i.complete && i.naturalWidth > 0", arg=img.element_handle()
            )
            src = str(img.get_attribute("src"))
            media = src if src.startswith("http") else f"{replicas.url}{src}"
            assert get(media, f"{COOKIE}={replica}")[0] == 200
            if replica == "r0":
                # Streamlit keeps media in the memory of the process that drew the page: r1
                # has drawn nothing yet, so without the cookie's stickiness the QR is lost.
                assert get(media, f"{COOKIE}={other}")[0] == 404
        finally:
            context.close()


def test_ballots_cast_through_nginx_are_all_stored_whichever_process_answers(
    replicas: Replicas,
) -> None:
    room = open_room(replicas.servers[0].env, 13)

    async def run() -> tuple[list[tuple[int, Any, str]], tuple[int, Any, str]]:
        # A page drawn by r0, its ballot taken by r1.
        pinned = await ballot_page(replicas.url, room, room.cards[0], cookie="r0")
        across = await cast(replicas.url, pinned, cookie="r1")
        datas = [await ballot_page(replicas.url, room, card) for card in room.cards[1:]]
        answers = list(await asyncio.gather(*(cast(replicas.url, d) for d in datas)))
        # Each process writes its own batches of k = 5; what waits (fewer than k on each)
        # is written when the facilitator closes voting, wherever that happens.
        await asyncio.to_thread(close_room, replicas.servers[0].env, room.code)
        settled = await asyncio.gather(
            *(
                settle(replicas.url, d, a)
                for d, a in zip([pinned, *datas], [across, *answers], strict=True)
            )
        )
        return settled[1:], settled[0]

    answers, across = run_async(run())
    assert across[0] == 200 and across[1]["state"] == "stored" and across[2] == "r1"
    not_stored = [(s, b, r) for s, b, r in answers if s != 200 or b["state"] != "stored"]
    assert not_stored == []
    served_by = Counter(replica for _, _, replica in answers)
    assert set(served_by) == {"r0", "r1"}, served_by  # 12 coin flips, both sides seen
    receipts = {body["receipt"] for _, body, _ in [*answers, across]}
    assert stored_ballots(replicas.servers[0].env, room.code) == len(receipts) == 13


def test_a_killed_process_loses_no_acknowledged_ballot(replicas: Replicas) -> None:
    room = open_room(replicas.servers[0].env, 12)

    env = replicas.servers[1].env

    async def run() -> tuple[set[str], int]:
        datas = [await ballot_page(replicas.url, room, card) for card in room.cards]
        first = await asyncio.gather(*(cast(replicas.url, d) for d in datas[:6]))
        first = await asyncio.gather(
            *(settle(replicas.url, d, a, 2) for d, a in zip(datas[:6], first, strict=True))
        )
        acknowledged = {b["receipt"] for s, b, _ in first if b.get("state") == "stored"}
        os.kill(replicas.servers[0].process.pid, signal.SIGKILL)
        replicas.servers[0].process.wait(10)
        # A ballot that waited in the killed process was never acknowledged and never
        # written: its card is unused, and its phone (told "not stored") casts again. One
        # waiting in the live process keeps its ticket there.
        dead = "r0"  # the cookie nginx gives for replicas.servers[0]
        again = [
            d
            for d, (_, b, r) in zip(datas[:6], first, strict=True)
            if b.get("state") != "stored" and r == dead
        ]
        kept = [
            (d, a)
            for d, a in zip(datas[:6], first, strict=True)
            if a[1].get("state") == "waiting" and a[2] != dead
        ]
        # Tokens from pages the dead process drew still work on the live one.
        rest = [*again, *datas[6:]]
        answers = await asyncio.gather(*(cast(replicas.url, d) for d in rest))
        await asyncio.to_thread(close_room, env, room.code)
        pending = [*zip(rest, answers, strict=True), *kept]
        answers = await asyncio.gather(*(settle(replicas.url, d, a) for d, a in pending))
        acknowledged |= {b["receipt"] for s, b, _ in answers if b.get("state") == "stored"}
        return acknowledged, len(again)

    acknowledged, cast_again = run_async(run())
    assert len(acknowledged) == 12, cast_again
    assert verified_receipts(env, room.code, acknowledged) == 12
    assert stored_ballots(env, room.code) == 12
