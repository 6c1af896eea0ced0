"""The storage adversary of docs/threat-model.md against a real server: phones cast through
the HTTP ballot route, several at once, and the reader looks at the database FILES and at
the server's own log.

tests/integration/test_storage_adversary.py plays the same adversary against
`submit_ballot` called in-process, one ballot after another. Here the casts take the path
real phones take: each phone opens its join page (the card in the link, as a QR code gives
it), and its ballot component POSTs the ranking to `/api/ballot` of a `streamlit run`
server, whose route hands the casts that arrive together to core as one group.

1. A server starts (SQLite; PostgreSQL in a fresh schema), a workshop with k = 5 opens
   voting, and every phone opens its join page and a keep-alive connection.
2. The phones cast in bursts of 2-11 at once, recording which card sent which ranking and
   in what order; earlier "waiting" tickets are polled in the same burst, as the component
   polls. After each burst the reader takes the files (SQLite: main file and parsed -wal;
   PostgreSQL: raw pages via `pageinspect` and the WAL's raw bytes from `pg_wal/`). The
   last burst is sized so that some ballots are still waiting when voting closes.
3. The facilitator closes voting (the waiting ballots are written by the server that holds
   them) and reveals; the reader takes the files after each, and on PostgreSQL the WAL
   records of our relations (`pg_walinspect`) since the room opened.
4. Rules: a ballot answered "waiting" is in no file, page or WAL byte until it is stored;
   no PostgreSQL transaction inserts fewer than k ballots or spends fewer than k cards,
   and the SQLite -wal never holds more than the last burst's ballots; after the close and
   after the reveal storage order is not casting order; after the reveal no ciphertext is
   in any page or file; and the server's stdout/stderr has no line about any request (no
   card, receipt, ticket, page token, client address or ranking, no route or method).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from benchmarks.http_phone import HttpPhone, Reply
from benchmarks.room import PASS, close_room, open_room
from benchmarks.streamlit_client import StreamlitClient
from core import mix
from core.config import settings_from_env
from core.console_access import unlock_console
from core.db import Database
from core.instance import open_instance
from core.reveal import reveal
from tests import ballot_storage_reader as sr
from tests.conftest import BACKENDS, PgSchema, require_postgres
from tests.server import Server, streamlit_server

pytestmark = pytest.mark.slow

K = 5  # the room's k (benchmarks.room.open_room makes workshops with the default)
# 48 casts: bursts above k (one group or several, as the route's threads take them) and
# below it (they wait for the next burst), never a multiple of k.
BURSTS = (7, 3, 9, 2, 6, 11, 4, 6)
SPARE = K  # cards for the last, adaptive burst
# 50-odd ballots under a uniform shuffle give Spearman's rho an sd of ~0.14: |rho| >= 0.7 is
# a 5-sigma event, while an order kept from casting gives 1.0.
MAX_ABS_RHO = 0.7
TABLES = ("sealed_ballots", "cards", "workshop_secrets", "opened_ballots", "result_publications")
PAGE_CONCURRENCY = 8


@dataclass
class Cast:
    """One phone's ballot, as the test (not the server) knows it."""

    index: int  # the order its POST was sent in (casting order)
    card: str
    ranking: list[str]
    burst: int
    sent_at: float = 0.0
    first_state: str = ""
    ticket: str | None = None
    receipt: str | None = None
    stored_after: str = ""  # label of the first snapshot taken once it was stored


@dataclass
class Snapshot:
    label: str
    view: sr.StorageView
    wal_bytes: bytes  # PostgreSQL: the WAL's raw bytes from the room's start to now
    sent: frozenset[int]  # casts whose POST was sent by now
    stored: frozenset[int]  # casts answered "stored" by now
    last: frozenset[int]  # casts stored during the burst just before


