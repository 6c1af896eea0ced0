"""The gate between the casting path's SQLite reads and the checkpoint after each batch.

A batch's `wal_checkpoint(TRUNCATE)` keeps the -wal from ever holding more than one batch
(docs/threat-model.md); this module keeps that checkpoint from waiting on SQLite's busy
handler while the room's reads go on.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from core.db import Database

_GATES_GUARD = threading.Lock()


# SQLite's `wal_checkpoint(TRUNCATE)` waits until no reader uses the -wal, and SQLite's busy
# handler then sleeps 1, 2, 5, 10 ... ms however soon the reader is done. Within a process
# the casting path's own reads share a gate that the checkpoint after each batch takes alone
# (PostgreSQL needs none). Reads run side by side; a waiting checkpoint goes first.
class _Gate:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


_SQLITE_GATES: weakref.WeakKeyDictionary[Database, _Gate] = weakref.WeakKeyDictionary()


def _gate(db: Database) -> _Gate:
    with _GATES_GUARD:
        return _SQLITE_GATES.setdefault(db, _Gate())


def sqlite_reading(db: Database) -> AbstractContextManager[None]:
    return _gate(db).reading() if db.is_sqlite else nullcontext()


def sqlite_alone(db: Database) -> AbstractContextManager[None]:
    return _gate(db).alone() if db.is_sqlite else nullcontext()
