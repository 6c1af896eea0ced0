"""Telling the facilitator when the table files still hold what a rewrite replaced.

After the close and after the reveal `core.mix.scrub_storage` rewrites the tables so that no
page keeps the pre-mix order or an erased ciphertext. On PostgreSQL another session's older
snapshot (a report left open in a transaction, a replication slot) can make the rewrite keep
those row versions; the scrub then waits, rewrites anyway and reports it. The console shows
that residual and offers the one remedy: rewrite again once that session has ended.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.console_access import Console
from core.mix import Scrub, scrub_storage, unscrubbed


@dataclass(frozen=True)
class StorageResidual:
    """What the table files still hold, and why."""

    tables: tuple[str, ...]
    """Sorted; empty when the files hold only live rows."""
    refused: bool = False
    """True when the database refused a rewrite (a privilege, a lock); otherwise another
    session's older snapshot kept the old row versions."""


def storage_residual(console: Console) -> StorageResidual:
    """The tables whose last rewrite in this process left old row versions, and why. Needs
    an unlocked console."""
    console.check()
    left = unscrubbed(console.db)
    return StorageResidual(tuple(sorted(left)), Scrub.FAILED in left.values())


def scrub_again(console: Console) -> Scrub:
    """Rewrite the tables `storage_residual` names; `Scrub.DONE` once none is left."""
    tables = storage_residual(console).tables
    return scrub_storage(console.db, tables) if tables else Scrub.DONE
