"""Telling the facilitator when the table files still hold what a rewrite replaced.

After the close and after the reveal `core.mix.scrub_storage` rewrites the tables so that no
page keeps the pre-mix order or an erased ciphertext. On PostgreSQL another session's older
snapshot (a report left open in a transaction, a replication slot) can make the rewrite keep
those row versions; the scrub then waits, rewrites anyway and reports it. The console shows
that residual and offers the one remedy: rewrite again once that session has ended.
"""

from __future__ import annotations

from core.console_access import Console
from core.mix import Scrub, scrub_storage, unscrubbed_tables


def storage_residual(console: Console) -> tuple[str, ...]:
    """The tables whose last rewrite in this process left old row versions (sorted; empty
    when the files hold only live rows). Needs an unlocked console."""
    console.check()
    return tuple(sorted(unscrubbed_tables(console.db)))


def scrub_again(console: Console) -> Scrub:
    """Rewrite the tables `storage_residual` names; `Scrub.DONE` once none is left."""
    console.check()
    tables = storage_residual(console)
    return scrub_storage(console.db, tables) if tables else Scrub.DONE