@dataclass
class Room:
    backend: str
    server: Server
    db: Database  # the adversary's handle: files (SQLite) or a superuser session (PG)
    code: str
    casts: list[Cast] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    sealed: dict[int, bytes] = field(default_factory=dict)  # cast index -> ciphertext
    wal_records: list[sr.WalRecord] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # what the log must not hold
    log_lines_before_voting: int = 0
    log_lines_after_voting: int = 0
    seconds: float = 0.0


class Phone:
    """A phone that opened its join page: the data the page gave its ballot component, and
    the keep-alive connection the component's POSTs go over."""

    def __init__(self, base_url: str, data: dict[str, Any]) -> None:
        self.data = data
        self.http = HttpPhone(base_url)
        self.ports: set[int] = set()

    def _note_port(self) -> None:
        writer = self.http._writer
        if writer is not None:
            self.ports.add(int(writer.get_extra_info("sockname")[1]))

    async def post(self, path: str, body: dict[str, Any]) -> Reply:
        common = {"workshop": self.data["workshop"], "token": self.data["token"], "lang": "en"}
        reply = await self.http.post_json(path, {**common, **body})
        self._note_port()
        return reply


async def open_phone(base_url: str, code: str, card: str) -> Phone:
    page = StreamlitClient(base_url.replace("http://", "ws://"), "join", f"w={code}&card={card}")
    await page.connect()
    try:
        opened = await page.run(timeout=60)
        assert opened.status == "FINISHED_SUCCESSFULLY" and not opened.exceptions, opened
        data = dict(page.components["beidui_ballot"])
    finally:
        await page.close()
    assert data["card"] == card and data["endpoint"] == "/api/ballot"
    phone = Phone(base_url, data)
    await phone.http.open()
    phone._note_port()
    return phone


def ranking_for(methods: list[str], i: int) -> list[str]:
    """A distinct-looking top-k per phone (rotations, 1..k long)."""
    turn = i % len(methods)
    rotated = methods[turn:] + methods[:turn]
    return rotated[: 1 + (i * 7) % K] if i % 3 else rotated[:K]


def take(room: Room, label: str, wal: list[bytes], lsn: list[str], last: set[int]) -> None:
    """What the reader holds now; on PostgreSQL the WAL read so far grows by what is new."""
    view = sr.read_storage(room.db, TABLES)
    if room.backend == "postgresql":
        more, lsn[0] = sr.pg_wal_bytes(room.db, lsn[0])
        wal.append(more)
    sent = frozenset(c.index for c in room.casts)
    stored = frozenset(c.index for c in room.casts if c.receipt is not None)
    for c in room.casts:
        if c.receipt is not None and not c.stored_after:
            c.stored_after = label
    room.snapshots.append(Snapshot(label, view, b"".join(wal), sent, stored, frozenset(last)))


def _schema_filenodes(room: Room, into: dict[int, str]) -> None:
    if room.backend == "postgresql":
        into.update(sr.pg_filenodes(room.db, TABLES))


async def _cast(phone: Phone, c: Cast, clock: list[int]) -> None:
    c.index, clock[0] = clock[0], clock[0] + 1
    c.sent_at = time.perf_counter()
    reply = await phone.post(
        phone.data["endpoint"], {"card": c.card, "ranking": c.ranking, "role": None}
    )
    assert reply.status in (200, 202), (reply.status, reply.body)
    c.first_state = str(reply.body["state"])
    c.ticket = reply.body.get("ticket")
    c.receipt = reply.body.get("receipt")


async def _poll(phone: Phone, c: Cast) -> None:
    """One long poll of a waiting ticket (the route answers when the batch is written, or
    after its settle time with "waiting" again)."""
    reply = await phone.post(phone.data["statusEndpoint"], {"ticket": c.ticket})
    assert reply.status in (200, 202), (reply.status, reply.body)
    c.receipt = reply.body.get("receipt")


