"""Ballots cast per second through `core.casting.submit_ballot` (figures, never pass/fail).

Run: `.venv/bin/python -m benchmarks.cast`. A temp SQLite file (WAL, synchronous=FULL, the
app's own engine settings), one workshop in VOTING with cards, 8 threads casting top-1..5
rankings. The service figure includes everything a phone's ballot costs: card digest,
limiter check, the stage and card read, padding, sealing (X25519 + HKDF + AES-GCM),
receipt, queueing, then per batch of at least k the guarded card updates, the shuffled
inserts, the commit and (SQLite) the WAL checkpoint. Each thread is a stream of phones: it
submits and takes the next ballot; the clock stops when every ballot is stored, the last
ones (fewer than k) by closing voting, which also mixes the whole box.

The raw figure writes the same rows (stage read + card update + sealed insert, one BEGIN
IMMEDIATE transaction per ballot, same pragmas) through bare `sqlite3` on 8 threads, with
the ciphertexts made before the clock starts: what a plain per-ballot writer achieves. The
service commits casts in batches of at least k (core.batches, "the mixer"), one fsync and
one checkpoint per batch, so its ratio can exceed 1 although it does more work.
Figures depend heavily on the disk's fsync time and on other load; compare runs made
close together. Override with BEIDUI_BENCH_BALLOTS / BEIDUI_BENCH_THREADS.

With BEIDUI_BENCH_DATABASE_URL (a `postgresql+psycopg://` URL) the service figure is also
measured on PostgreSQL, in a throw-away schema dropped afterwards, and printed on its own
line before the last: `cast-postgresql: service=<n>/s k=<k> batch=...`.
Last line: `cast: service=<n>/s raw=<n>/s ratio=<r> k=<k> batch=<mean> (min <a>, max <b>)`.
"""

from __future__ import annotations

import os
import queue
import random
import secrets
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from core import batches
from core.ballot_values import encode_payload
from core.cards import issue_cards
from core.casting import BallotState, Ticket, submit_ballot, wait_for_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import unlock_console
from core.crypto import human_codes, sealed_box
from core.db import Database
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.limits import MAX_CARDS_PER_CALL
from core.models import random_id
from core.templates import available_templates
from core.workshops import create_workshop

THREADS = int(os.environ.get("BEIDUI_BENCH_THREADS", "8"))
BALLOTS = int(os.environ.get("BEIDUI_BENCH_BALLOTS", "4000"))
PASS = "benchmark passphrase"
K = 5  # the workshop's anonymity threshold: ballots are written in batches of at least K
SEED = 20261129


def _run_threads(work: Sequence[Callable[[], None]]) -> float:
    """Run the callables on THREADS threads, each taking the next one from a shared queue
    (so a thread whose ballot waits for its batch never holds back the ballots that would
    complete it); seconds from first to last."""
    todo: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
    for item in work:
        todo.put(item)
    start = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            while True:
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                item()
        except BaseException as exc:  # surfaced below: a benchmark must not hide failures
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return elapsed


def _rankings(methods: Sequence[str], k: int, n: int) -> list[tuple[str, ...]]:
    rng = random.Random(SEED)
    return [tuple(rng.sample(list(methods), rng.randint(1, k))) for _ in range(n)]


def bench_service(url: str, n: int, **engine_kwargs: Any) -> float:
    db = Database.connect(url, **engine_kwargs)
    key = secrets.token_bytes(32)
    tpl = available_templates()["default"]
    code = create_workshop(Admin.trusted(db), tpl, "bench", PASS, anonymity_k=K)
    unlocked = unlock_console(db, key, code, PASS)
    cards: list[str] = []
    while len(cards) < n:
        batch = min(MAX_CARDS_PER_CALL, n - len(cards))
        cards += issue_cards(unlocked, batch)
    move_to(unlocked, StagePosition(Stage.VOTING))
    methods = [m.key for m in tpl.methods]
    roles = [None, *(r.key for r in tpl.roles)]
    rankings = _rankings(methods, tpl.ballot_size, n)

    tickets: list[Ticket] = []
    lock = threading.Lock()

    def cast(i: int) -> Callable[[], None]:
        # A thread is a stream of phones, not one phone: it submits and moves on, so fewer
        # threads than k cannot starve a batch. The clock stops when every ballot is stored.
        def run() -> None:
            ticket = submit_ballot(
                db, key, code, cards[i], rankings[i], roles[i % len(roles)], client_key=f"c{i}"
            )
            with lock:
                tickets.append(ticket)

        return run

    t0 = time.perf_counter()
    _run_threads([cast(i) for i in range(n)])
    # The last ballots (fewer than k) wait for the facilitator's close, as in a room.
    close_voting(unlocked)
    for ticket in tickets:
        status = wait_for_ballot(ticket.id, timeout=60)
        assert status.state is BallotState.STORED, status
    elapsed = time.perf_counter() - t0
    with db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM sealed_ballots").scalar_one()
    assert stored == n, (stored, n)
    db.dispose()
    return n / elapsed


