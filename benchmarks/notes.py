"""Notes posted per second through `core.notes.post_note` (figures, never pass/fail).

Run: `.venv/bin/python -m benchmarks.notes`. A temp SQLite file with the app's engine
settings, one workshop on its first question with k = 5, 8 threads posting distinct notes.
Four posts in five only join the batch in memory; the fifth writes the batch (one
transaction, shuffled) and checkpoints the -wal (TRUNCATE), so the figure is dominated by
one commit + one checkpoint per k notes. Override with BEIDUI_BENCH_NOTES /
BEIDUI_BENCH_THREADS / BEIDUI_BENCH_K.

With BEIDUI_BENCH_DATABASE_URL (a `postgresql+psycopg://` URL) the same is measured on
PostgreSQL, in a throw-away schema dropped afterwards: `notes-postgresql: <n>/s`.
Last line: `notes: sqlite=<n>/s k=<k> stored=<n> waiting=<n>`.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text

from core import notes
from core.console import move_to
from core.console_access import unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.templates import available_templates
from core.workshops import create_workshop

N_NOTES = int(os.environ.get("BEIDUI_BENCH_NOTES", "2000"))
THREADS = int(os.environ.get("BEIDUI_BENCH_THREADS", "8"))
K = int(os.environ.get("BEIDUI_BENCH_K", "5"))
PASS = "benchmark passphrase 1"


def measure(db: Database) -> tuple[float, int, int]:
    """(notes/s, stored rows, waiting in memory) for N_NOTES posts on THREADS threads."""
    key = secrets.token_bytes(32)
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], "Bench", PASS, anonymity_k=K
    )
    unlocked = unlock_console(db, key, code, PASS)
    move_to(unlocked, StagePosition(Stage.QUESTIONS, 0))
    texts = [f"note {i} {secrets.token_hex(6)}" for i in range(N_NOTES)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(lambda t: notes.post_note(db, code, t, 0), texts))
    elapsed = time.perf_counter() - started
    stored = len(notes.wall(db, code, 0))
    return N_NOTES / elapsed, stored, notes.pending_count(db, code, 0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.connect(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            rate, stored, waiting = measure(db)
        finally:
            db.dispose()
    pg_url = os.environ.get("BEIDUI_BENCH_DATABASE_URL")
    if pg_url:
        schema = "bench_" + secrets.token_hex(6)
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            pg = Database.connect(pg_url, connect_args={"options": f"-csearch_path={schema}"})
            try:
                pg_rate, _, _ = measure(pg)
            finally:
                pg.dispose()
            print(f"notes-postgresql: {pg_rate:.0f}/s")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(f"notes: sqlite={rate:.0f}/s k={K} stored={stored} waiting={waiting}")


if __name__ == "__main__":
    main()
