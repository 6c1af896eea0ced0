"""Live results: the box key unlocked for counting while voting goes on.

The unwrapped key lives in THIS process's memory only: it must never be written to the
database (whose WAL and backups would keep it after the reveal erased it), and a
passphrase must never outlive the call that needed it.
"""

from __future__ import annotations

import threading
import weakref

from core.ballot_box import workshop_id_of
from core.ballot_values import AlreadyRevealed, NotLiveResults
from core.console_access import Console
from core.crypto import key_wrap, passphrases, sealed_box
from core.db import Database
from core.domain import WorkshopCode
from core.limits import MAX_PASSPHRASE_TEXT


def unwrap_box_key(wrapped: bytes, passphrase: str) -> sealed_box.BoxKeypair:
    """The box key, unwrapped with the passphrase (`WrongPassphrase`)."""
    if not isinstance(passphrase, str) or len(passphrase) > MAX_PASSPHRASE_TEXT:
        raise passphrases.WrongPassphrase()
    return sealed_box.BoxKeypair(key_wrap.unwrap_private_key(wrapped, passphrase))


# The unwrapped box keys of live-results workshops, in THIS process's memory only: never
# written to the database (whose WAL and backups would keep it after the reveal erased it).
# A restart forgets them; the facilitator unlocks again with the passphrase. With several
# servers, only a server where the facilitator unlocked can publish live tallies.
_LIVE_KEYS: weakref.WeakKeyDictionary[Database, dict[int, sealed_box.BoxKeypair]] = (
    weakref.WeakKeyDictionary()
)
_LIVE_KEYS_GUARD = threading.Lock()


def live_keypair(db: Database, workshop_id: int) -> sealed_box.BoxKeypair | None:
    """The box key `unlock_live_results` left in this process, if any (for `core.results`)."""
    with _LIVE_KEYS_GUARD:
        return _LIVE_KEYS.get(db, {}).get(workshop_id)


def forget_live_key(db: Database, workshop_id: int) -> None:
    """Erase this process's copy of the live key (the reveal does)."""
    with _LIVE_KEYS_GUARD:
        _LIVE_KEYS.get(db, {}).pop(workshop_id, None)


def is_live_unlocked(db: Database, code: WorkshopCode) -> bool:
    """Whether this server holds the live key of the workshop (False again after a restart)."""
    with db.read.begin() as session:
        wid = workshop_id_of(session, code)
    return wid is not None and live_keypair(db, wid) is not None


def unlock_live_results(console: Console, passphrase: str) -> None:
    """Let this server count a live-results workshop's ballots before the reveal.

    The box key is unwrapped with the passphrase and kept in this process's memory only,
    never in the database: the database, its WAL and backups never hold a key that opens
    ballots before the reveal. After a restart (or on another server) the facilitator
    unlocks again. `WrongPassphrase` changes nothing.
    """
    with console.db.read.begin() as session:
        w = console.workshop(session)
        if not w.is_live_results:
            raise NotLiveResults("not a live-results workshop")
        if w.stage.shows_results:
            raise AlreadyRevealed("already revealed")
        assert w.secrets is not None
        wrapped = bytes(w.secrets.box_private_key_wrapped)
        wid = w.id
    keypair = unwrap_box_key(wrapped, passphrase)  # scrypt: outside any lock
    with _LIVE_KEYS_GUARD:
        _LIVE_KEYS.setdefault(console.db, {})[wid] = keypair