async def vote(room: Room, phones: list[Phone], methods: list[str]) -> None:
    wal: list[bytes] = []
    lsn = [sr.pg_lsn(room.db)] if room.backend == "postgresql" else [""]
    start_lsn = lsn[0]
    filenodes: dict[int, str] = {}
    _schema_filenodes(room, filenodes)
    clock = [0]
    by_cast: dict[int, Phone] = {}

    async def burst(b: int, size: int) -> None:
        new = [Cast(-1, phones[len(room.casts) + i].data["card"], [], b) for i in range(size)]
        for i, c in enumerate(new):
            n = len(room.casts) + i
            c.ranking = ranking_for(methods, n)
            by_cast[id(c)] = phones[n]
        pending = [c for c in room.casts if c.receipt is None]
        room.casts.extend(new)
        # Earlier waiting tickets poll first (the component polls every pollMs), then the
        # burst: every POST of the burst is on the wire before any answer comes back.
        await asyncio.gather(
            *(_poll(by_cast[id(c)], c) for c in pending),
            *(_cast(by_cast[id(c)], c, clock) for c in new),
        )
        before = room.snapshots[-1].stored if room.snapshots else frozenset()
        now = {c.index for c in room.casts if c.receipt is not None}
        await asyncio.to_thread(take, room, f"after burst {b + 1}", wal, lsn, now - before)
        _schema_filenodes(room, filenodes)

    for b, size in enumerate(BURSTS):
        await burst(b, size)
    # The last burst leaves k-1 ballots waiting for the close (one cast first completes a
    # batch if k-1 already wait).
    waiting = sum(1 for c in room.casts if c.receipt is None)
    if waiting == K - 1:
        await burst(len(BURSTS), 1)
        waiting = sum(1 for c in room.casts if c.receipt is None)
    if waiting < K - 1:
        await burst(len(room.snapshots), K - 1 - waiting)
    room.log_lines_after_voting = len(room.server.log().splitlines())
    left = [c for c in room.casts if c.receipt is None]  # (a test asserts there are some)

    # The facilitator closes (in another process, as the console page would); the server
    # that holds the waiting ballots sees the stage and writes them into the mix.
    closing = asyncio.create_task(asyncio.to_thread(close_room, room.server, room.code))
    for _ in range(20):
        await asyncio.gather(*(_poll(by_cast[id(c)], c) for c in left if c.receipt is None))
        if all(c.receipt is not None for c in left):
            break
    await closing
    assert all(c.receipt is not None for c in left), "the close did not store them"
    _schema_filenodes(room, filenodes)
    await asyncio.to_thread(take, room, "after the close", wal, lsn, set())
    with room.db.engine.connect() as conn:
        by_receipt = {
            str(r): bytes(s)
            for r, s in conn.execute(text("SELECT receipt, sealed FROM sealed_ballots"))
        }
    room.sealed = {c.index: by_receipt[str(c.receipt)] for c in room.casts}

    inst = open_instance(settings_from_env(room.server.env), migrate_schema=False)
    try:
        await asyncio.to_thread(
            reveal, unlock_console(inst.db, inst.secret_key, room.code, PASS), PASS
        )
    finally:
        inst.db.dispose()
    _schema_filenodes(room, filenodes)
    await asyncio.to_thread(take, room, "after the reveal", wal, lsn, set())
    if room.backend == "postgresql":
        filenodes = sr.pg_follow_rewrites(room.db, start_lsn, filenodes)
        room.wal_records = sr.pg_wal_records(room.db, start_lsn, filenodes)


async def open_phones(server: Server, code: str, cards: list[str]) -> list[Phone]:
    gate = asyncio.Semaphore(PAGE_CONCURRENCY)

    async def one(card: str) -> Phone:
        async with gate:
            return await open_phone(server.url, code, card)

    return list(await asyncio.gather(*(one(card) for card in cards)))


