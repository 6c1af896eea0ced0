"""A server killed with SIGKILL mid-vote loses no ballot a phone was shown a receipt for, and
leaves no card spent without its ballot nor a ballot without its spent card.

1. A worker PROCESS (`python -m tests.e2e.test_crash_safety`) casts ballots through
   `core.casting.submit_ballot` + `wait_for_ballot` (what `receipt_when_stored` does) from 8
   threads, so batches of k are written together, and prints each receipt, flushed, only
   once its batch was stored: exactly what a phone would have been shown. A kill loses the
   queued ballots, whose cards were never spent.
2. After at least 50 receipts (while it is still casting) it is killed with SIGKILL; three
   rounds, each a fresh worker on fresh cards.
3. After each kill a fresh connection checks: every acknowledged receipt is stored, every
   acknowledged card is spent, and spent cards == sealed ballots (a card cannot be linked to
   its ballot by design, so equal counts plus "acknowledged ⇒ both" is the strongest check
   the schema allows). SQLite also passes `PRAGMA integrity_check`.
4. A last worker casts with every card never acknowledged: each either casts or is refused
   as already spent, and the refusals are exactly the ballots that were committed but never
   acknowledged (killed between commit and print). It closes voting once every card is in,
   so the last batch (below k) is written too. Counts still match at the end.

The second test does the same against a real `streamlit run` server driven by the websocket
phone client (`benchmarks/streamlit_client.py`): the server is killed with `kill -9` while
phones are casting, then a new server on the same database takes the remaining phones.

What this proves and does not: process death (the OS keeps what was written to the kernel).
It does not cut power: with SQLite `synchronous=FULL` and PostgreSQL's default `fsync=on`
a committed transaction is also on disk, but only a power-cut test on real hardware shows
that a disk's write cache honours flushes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from core import results
from core.ballot_values import CardAlreadySpent
from core.cards import card_counts, issue_cards
from core.casting import BallotState, submit_ballot, wait_for_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import open_console, unlock_console
from core.crypto import human_codes
from core.db import Database
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.limits import MAX_CARDS_PER_CALL
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.conftest import PgSchema, require_postgres
from tests.server import ROOT

pytestmark = pytest.mark.slow

PASS = "correct horse battery"
THREADS = 8
ROUNDS = 3
CARDS_PER_ROUND = 1000
KILL_AFTER = 50
ROUND_TIMEOUT_S = 120.0


# --- the worker process --------------------------------------------------------------------


def worker_main(argv: list[str]) -> int:
    """Cast one ballot per card from `--cards` with several threads; print what phones see.

    Lines: `ok <card> <receipt>` after `receipt_when_stored` returned, `spent <card>` when the card
    was refused as already spent, `error <card> <exception>` otherwise.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--code", required=True)
    parser.add_argument("--cards", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--close-with", default="", help="passphrase: close when all are in")
    args = parser.parse_args(argv)
    key = bytes.fromhex(args.key)
    db = Database.connect(args.url, migrate_schema=False)
    methods = get_workshop(db, args.code).method_keys
    todo: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()
    for i, card in enumerate(args.cards.read_text().split()):
        todo.put((i, card))
    out = threading.Lock()

    def say(line: str) -> None:
        with out:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    total = todo.qsize()
    submitted: list[int] = []  # one entry per card decided at submit (queued or refused)
    all_submitted = threading.Event()

    def decided() -> None:
        with out:
            submitted.append(1)
            if len(submitted) == total:
                all_submitted.set()

    def cast_all() -> None:
        while True:
            try:
                i, card = todo.get_nowait()
            except queue.Empty:
                return
            ranking = methods[i % len(methods) :] + methods[: i % len(methods)]
            try:
                ticket = submit_ballot(
                    db, key, args.code, card, ranking[: 1 + i % 5], None, client_key=f"w{i}"
                )
            except CardAlreadySpent:
                decided()
                say(f"spent {card}")
                continue
            except Exception as exc:
                decided()
                say(f"error {card} {type(exc).__name__}")
                continue
            decided()
            # What `receipt_when_stored` does: the phone sees its receipt once its batch is stored.
            status = wait_for_ballot(ticket.id)
            if status.state is BallotState.STORED:
                say(f"ok {card} {status.receipt}")
            elif isinstance(status.error, CardAlreadySpent):
                say(f"spent {card}")
            else:
                say(f"error {card} {type(status.error).__name__}")

    threads = [threading.Thread(target=cast_all) for _ in range(args.threads)]
    for t in threads:
        t.start()
    if args.close_with:
        # The last ballots (fewer than k) wait for their batch until the facilitator closes.
        all_submitted.wait()
        grant = unlock_console(db, key, args.code, args.close_with).token
        close_voting(open_console(db, key, args.code, grant))
    for t in threads:
        t.join()
    db.dispose()
    return 0


# --- the store under test ------------------------------------------------------------------


@dataclass
class Store:
    url: str  # what a worker process connects with (a PostgreSQL schema via search_path)
    db: Database
    key: bytes
    code: str
    cards: list[str]


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    schema: PgSchema | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        schema = PgSchema(require_postgres())
        url = with_search_path(schema.base_url, schema.name)
    db = Database.connect(url)
    try:
        key = secrets.token_bytes(32)
        code = create_workshop(Admin.trusted(db), available_templates()["default"], "Crash", PASS)
        grant = unlock_console(db, key, code, PASS).token
        cards: list[str] = []
        while len(cards) < ROUNDS * CARDS_PER_ROUND:
            cards += issue_cards(open_console(db, key, code, grant), MAX_CARDS_PER_CALL)
        move_to(open_console(db, key, code, grant), StagePosition(Stage.VOTING))
        yield Store(url, db, key, code, cards)
    finally:
        db.dispose()
        if schema is not None:
            schema.drop()


@dataclass
class Seen:
    """What phones were shown, across every worker."""

    receipts: dict[str, str] = field(default_factory=dict)  # card -> receipt
    spent: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def take(self, line: str) -> None:
        kind, card, *rest = line.split()
        if kind == "ok":
            self.receipts[card] = rest[0]
        elif kind == "spent":
            self.spent.add(card)
        else:
            self.errors.append(line)


def run_worker(
    store: Store,
    cards: list[str],
    tmp: Path,
    seen: Seen,
    *,
    kill_after: int | None,
    close: bool = False,
) -> bool:
    """Run a worker on `cards`; SIGKILL it after `kill_after` receipts. True if it was killed
    while still casting."""
    cards_file = tmp / f"cards-{secrets.token_hex(4)}.txt"
    cards_file.write_text("\n".join(cards))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.e2e.test_crash_safety",
            "--url",
            store.url,
            "--key",
            store.key.hex(),
            "--code",
            store.code,
            "--cards",
            str(cards_file),
            *(["--close-with", PASS] if close else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    killed_mid_stream = False
    receipts = 0
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    try:
        while True:
            raw = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if raw is None:
                break
            if not raw.endswith(b"\n"):
                continue  # a line cut by the kill was never fully shown
            seen.take(raw.decode())
            receipts += raw.startswith(b"ok ")
            if kill_after is not None and receipts >= kill_after and not killed_mid_stream:
                killed_mid_stream = proc.poll() is None
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        reader.join(30)
    # Lines already in the pipe when the kill landed were printed, i.e. shown: keep them.
    while True:
        try:
            raw = lines.get_nowait()
        except queue.Empty:
            break
        if raw is not None and raw.endswith(b"\n"):
            seen.take(raw.decode())
    return killed_mid_stream


def check_consistent(store: Store, seen: Seen) -> tuple[int, int]:
    """Acknowledged ⇒ stored and spent; spent cards == sealed ballots. Returns (sealed, spent)."""
    fresh = Database.connect(store.url, migrate_schema=False)  # a new process's view
    try:
        wid = get_workshop(fresh, store.code).id
        salt = None
        with fresh.engine.connect() as conn:
            if fresh.is_sqlite:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            stored = {
                r[0]
                for r in conn.execute(
                    text("SELECT receipt FROM sealed_ballots WHERE workshop_id = :w"), {"w": wid}
                )
            }
            spent_digests = {
                bytes(r[0])
                for r in conn.execute(
                    text("SELECT digest FROM cards WHERE workshop_id = :w AND is_spent"),
                    {"w": wid},
                )
            }
            salt = bytes(
                conn.execute(
                    text("SELECT card_salt FROM workshop_secrets WHERE workshop_id = :w"),
                    {"w": wid},
                ).scalar_one()
            )
        missing = sorted(set(seen.receipts.values()) - stored)
        assert missing == [], f"{len(missing)} acknowledged receipts were lost"
        acked_digests = {human_codes.card_digest(store.key, salt, c) for c in seen.receipts}
        assert acked_digests <= spent_digests, "an acknowledged card is not spent"
        assert len(stored) == len(spent_digests), "spent cards and sealed ballots differ"
        assert results.ballot_count(fresh, store.code) == len(stored)
        return len(stored), len(spent_digests)
    finally:
        fresh.dispose()


def test_sigkill_mid_vote_loses_no_acknowledged_ballot_and_spends_no_card_without_one(
    store: Store, tmp_path: Path
) -> None:
    seen = Seen()
    t0 = time.monotonic()
    # 1-3. rounds of casting, each killed mid-stream, each checked from a fresh connection
    for n in range(ROUNDS):
        chunk = store.cards[n * CARDS_PER_ROUND : (n + 1) * CARDS_PER_ROUND]
        before = len(seen.receipts)
        assert run_worker(store, chunk, tmp_path, seen, kill_after=KILL_AFTER), (
            f"round {n}: the worker finished before it could be killed"
        )
        assert len(seen.receipts) - before >= KILL_AFTER
        assert seen.errors == []
        check_consistent(store, seen)
    stored_before, _ = check_consistent(store, seen)
    committed_unacknowledged = stored_before - len(seen.receipts)
    # 4. a fresh process casts with every card never acknowledged
    rest = [c for c in store.cards if c not in seen.receipts]
    assert not run_worker(store, rest, tmp_path, seen, kill_after=None, close=True)
    assert seen.errors == []
    assert len(seen.spent) == committed_unacknowledged
    assert len(seen.receipts) + len(seen.spent) == len(store.cards)
    stored, spent = check_consistent(store, seen)
    assert stored == spent == len(store.cards)
    counts = card_counts(store.db, store.code)
    assert (counts.spent, counts.unused) == (len(store.cards), 0)
    print(
        f"\n{store.db.engine.dialect.name}: {ROUNDS} kills, {stored_before} ballots before the "
        f"last worker ({committed_unacknowledged} committed but never acknowledged), "
        f"{stored} in all, {time.monotonic() - t0:.1f} s"
    )


# --- the same against a real server ----------------------------------------------------------

PHONES = 30
SERVER_KILL_AFTER = 15
AT_ONCE = 10  # phones mid-vote at the same time (a room taps over a minute, not at once)
QUIET_S = 8.0


def _phone_vote(
    base_ws: str, code: str, card: str, timeout: float, gate: asyncio.Semaphore
) -> asyncio.Task[str | None]:
    from benchmarks.streamlit_client import StreamlitClient
    from tests.e2e.test_two_servers import tap_ballot

    async def vote() -> str | None:
        async with gate:
            return await tap_through()

    async def tap_through() -> str | None:
        c = StreamlitClient(base_ws, "join", f"w={code}&card={card}")
        try:
            await c.connect(timeout=timeout)
            receipt, _ = await tap_ballot(c, code, timeout)
            return receipt
        except Exception:
            return None
        finally:
            await c.close()

    return asyncio.ensure_future(vote())


async def _room(
    base_ws: str, code: str, cards: list[str], kill: object | None, close: object = None
) -> list[str | None]:
    """Phones vote at once; if `kill` is given, call it after SERVER_KILL_AFTER receipts and
    return what each phone had been shown by then (None: no receipt). Without `kill`, once
    no phone has finished for QUIET_S the last ones wait for a batch that cannot fill: call
    `close` (the facilitator closes voting, which writes them)."""
    gate = asyncio.Semaphore(AT_ONCE)
    tasks = [_phone_vote(base_ws, code, card, 90.0, gate) for card in cards]
    if kill is None:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, timeout=QUIET_S)
            if not done and close is not None:
                await asyncio.to_thread(close)  # type: ignore[arg-type]
                close = None
        return [t.result() for t in tasks]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        done = [t for t in tasks if t.done() and t.result()]
        if len(done) >= SERVER_KILL_AFTER:
            break
        await asyncio.sleep(0.01)
    kill()  # type: ignore[operator]
    # A phone that had its receipt on screen keeps it; the others lose their connection.
    await asyncio.wait(tasks, timeout=30)
    out: list[str | None] = []
    for t in tasks:
        if not t.done():
            t.cancel()
            out.append(None)
        else:
            out.append(t.result())
    return out


def test_kill_minus_9_of_a_streamlit_server_mid_vote_loses_no_receipt_shown_to_a_phone(
    tmp_path: Path,
) -> None:
    pytest.importorskip("websockets")
    from tests.server import streamlit_server

    key = secrets.token_bytes(32)
    env = {"BEIDUI_SECRET_KEY": key.hex()}
    url = f"sqlite:///{tmp_path / 'server.db'}"
    store_db = Database.connect(url)
    try:
        code = create_workshop(
            Admin.trusted(store_db), available_templates()["default"], "Kill -9", PASS
        )
        grant = unlock_console(store_db, key, code, PASS).token
        cards = issue_cards(open_console(store_db, key, code, grant), PHONES * 2)
        move_to(open_console(store_db, key, code, grant), StagePosition(Stage.VOTING))
    finally:
        store_db.dispose()
    store = Store(url, store_db, key, code, cards)
    seen = Seen()
    # 1. phones cast through server A, which is killed with SIGKILL mid-vote
    with streamlit_server(tmp_path, url, env) as server_a:
        base_ws = server_a.url.replace("http://", "ws://")

        def kill() -> None:
            os.killpg(server_a.process.pid, signal.SIGKILL)

        shown = asyncio.run(_room(base_ws, code, cards[:PHONES], kill))
        server_a.process.wait(10)
    for card, receipt in zip(cards[:PHONES], shown, strict=True):
        if receipt:
            seen.receipts[card] = receipt
    assert len(seen.receipts) >= SERVER_KILL_AFTER
    stored_before, _ = check_consistent(store, seen)
    # 2. server B on the same database serves the rest of the room
    with streamlit_server(tmp_path, url, env) as server_b:
        base_ws = server_b.url.replace("http://", "ws://")
        rest = cards[PHONES:]

        def close() -> None:
            db = Database.connect(url, migrate_schema=False)
            try:
                close_voting(unlock_console(db, key, code, PASS))
            finally:
                db.dispose()

        shown = asyncio.run(_room(base_ws, code, rest, None, close))
    assert all(shown), "a phone got no receipt from the restarted server"
    seen.receipts.update(zip(rest, (r for r in shown if r), strict=True))
    stored, spent = check_consistent(store, seen)
    assert stored == spent == stored_before + len(rest)


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
