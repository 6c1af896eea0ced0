"""The facilitator's console: unlocking it with the passphrase, and the one check every
organiser service makes.

Unlocking returns a `Console`: the database, the instance secret, the workshop's join code
and a fresh random token. Every organiser service takes that one value instead of the four,
and asks it for the workshop (`Console.workshop`), which refuses (`NotAuthorized`) unless the
token is a live console session of that very workshop. The database keeps only
HMAC(instance secret, token) and an expiry, so a token cannot be rebuilt from the database
and the instance secret: acting needs the passphrase or a token handed out here.

A page keeps only the token string in its session state (and the URL); it rebuilds the
`Console` on every run (`resume_console`, `open_console`), never storing it, since it holds
the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as pysecrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.crypto import passphrases
from core.db import Database
from core.domain import WorkshopCode
from core.limits import MAX_CONSOLE_TOKEN_TEXT
from core.models import ConsoleSession, Workshop
from core.ratelimit import AttemptLimiter
from core.workshops import NotAuthorized, load_locked, load_workshop, minute_now

# How long an unlocked console stays unlocked without the passphrase: one workshop day.
CONSOLE_SESSION_LIFETIME: Final = timedelta(hours=12)
_CONSOLE_TOKEN_LABEL: Final = b"beidui/console-session/v1\x00"
# Per process: wrong passphrases from one client make that client wait (core/ratelimit.py).
PASSPHRASE_LIMITER: Final = AttemptLimiter()


@dataclass(frozen=True)
class Console:
    """An unlocked console: what an organiser service needs to act on one workshop.

    Holding one proves nothing by itself: every service asks `workshop` (or `check`), which
    verifies the token against the database each time, so an ended or expired session stops
    working at once.
    """

    db: Database = field(repr=False)
    secret_key: bytes = field(repr=False)
    code: WorkshopCode
    token: str = field(repr=False)

    def workshop(self, session: Session, *, locked: bool = False) -> Workshop:
        """The workshop in `session`, if the token is a live console session of it.

        `locked` takes the workshop row's lock for the transaction (`load_locked`), as the
        services that write the workshop's notes, themes and settings do.
        """
        w = load_locked(session, self.code) if locked else load_workshop(session, self.code)
        row = _live_console_session(session, self.secret_key, self.token)
        if row is None or row.workshop_id != w.id:
            raise NotAuthorized("no live console session for this workshop")
        return w

    def check(self) -> None:
        """`NotAuthorized` unless the token unlocks the workshop (for read-only services)."""
        with self.db.read.begin() as session:
            self.workshop(session)


def _console_token_hash(secret_key: bytes, token: str) -> bytes:
    """What the database keeps of a console token: a keyed hash that cannot be reversed."""
    raw = token.encode("utf-8", "replace") if isinstance(token, str) else b""
    return hmac.new(secret_key, _CONSOLE_TOKEN_LABEL + raw, hashlib.sha256).digest()


def _live_console_session(session: Session, secret_key: bytes, token: str) -> ConsoleSession | None:
    if not isinstance(token, str) or not token or len(token) > MAX_CONSOLE_TOKEN_TEXT:
        return None
    row = session.get(ConsoleSession, _console_token_hash(secret_key, token))
    if row is None:
        return None
    expires_at = row.expires_at
    if expires_at.tzinfo is None:  # SQLite hands back naive datetimes (stored as UTC)
        expires_at = expires_at.replace(tzinfo=UTC)
    return row if expires_at > datetime.now(UTC) else None


def unlock_console(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    passphrase: str,
    *,
    client_key: str = "",
) -> Console:
    """Check the facilitator passphrase (scrypt, slow on purpose) and open a console session.

    The returned `Console` carries a fresh random token (`Console.token`, what a page keeps).
    Wrong passphrases count against `client_key` (never stored) and too many make that
    client wait (`TooManyAttempts`).
    """
    PASSPHRASE_LIMITER.check(code, client_key)
    with db.read.begin() as session:
        w = load_workshop(session, code)
        assert w.secrets is not None
        stored = w.secrets.passphrase_hash
        workshop_id = w.id
        code = w.code
    if not passphrases.verify_passphrase(passphrase if isinstance(passphrase, str) else "", stored):
        PASSPHRASE_LIMITER.record_failure(code, client_key)
        raise passphrases.WrongPassphrase("facilitator passphrase")
    token = pysecrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with db.write.begin() as session:
        # Ended sessions leave nothing behind: expired rows of this workshop go now.
        session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.workshop_id == workshop_id, ConsoleSession.expires_at <= now
            )
        )
        session.add(
            ConsoleSession(
                token_hash=_console_token_hash(secret_key, token),
                workshop_id=workshop_id,
                # Whole minutes, like every time stored: nothing finer than a stage change.
                expires_at=minute_now() + CONSOLE_SESSION_LIFETIME,
            )
        )
    return Console(db, secret_key, code, token)


def open_console(db: Database, secret_key: bytes, code: WorkshopCode, token: str) -> Console:
    """The console of workshop `code` for a token a page kept; checked at every use."""
    return Console(db, secret_key, code, token)


def resume_console(db: Database, secret_key: bytes, token: str) -> Console:
    """The console a live token unlocks, whichever workshop it is (after a page reload).

    `NotAuthorized` for an unknown, ended or expired token.
    """
    with db.read.begin() as session:
        row = _live_console_session(session, secret_key, token)
        if row is None:
            raise NotAuthorized("no live console session")
        code = session.scalar(select(Workshop.code).where(Workshop.id == row.workshop_id))
    return Console(db, secret_key, WorkshopCode(code or ""), token)


def end_console(db: Database, secret_key: bytes, token: str) -> None:
    """Lock the console: the token stops working everywhere at once. Idempotent."""
    if not isinstance(token, str) or not token:
        return
    with db.write.begin() as session:
        session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.token_hash == _console_token_hash(secret_key, token)
            )
        )