def play(room: Room, cards: list[str]) -> None:
    """Open every phone's page, vote, close, reveal; then list what the log must not hold."""

    async def run() -> None:
        phones = await open_phones(room.server, room.code, cards)
        methods = [m["key"] for m in phones[0].data["methods"]]
        room.log_lines_before_voting = len(room.server.log().splitlines())
        try:
            await vote(room, phones, methods)
        finally:
            await asyncio.gather(*(p.http.close() for p in phones))
        for p in phones:
            card = p.data["card"]
            room.secrets |= {
                f"card {card}": card,
                f"token of card {card}": p.data["token"],
                **{f"client port {port}": f"127.0.0.1:{port}" for port in p.ports},
                **{f"client port {port} (tuple)": f"'127.0.0.1', {port}" for port in p.ports},
            }
        for c in room.casts:
            room.secrets[f"receipt {c.receipt}"] = str(c.receipt)
            if c.ticket:
                room.secrets[f"ticket {c.ticket}"] = c.ticket
            if len(c.ranking) > 1:
                room.secrets[f"ranking {c.ranking}"] = json.dumps(c.ranking)
                room.secrets[f"ranking {c.ranking} (repr)"] = repr(c.ranking)

    asyncio.run(asyncio.wait_for(run(), 240))


@pytest.fixture(scope="module", params=BACKENDS)
def room(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Room]:
    backend = str(request.param)
    data_dir = tmp_path_factory.mktemp(f"adversary-{backend}")
    schema: PgSchema | None = None
    url: str | None = None
    if backend == "postgresql":
        schema = PgSchema(require_postgres())
        url = f"{schema.base_url}?options=-csearch_path%3D{schema.name}"
    started = time.perf_counter()
    try:
        with (
            pytest.MonkeyPatch.context() as mp,
            streamlit_server(data_dir, url) as server,
        ):
            # The close and the reveal run in this process: their rewrite waits out other
            # sessions' snapshots (other tests share the database) instead of leaving them.
            mp.setattr(mix, "SNAPSHOT_WAIT_SECONDS", 60.0)
            db = Database.connect(server.env["DATABASE_URL"], migrate_schema=False)
            try:
                if backend == "postgresql":
                    sr.pg_prepare(db)
                made = open_room(server, sum(BURSTS) + SPARE)
                r = Room(backend, server, db, made.code)
                play(r, made.cards)
                r.seconds = time.perf_counter() - started
                yield r
            finally:
                db.dispose()
    finally:
        if schema is not None:
            schema.drop()


# --- the rules ------------------------------------------------------------------------------


def _needles(room: Room, c: Cast) -> dict[str, bytes]:
    return {"receipt": str(c.receipt).encode("ascii"), "ciphertext": room.sealed[c.index][:32]}


def test_every_ballot_sent_over_http_is_stored_once_and_some_waited_for_their_batch(
    room: Room,
) -> None:
    receipts = [c.receipt for c in room.casts]
    assert None not in receipts and len(set(receipts)) == len(room.casts) >= sum(BURSTS)
    with room.db.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM sealed_ballots")).scalar_one()
    assert stored == len(room.casts)
    waited = [c for c in room.casts if c.first_state == "waiting"]
    # Without these the next rule would hold for want of a case.
    assert waited, "no cast was answered 'waiting'"
    assert any(s == "after the close" for s in (c.stored_after for c in waited)), (
        "no ballot waited for the close"
    )
    print(
        f"{room.backend}: {len(room.casts)} casts in {len(room.snapshots) - 2} bursts,"
        f" {len(waited)} first answered 'waiting', {room.seconds:.1f} s"
    )