def bench_raw(folder: Path, n: int) -> float:
    path = folder / "raw.db"
    Database.connect(f"sqlite:///{path}").dispose()  # the same schema, via the migrations
    box = sealed_box.BoxKeypair.generate()
    key, salt = secrets.token_bytes(32), secrets.token_bytes(16)
    digests = [human_codes.card_digest(key, salt, human_codes.new_card_code()) for _ in range(n)]
    rows = [
        (random_id(), sealed_box.seal(box.public_bytes, encode_payload(["m"], None), b"w"))
        for _ in range(n)
    ]
    setup = sqlite3.connect(path)
    setup.execute(
        "INSERT INTO workshops (id, code, name, template_key, stage, current_question,"
        " ballot_size, anonymity_k, is_open_mode, is_live_results, created_at,"
        " stage_changed_at) VALUES (1, 'BENCH2', 'raw', 'default', 'voting', 0, 5, 5, 0, 0,"
        " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
    setup.executemany(
        "INSERT INTO cards (digest, workshop_id, is_spent, is_void) VALUES (?, 1, 0, 0)",
        [(d,) for d in digests],
    )
    setup.commit()
    setup.close()
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            local.conn = conn
        return conn

    def cast(i: int) -> Callable[[], None]:
        def run() -> None:
            conn = connection()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("SELECT stage FROM workshops WHERE id = 1").fetchone()
            cur = conn.execute(
                "UPDATE cards SET is_spent = 1 WHERE digest = ? AND workshop_id = 1"
                " AND NOT is_spent AND NOT is_void",
                (digests[i],),
            )
            assert cur.rowcount == 1
            ballot_id, sealed = rows[i]
            conn.execute(
                "INSERT INTO sealed_ballots (id, workshop_id, sealed, receipt) VALUES (?, 1, ?, ?)",
                (ballot_id, sealed, human_codes.receipt_for(sealed)),
            )
            conn.execute("COMMIT")

        return run

    return n / _run_threads([cast(i) for i in range(n)])


def bench_postgresql(url: str, n: int) -> float:
    """The service figure on PostgreSQL, in a schema of its own that is dropped afterwards."""
    schema = "bench_" + secrets.token_hex(6)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        return bench_service(url, n, connect_args={"options": f"-csearch_path={schema}"})
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


BATCH_SIZES: list[int] = []


def _count_batches() -> None:
    """Benchmark-only instrumentation: note each batch's size (how many ballots one
    transaction wrote), so the figure says what batching did."""
    original = batches._commit_batch

    def counted(db: Database, mixer: Any, batch: list[Any]) -> list[Any]:
        BATCH_SIZES.append(len(batch))
        return original(db, mixer, batch)

    batches._commit_batch = counted  # type: ignore[assignment]


def _batches() -> str:
    sizes = BATCH_SIZES[:]
    BATCH_SIZES.clear()
    if not sizes:
        return "batch=none"
    return f"batch={sum(sizes) / len(sizes):.1f} (min {min(sizes)}, max {max(sizes)})"


def main() -> None:
    pg_url = os.environ.get("BEIDUI_BENCH_DATABASE_URL")
    _count_batches()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{THREADS} threads, {BALLOTS} ballots, SQLite WAL synchronous=FULL, k={K}")
        service = bench_service(f"sqlite:///{folder / 'service.db'}", BALLOTS)
        sqlite_batches = _batches()
        raw = bench_raw(folder, BALLOTS)
    if pg_url:
        pg = bench_postgresql(pg_url, BALLOTS)
        print(f"cast-postgresql: service={pg:.0f}/s k={K} {_batches()}")
    print(
        f"cast: service={service:.0f}/s raw={raw:.0f}/s ratio={service / raw:.2f}"
        f" k={K} {sqlite_batches}"
    )


if __name__ == "__main__":
    main()