def test_a_ballot_answered_waiting_is_in_no_file_page_or_wal_until_it_is_stored(
    room: Room,
) -> None:
    checked = 0
    for snap in room.snapshots:
        for c in room.casts:
            if c.index not in snap.sent or c.index in snap.stored:
                continue  # not cast yet, or stored: only waiting ballots here
            checked += 1
            for what, needle in _needles(room, c).items():
                assert needle not in snap.view.files, (
                    f"{snap.label}: the {what} of waiting cast {c.index} is in a page or file"
                )
                assert needle not in snap.wal_bytes, (
                    f"{snap.label}: the {what} of waiting cast {c.index} is in the WAL"
                )
    assert checked, "no snapshot was taken while a ballot waited"
    # The reader is not blind: what was just stored is where it looks.
    for snap in room.snapshots:
        for c in (c for c in room.casts if c.index in snap.last):
            receipt = str(c.receipt).encode("ascii")
            assert receipt in snap.view.files, f"{snap.label}: stored cast {c.index} not found"
            if room.backend == "postgresql":
                assert receipt in snap.wal_bytes, f"{snap.label}: cast {c.index} not in the WAL"


def test_no_wal_ties_fewer_than_k_ballots_or_cards_together(room: Room) -> None:
    if room.backend == "sqlite":
        for snap in room.snapshots:
            if not snap.label.startswith("after burst"):
                continue
            in_wal = {
                c.index for c in room.casts if str(c.receipt).encode("ascii") in snap.view.wal_pages
            }
            # Each batch is checkpointed (TRUNCATE) before its phones are answered.
            assert in_wal <= snap.last, f"{snap.label}: the -wal holds casts {sorted(in_wal)}"
            assert snap.view.wal_commits <= 1, f"{snap.label}: {snap.view.wal_commits} commits"
        return
    inserts = sr.writes_per_transaction(room.wal_records, "sealed_ballots", ["INSERT"])
    spends = sr.writes_per_transaction(room.wal_records, "cards", ["UPDATE", "HOT_UPDATE"])
    assert inserts, "the reader found no ballot inserts: it is not looking at our tables"
    small = {xid: n for xid, n in inserts.items() if n < K}
    assert not small, f"transactions inserting fewer than k ballots: {small}"
    small = {xid: n for xid, n in spends.items() if n < K}
    assert not small, f"transactions spending fewer than k cards: {small}"
    print(
        f"ballots per inserting transaction: {sorted(inserts.values())};"
        f" cards per spending transaction: {sorted(spends.values())}"
    )


def test_after_the_close_and_the_reveal_storage_order_is_not_casting_order(room: Room) -> None:
    needles = {str(c.index): str(c.receipt).encode("ascii") for c in room.casts}
    sent = {str(c.index): c.sent_at for c in room.casts}
    for label in ("after the close", "after the reveal"):
        snap = next(s for s in room.snapshots if s.label == label)
        positions = sr.page_positions(snap.view.ballot_pages, needles, snap.view.page_size)
        assert len(positions) == len(needles), f"{label}: the reader lost ballots"
        names = sorted(positions)
        rho = sr.spearman([positions[n] for n in names], [sent[n] for n in names])
        assert abs(rho) < MAX_ABS_RHO, f"{label}: storage order vs casting order rho = {rho:.2f}"


def test_after_the_reveal_no_ciphertext_is_in_any_page_or_file(room: Room) -> None:
    revealed = next(s for s in room.snapshots if s.label == "after the reveal")
    left = [i for i, blob in room.sealed.items() if blob[:32] in revealed.view.files]
    assert not left, f"after the reveal {len(left)} erased ciphertexts are still readable"


def test_the_server_log_has_no_line_about_any_request(room: Room) -> None:
    log = room.server.log()
    found = [name for name, secret in room.secrets.items() if secret in log]
    assert not found, f"the server log holds: {found[:5]}"
    lines = log.splitlines()
    routes = [line for line in lines if "/api/ballot" in line or "POST" in line]
    assert not routes, f"the server log names requests: {routes[:3]}"
    requests = len(room.casts)  # at least one POST each, plus the polls and page loads
    during = room.log_lines_after_voting - room.log_lines_before_voting
    assert during < requests // 10, f"{during} log lines while {requests} phones cast"
