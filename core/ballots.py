"""The ballot box: voting cards, casting sealed ballots, closing (the mix) and revealing.

One service per step (`issue_cards`, `cast_ballot`, `close_voting`, `unlock_live_results`,
`reveal`); each takes simple values, owns its transaction and raises named `BeiduiError`s
(locale keys `ballot.errors.*`). What the projector may show lives in `core.results`.

This module must never store or return anything that links a card to a ballot, never write
a time, a session, a client key or an IP address, never store a ballot in the clear before
reveal, never keep a passphrase or an unwrapped private key beyond the call that needed it,
and never let the order in which rows are written or returned follow the order of casting
once voting has closed. Why each measure exists: docs/threat-model.md.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import weakref
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Final

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.breakdown import choose_groups  # the one rule for which roles are shown
from core.crypto import human_codes, key_wrap, passphrases, sealed_box
from core.db import Database, checkpoint_wal
from core.domain import (
    MAX_BALLOT_SIZE,
    Stage,
    StagePosition,
    VotingNotOpen,
    WorkshopCode,
    check_transition,
)
from core.errors import BeiduiError
from core.models import (
    CARDS,
    OPENED_BALLOTS,
    SEALED_BALLOTS,
    WORKSHOP_SECRETS,
    WORKSHOPS,
    Method,
    Role,
    Workshop,
    random_id,
)
from core.ratelimit import AttemptLimiter

# The workshop loader and view builder are the workshops module's own; reusing them keeps
# one definition of "a workshop as a page sees it".
from core.workshops import (
    WorkshopNotFound,
    WorkshopView,
    load_workshop,
    minute_now,
    require_grant,
    view_of,
)

# --------------------------------------------------------------------------------------------
# Errors (data/locales/<lang>/ballot.toml)
# --------------------------------------------------------------------------------------------


class VotingClosed(BeiduiError):
    """Voting has ended: no more ballots, and no more cards."""

    key: ClassVar[str] = "ballot.errors.voting_closed"


class EmptyBallot(BeiduiError):
    """The ranking names no method."""

    key: ClassVar[str] = "ballot.errors.empty_ballot"


class TooManyChoices(BeiduiError):
    """More methods ranked than the ballot size K (params: max)."""

    key: ClassVar[str] = "ballot.errors.too_many_choices"


class DuplicateMethod(BeiduiError):
    """The same method ranked twice."""

    key: ClassVar[str] = "ballot.errors.duplicate_method"


class UnknownMethod(BeiduiError):
    """A ranked method is not one of this workshop's methods."""

    key: ClassVar[str] = "ballot.errors.unknown_method"


class UnknownRole(BeiduiError):
    """The declared role is not one of this workshop's roles."""

    key: ClassVar[str] = "ballot.errors.unknown_role"


class CardRequired(BeiduiError):
    """This workshop votes with cards and no card code was given."""

    key: ClassVar[str] = "ballot.errors.card_required"


class CardNotFound(BeiduiError):
    """No usable card with this code here (unknown, another workshop's, or voided)."""

    key: ClassVar[str] = "ballot.errors.card_not_found"


class CardAlreadySpent(BeiduiError):
    """This card has already been used for a ballot."""

    key: ClassVar[str] = "ballot.errors.card_spent"


class InvalidCardCount(BeiduiError):
    """Cards are issued 1..500 at a time (params: low, high)."""

    key: ClassVar[str] = "ballot.errors.invalid_card_count"


class CardsNotUsed(BeiduiError):
    """An open-mode workshop has no cards."""

    key: ClassVar[str] = "ballot.errors.open_mode_no_cards"


class NotLiveResults(BeiduiError):
    """Live results were not chosen for this workshop when it was created."""

    key: ClassVar[str] = "ballot.errors.not_live_results"


class AlreadyRevealed(BeiduiError):
    """The box has already been opened."""

    key: ClassVar[str] = "ballot.errors.already_revealed"


class NotRevealed(BeiduiError):
    """Individual (anonymous) ballots and receipts are listed only after the reveal."""

    key: ClassVar[str] = "ballot.errors.not_revealed"


class CorruptBallot(BeiduiError):
    """A sealed ballot opened but does not hold a valid ballot for this workshop."""

    key: ClassVar[str] = "ballot.errors.corrupt_ballot"


# --------------------------------------------------------------------------------------------
# Limits and the payload format
# --------------------------------------------------------------------------------------------

MAX_CARDS_PER_CALL: Final = 500
# Typed text longer than this is never a join code, card code or receipt: refuse it before
# Unicode folding walks megabytes of it.
_MAX_CODE_TEXT: Final = 64
_MAX_PASSPHRASE_TEXT: Final = 4 * passphrases.MAX_PASSPHRASE_LENGTH
_MAX_KEY_LENGTH: Final = 64  # core.templates.KEY_PATTERN: method and role keys

PAYLOAD_VERSION: Final = 1
# Every plaintext is padded to this many bytes before sealing, so a ciphertext's length says
# nothing about how many methods were ranked, which ones, or whether a role was declared.
# The worst case (K = 10 keys of 64 characters and a 64-character role) is 766 bytes.
PAYLOAD_LENGTH: Final = 800
SEALED_LENGTH: Final = PAYLOAD_LENGTH + sealed_box.SEAL_OVERHEAD

# One limiter per process, shared by every page session: wrong card codes from one client
# make that client wait (see core/ratelimit.py). Tests may call `CARD_LIMITER` directly.
CARD_LIMITER: Final = AttemptLimiter()


def encode_payload(ranking: Sequence[str], role: str | None) -> bytes:
    """Compact JSON `{"v","ranking","role"}` padded with spaces to `PAYLOAD_LENGTH` bytes.

    Spaces are JSON whitespace, so the padded text is still one JSON document. Raises
    ValueError if it cannot fit (only for keys the templates would never accept).
    """
    body = json.dumps(
        {"v": PAYLOAD_VERSION, "ranking": list(ranking), "role": role},
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")
    if len(body) > PAYLOAD_LENGTH:
        raise ValueError("ballot payload longer than PAYLOAD_LENGTH")
    return body + b" " * (PAYLOAD_LENGTH - len(body))


def decode_payload(plaintext: bytes) -> tuple[tuple[str, ...], str | None]:
    """(ranking, role) from `encode_payload` output; `CorruptBallot` for anything else."""
    if len(plaintext) != PAYLOAD_LENGTH:
        raise CorruptBallot("payload length")
    try:
        data = json.loads(plaintext.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise CorruptBallot("payload is not JSON") from None
    if not isinstance(data, dict) or set(data) != {"v", "ranking", "role"}:
        raise CorruptBallot("payload fields")
    ranking, role = data["ranking"], data["role"]
    if (
        data["v"] != PAYLOAD_VERSION
        or not isinstance(ranking, list)
        or not all(isinstance(m, str) for m in ranking)
        or not (role is None or isinstance(role, str))
    ):
        raise CorruptBallot("payload types")
    return tuple(ranking), role


def ballot_aad(workshop_id: int, code: WorkshopCode) -> bytes:
    """Associated data binding a sealed ballot to its workshop (a blob moved elsewhere fails)."""
    return f"beidui/ballot/v1\x00{workshop_id}\x00{code}".encode("ascii")


def live_key_aad(workshop_id: int, code: WorkshopCode) -> bytes:
    return f"beidui/live-box-key/v1\x00{workshop_id}\x00{code}".encode("ascii")


# --------------------------------------------------------------------------------------------
# Per-workshop facts the hot path needs, read once
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Box:
    workshop_id: int
    code: WorkshopCode
    public_key: bytes
    card_salt: bytes
    method_keys: frozenset[str]
    role_keys: frozenset[str]
    ballot_size: int
    is_open_mode: bool
    anonymity_k: int
    aad: bytes


# Only workshops that have reached voting are cached: from then on stages only move forward
# and a workshop's ballot (methods, roles, K, keys, mode) can no longer change. The stage
# itself is never cached: `submit_ballot` reads it, and each batch checks it again.
_BOXES: weakref.WeakKeyDictionary[Database, dict[str, _Box]] = weakref.WeakKeyDictionary()

_W = WORKSHOPS.c
_S = WORKSHOP_SECRETS.c
_C = CARDS.c
_B = SEALED_BALLOTS.c
_O = OPENED_BALLOTS.c


def join_code(text: str) -> WorkshopCode:
    """The canonical join code for typed text, refusing huge input before folding it."""
    if not isinstance(text, str) or len(text) > _MAX_CODE_TEXT:
        raise human_codes.MalformedJoinCode(expected=human_codes.JOIN_CODE_LENGTH)
    return human_codes.normalize_join_code(text)


def _read_box(db: Database, code: WorkshopCode) -> tuple[_Box, Stage]:
    with db.read.begin() as session:
        row = session.execute(
            select(
                _W.id,
                _W.code,
                _W.stage,
                _W.ballot_size,
                _W.is_open_mode,
                _W.anonymity_k,
                _S.box_public_key,
                _S.card_salt,
            )
            .join_from(WORKSHOPS, WORKSHOP_SECRETS, _S.workshop_id == _W.id)
            .where(_W.code == code)
        ).one_or_none()
        if row is None:
            raise WorkshopNotFound(f"no workshop {code!r}", code=code)
        methods = session.scalars(select(Method.key).where(Method.workshop_id == row.id)).all()
        roles = session.scalars(select(Role.key).where(Role.workshop_id == row.id)).all()
    box = _Box(
        workshop_id=row.id,
        code=row.code,
        public_key=bytes(row.box_public_key),
        card_salt=bytes(row.card_salt),
        method_keys=frozenset(methods),
        role_keys=frozenset(roles),
        ballot_size=row.ballot_size,
        is_open_mode=bool(row.is_open_mode),
        anonymity_k=int(row.anonymity_k),
        aad=ballot_aad(row.id, row.code),
    )
    return box, Stage(row.stage)


def _box_for_casting(db: Database, code: WorkshopCode) -> _Box:
    cached = _BOXES.get(db, {}).get(code)
    if cached is not None:
        return cached
    box, stage = _read_box(db, code)
    _raise_unless_voting(stage)
    _BOXES.setdefault(db, {})[code] = box
    return box


def _raise_unless_voting(stage: Stage) -> None:
    if stage in (Stage.DRAFT, Stage.QUESTIONS):
        raise VotingNotOpen("voting has not started", stage=stage.value)
    if stage in (Stage.CLOSED, Stage.REVEALED):
        raise VotingClosed("voting has ended", stage=stage.value)


# --------------------------------------------------------------------------------------------
# Cards
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardCounts:
    """How many cards a workshop has issued, and how many of them are spent or void."""

    issued: int
    spent: int
    void: int

    @property
    def unused(self) -> int:
        return self.issued - self.spent - self.void


def _facilitator_workshop(
    session: Session, secret_key: bytes, code: WorkshopCode, grant: str
) -> Workshop:
    w = load_workshop(session, join_code(code))
    require_grant(session, secret_key, w, grant)
    return w


def issue_cards(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, count: int
) -> list[str]:
    """Issue `count` (1..500) new single-use cards and return their codes, once.

    Only HMAC digests (instance secret + workshop salt) are stored: the codes returned here
    exist nowhere else, so print them now. Allowed before and during voting, never after.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 500:
        raise InvalidCardCount("card count", low=1, high=MAX_CARDS_PER_CALL)
    for _attempt in range(5):
        codes: set[str] = set()
        while len(codes) < count:
            codes.add(human_codes.new_card_code())
        try:
            with db.write.begin() as session:
                w = _facilitator_workshop(session, secret_key, code, grant)
                if w.is_open_mode:
                    raise CardsNotUsed("open mode")
                if Stage(w.stage) in (Stage.CLOSED, Stage.REVEALED):
                    raise VotingClosed("voting has ended", stage=w.stage)
                assert w.secrets is not None
                salt = w.secrets.card_salt
                # Digest order is random: the stored order says nothing about the printed one.
                digests = sorted(human_codes.card_digest(secret_key, salt, c) for c in codes)
                rows = [
                    {"digest": d, "workshop_id": w.id, "is_spent": False, "is_void": False}
                    for d in digests
                ]
                session.execute(insert(CARDS), rows)
        except IntegrityError:
            continue  # a 43.7-bit code collided with an existing card: draw the batch again
        return list(codes)
    raise InvalidCardCount("could not draw unique card codes", low=1, high=MAX_CARDS_PER_CALL)


def void_unused_cards(db: Database, secret_key: bytes, code: WorkshopCode, grant: str) -> int:
    """Void every card of this workshop not yet spent (e.g. leftovers after the session)."""
    with db.write.begin() as session:
        w = _facilitator_workshop(session, secret_key, code, grant)
        result = session.execute(
            update(CARDS)
            .where(_C.workshop_id == w.id, _C.is_spent.is_(False), _C.is_void.is_(False))
            .values(is_void=True)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def card_counts(db: Database, code: WorkshopCode) -> CardCounts:
    """Issued / spent / void card counts (numbers only: never which card is which)."""
    normalized = join_code(code)
    with db.read.begin() as session:
        wid = session.scalar(select(_W.id).where(_W.code == normalized))
        if wid is None:
            raise WorkshopNotFound(f"no workshop {code!r}", code=code)
        # One pass over the workshop's cards: three counts, never which card is which.
        row = session.execute(
            select(
                func.count(),
                func.count().filter(_C.is_spent.is_(True)),
                func.count().filter(_C.is_void.is_(True)),
            ).where(_C.workshop_id == wid)
        ).one()
        issued, spent, void = int(row[0]), int(row[1]), int(row[2])
    return CardCounts(issued=issued, spent=spent, void=void)


# --------------------------------------------------------------------------------------------
# Casting
# --------------------------------------------------------------------------------------------

# Built once: compiled once per dialect, then reused from SQLAlchemy's statement cache.
_STAGE_FOR_CAST = (
    select(_W.stage).where(_W.id == bindparam("wid")).with_for_update(read=True)
)  # FOR SHARE on PostgreSQL: close_voting's UPDATE waits for casts in flight, and casts
# that start after it see CLOSED; SQLite's BEGIN IMMEDIATE already serialises writers.
_SPEND_CARD = (
    update(CARDS)
    .where(
        _C.digest == bindparam("b_digest"),
        _C.workshop_id == bindparam("b_wid"),
        _C.is_spent.is_(False),
        _C.is_void.is_(False),
    )
    .values(is_spent=True)
)
_CARD_STATE = select(_C.is_spent, _C.is_void).where(
    _C.digest == bindparam("b_digest"), _C.workshop_id == bindparam("b_wid")
)
_INSERT_SEALED = insert(SEALED_BALLOTS)
# The stage as `submit_ballot` reads it: no lock, the batch's transaction checks it again.
_STAGE_READ = select(_W.stage).where(_W.id == bindparam("wid"))


def _check_ranking(box: _Box, ranking: Sequence[str]) -> tuple[str, ...]:
    if isinstance(ranking, str | bytes):  # a bare string would be read letter by letter
        raise UnknownMethod("ranking must be a sequence of method keys")
    if len(ranking) == 0:
        raise EmptyBallot("no method ranked")
    if len(ranking) > box.ballot_size:
        raise TooManyChoices("too many methods", max=box.ballot_size)
    out = tuple(ranking)
    for m in out:
        if not isinstance(m, str) or m not in box.method_keys:
            raise UnknownMethod("not a method of this workshop")
    if len(set(out)) != len(out):
        raise DuplicateMethod("a method ranked twice")
    return out


def _check_role(box: _Box, role: str | None) -> str | None:
    if role is None:
        return None
    if not isinstance(role, str) or role not in box.role_keys:
        raise UnknownRole("not a role of this workshop")
    return role


def _client(client_key: str) -> str:
    # The limiter HMACs what it gets; a megabyte-long "session id" is cut to a digest first.
    key = client_key if isinstance(client_key, str) else ""
    return key if len(key) <= 256 else hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _card_digest(secret_key: bytes, box: _Box, card_code: str) -> bytes:
    if not isinstance(card_code, str) or len(card_code) > _MAX_CODE_TEXT:
        raise human_codes.CardCodeWrongLength(expected=human_codes.CARD_CODE_LENGTH)
    return human_codes.card_digest(secret_key, box.card_salt, card_code)


def _stage_in_transaction(conn: Connection | Session, box: _Box) -> Stage:
    stage = conn.execute(_STAGE_FOR_CAST, {"wid": box.workshop_id}).scalar_one_or_none()
    if stage is None:
        raise WorkshopNotFound(f"no workshop {box.code!r}", code=box.code)
    return Stage(stage)


# --------------------------------------------------------------------------------------------
# The mixer: ballots reach the database only in batches of at least k
# --------------------------------------------------------------------------------------------
#
# A database keeps more than its rows. PostgreSQL's WAL names every transaction by an xid
# and a commit time and holds its row images; SQLite's -wal appends whole pages in commit
# order. Were one cast one transaction, a card spend and its ballot would share an xid
# (card <-> ballot) and the WAL would list ballots in casting order. So `submit_ballot` only
# checks, seals and queues a cast in this process's memory; once k casts of a workshop are
# queued, EVERY queued cast is written in ONE transaction with its rows shuffled, and only
# then does a phone get its receipt (acknowledged = stored). At close the remainder joins
# the mix itself. A crash loses only queued casts, whose cards were never spent.


class BallotState(Enum):
    """Where a submitted ballot is."""

    WAITING = "waiting"
    """Sealed and queued in this server's memory only; nothing is written yet."""
    STORED = "stored"
    """Committed together with its batch: the receipt is valid."""
    REFUSED = "refused"
    """Not stored (see the error); unless it says the card was spent, the card is unused."""


@dataclass(frozen=True)
class Ticket:
    """What `submit_ballot` returns. The id lives in this server's memory only."""

    id: str
    waiting_for: int
    """How many more ballots the batch needs before it is written (0: being written)."""


@dataclass(frozen=True)
class BallotStatus:
    """A submitted ballot's state, with its receipt once stored or its error if refused."""

    state: BallotState
    waiting_for: int
    receipt: str | None = None
    error: BeiduiError | None = None


class BallotStillWaiting(BeiduiError):
    """`cast_ballot` stopped waiting; the ballot stays queued (params: waiting_for)."""

    key: ClassVar[str] = "ballot.errors.still_waiting"


class UnknownTicket(BeiduiError):
    """No ballot with this ticket here: it expired, or this server restarted before the
    batch was written (then the card is unused and can be cast again)."""

    key: ClassVar[str] = "ballot.errors.unknown_ticket"


class BallotNotStored(BeiduiError):
    """The database refused the batch; nothing of it was written, the card is unused."""

    key: ClassVar[str] = "ballot.errors.not_stored"


# A ticket answers `ballot_status` for this long after its batch was written or refused.
TICKET_TTL_SECONDS: Final = 30 * 60
# How often a server with queued ballots reads their workshops' stage, so that a close on
# another server (same PostgreSQL) commits this server's remainder too.
WATCH_INTERVAL_SECONDS: Final = 0.5


@dataclass(eq=False)
class _Pending:
    box: _Box
    digest: bytes | None
    client: str
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BeiduiError | None = None
    done_at: float | None = None


@dataclass(eq=False)
class _Mixer:
    """One workshop's queue in this process. Lock order: flush_lock, then the database."""

    k: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    flush_lock: threading.RLock = field(default_factory=threading.RLock)
    queue: list[_Pending] = field(default_factory=list)
    # Digests of queued cards: the same card cannot wait in two places of one process.
    reserved: set[bytes] = field(default_factory=set)


_MIXERS: weakref.WeakKeyDictionary[Database, dict[int, _Mixer]] = weakref.WeakKeyDictionary()
_MIXERS_GUARD = threading.Lock()
_TICKETS: dict[str, _Pending] = {}
_TICKETS_GUARD = threading.Lock()
_WATCHER: list[threading.Thread] = []


# SQLite's `wal_checkpoint(TRUNCATE)` waits until no reader uses the -wal, and SQLite's busy
# handler then sleeps 1, 2, 5, 10 ... ms however soon the reader is done. Within a process
# the casting path's own reads and the checkpoint after each batch take turns on a lock
# instead (PostgreSQL needs none).
_SQLITE_GATES: weakref.WeakKeyDictionary[Database, threading.Lock] = weakref.WeakKeyDictionary()
_READ_ENGINES: weakref.WeakKeyDictionary[Database, Engine] = weakref.WeakKeyDictionary()


def _sqlite_gate(db: Database) -> AbstractContextManager[object]:
    if not db.is_sqlite:
        return nullcontext()
    with _MIXERS_GUARD:
        return _SQLITE_GATES.setdefault(db, threading.Lock())


def _read_engine(db: Database) -> Engine:
    """Core connections that only read (no write lock on SQLite): cheaper than a Session."""
    engine = _READ_ENGINES.get(db)
    if engine is None:
        engine = _READ_ENGINES.setdefault(db, db.engine.execution_options(beidui_read_only=True))
    return engine


def _mixer(db: Database, box: _Box) -> _Mixer:
    with _MIXERS_GUARD:
        per_db = _MIXERS.setdefault(db, {})
        mixer = per_db.get(box.workshop_id)
        if mixer is None:
            mixer = per_db[box.workshop_id] = _Mixer(k=max(box.anonymity_k, 1))
        return mixer


def _existing_mixer(db: Database, workshop_id: int) -> _Mixer | None:
    with _MIXERS_GUARD:
        return _MIXERS.get(db, {}).get(workshop_id)


_LAST_PRUNE: list[float] = [0.0]


def _register(pending: _Pending) -> str:
    now = time.monotonic()
    ticket_id = secrets.token_urlsafe(18)
    with _TICKETS_GUARD:
        if now - _LAST_PRUNE[0] > 10:  # a full scan at most every 10 s, not per ballot
            _LAST_PRUNE[0] = now
            expired = [
                t
                for t, p in _TICKETS.items()
                if p.done_at is not None and now - p.done_at > TICKET_TTL_SECONDS
            ]
            for t in expired:
                del _TICKETS[t]
        _TICKETS[ticket_id] = pending
    return ticket_id


def _waiting_for(db: Database, pending: _Pending) -> int:
    if pending.done.is_set():
        return 0
    mixer = _existing_mixer(db, pending.box.workshop_id)
    if mixer is None:
        return 0
    with mixer.lock:
        if pending not in mixer.queue:
            return 0  # taken by a flush that is writing it now
        return max(mixer.k - len(mixer.queue), 0)


def _finish(mixer: _Mixer, done: Sequence[_Pending], error: BeiduiError | None = None) -> None:
    now = time.monotonic()
    with mixer.lock:
        for p in done:
            if p.digest is not None:
                mixer.reserved.discard(p.digest)
    for p in done:
        p.error = error
        p.done_at = now
        # Done: the ticket keeps only the receipt, not the ciphertext or the card's digest.
        p.row = {"receipt": p.row["receipt"]}
        p.digest = None
        p.done.set()


def _read_stage_and_card(
    db: Database, box: _Box, digest: bytes | None
) -> tuple[str | None, tuple[bool, bool] | None]:
    """The workshop's stage and the card's (is_spent, is_void), in one read transaction."""
    wid = box.workshop_id
    if db.is_sqlite:
        sql = _sqlite_statements(db)
        with _sqlite_gate(db):
            pooled = db.engine.raw_connection()
            try:
                conn: Any = pooled.driver_connection
                conn.execute("BEGIN")  # a read snapshot; takes no write lock under WAL
                try:
                    found = conn.execute(
                        sql["read_stage"].sql, sql["read_stage"].args({"wid": wid})
                    ).fetchone()
                    row = None
                    if digest is not None:
                        args = {"b_digest": digest, "b_wid": wid}
                        row = conn.execute(sql["card"].sql, sql["card"].args(args)).fetchone()
                finally:
                    conn.execute("ROLLBACK")
            finally:
                pooled.close()
    else:
        with _read_engine(db).connect() as rconn:
            found = rconn.execute(_STAGE_READ, {"wid": wid}).one_or_none()
            row = (
                None
                if digest is None
                else rconn.execute(_CARD_STATE, {"b_digest": digest, "b_wid": wid}).one_or_none()
            )
    stage = None if found is None else str(found[0])
    card = None if row is None else (bool(row[0]), bool(row[1]))
    return stage, card


def submit_ballot(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    card_code: str | None,
    ranking: Sequence[str],
    role: str | None,
    *,
    client_key: str = "",
) -> Ticket:
    """Check, seal and queue one ballot; it is written with its batch of at least k.

    Raises at once, exactly as `cast_ballot` always did: the workshop is voting
    (`VotingNotOpen` / `VotingClosed`); the ranking is 1..K distinct methods of this workshop
    (`EmptyBallot`, `TooManyChoices`, `UnknownMethod`, `DuplicateMethod`); the role is None or
    one of its roles (`UnknownRole`); then, unless in open mode, the card: missing
    (`CardRequired`), malformed (crypto's `MalformedCardCode`, never counted as an attempt),
    unknown / another workshop's / void (`CardNotFound`), spent or already queued in this
    server (`CardAlreadySpent`). Unknown and spent count as failed attempts for `client_key`
    (the page's session id; never stored); too many make it wait (`TooManyAttempts`).

    Nothing is written here. When k ballots of this workshop are queued, every queued
    ballot is written in one transaction (cards spent with a guarded update, rows in random
    order); the caller of that k-th submit does the writing. Ask `ballot_status` with the
    ticket; it keeps no link to the caller and is never stored.
    """
    box = _box_for_casting(db, join_code(code))
    ranked = _check_ranking(box, ranking)
    declared = _check_role(box, role)
    digest: bytes | None = None
    client = ""
    if not box.is_open_mode:
        if card_code is None or (isinstance(card_code, str) and not card_code.strip()):
            raise CardRequired("no card code")
        digest = _card_digest(secret_key, box, card_code)
        client = _client(client_key)
        CARD_LIMITER.check(box.code, client)
    mixer = _mixer(db, box)
    # Reserve the card BEFORE reading it: a reservation is released only after its batch
    # committed, so a second cast of the card either finds it reserved or reads it spent.
    if digest is not None:
        with mixer.lock:
            if digest in mixer.reserved:
                raise CardAlreadySpent("card already waiting in a batch")
            mixer.reserved.add(digest)
    try:
        stage, card = _read_stage_and_card(db, box, digest)
        if stage is None:
            raise WorkshopNotFound(f"no workshop {box.code!r}", code=box.code)
        _raise_unless_voting(Stage(stage))
        if digest is not None:
            if card is None or card[1]:
                CARD_LIMITER.record_failure(box.code, client)
                raise CardNotFound("no usable card with this code")
            if card[0]:
                CARD_LIMITER.record_failure(box.code, client)
                raise CardAlreadySpent("card already used")
        # Sealed now, in memory: the queue never holds a ranking in the clear.
        sealed = sealed_box.seal(box.public_key, encode_payload(ranked, declared), box.aad)
        row = {
            "id": random_id(),
            "workshop_id": box.workshop_id,
            "sealed": sealed,
            "receipt": human_codes.receipt_for(sealed),
        }
        pending = _Pending(box, digest, client, row)
    except BaseException:
        if digest is not None:
            with mixer.lock:
                mixer.reserved.discard(digest)
        raise
    with mixer.lock:
        mixer.queue.append(pending)
        queued = len(mixer.queue)
    ticket_id = _register(pending)
    if queued >= mixer.k:
        _flush(db, mixer, force=False)
    else:
        _ensure_watcher()
    return Ticket(ticket_id, _waiting_for(db, pending))


def _pending_for(ticket_id: str) -> _Pending:
    with _TICKETS_GUARD:
        pending = _TICKETS.get(ticket_id) if isinstance(ticket_id, str) else None
    if pending is None:
        raise UnknownTicket("no such ticket here")
    return pending


def _status_of(pending: _Pending, waiting_for: int) -> BallotStatus:
    if not pending.done.is_set():
        return BallotStatus(BallotState.WAITING, waiting_for)
    if pending.error is not None:
        return BallotStatus(BallotState.REFUSED, 0, error=pending.error)
    return BallotStatus(BallotState.STORED, 0, receipt=str(pending.row["receipt"]))


def ballot_status(ticket_id: str) -> BallotStatus:
    """The state of a submitted ballot (memory only: no database read). `UnknownTicket` once
    it expired (`TICKET_TTL_SECONDS` after it was written) or after a restart."""
    pending = _pending_for(ticket_id)
    with _MIXERS_GUARD:
        dbs = list(_MIXERS.keys())
    waiting = 0
    for db in dbs:
        mixer = _MIXERS.get(db, {}).get(pending.box.workshop_id)
        if mixer is not None:
            with mixer.lock:
                if pending in mixer.queue:
                    waiting = max(mixer.k - len(mixer.queue), 0)
    return _status_of(pending, waiting)


def wait_for_ballot(ticket_id: str, timeout: float | None = None) -> BallotStatus:
    """`ballot_status` once the ballot is stored or refused, or when `timeout` ends."""
    pending = _pending_for(ticket_id)
    pending.done.wait(timeout)
    return ballot_status(ticket_id)


def cast_ballot(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    card_code: str | None,
    ranking: Sequence[str],
    role: str | None,
    *,
    client_key: str = "",
    timeout: float | None = None,
) -> str:
    """`submit_ballot`, then wait until its batch is written, and return the receipt.

    Raises what `submit_ballot` raises, the error a refused ballot got (e.g.
    `CardAlreadySpent` when another server spent the card first), or `BallotStillWaiting`
    after `timeout` seconds (the ballot stays queued). With fewer than k ballots queued
    it waits for more ballots, or for voting to close.

    Open mode (`is_open_mode`): `card_code` is ignored and nothing here can stop one person
    casting many ballots; the page keeps to one ballot per browser session, which a person
    with two browsers or a cleared session gets around. Use cards when that matters.
    """
    ticket = submit_ballot(db, secret_key, code, card_code, ranking, role, client_key=client_key)
    status = wait_for_ballot(ticket.id, timeout)
    if status.state is BallotState.STORED:
        assert status.receipt is not None
        return status.receipt
    if status.state is BallotState.REFUSED:
        assert status.error is not None
        raise status.error
    raise BallotStillWaiting("batch not complete", waiting_for=status.waiting_for)


class _TooFew(Exception):
    """Cards failed in a batch and fewer than k ballots remain: roll back, wait for more."""

    def __init__(self, kept: list[_Pending], failed: list[_Pending]) -> None:
        super().__init__("batch below k")
        self.kept = kept
        self.failed = failed


def _spend_and_write(
    conn: Connection | Session,
    workshop_id: int,
    batch: Sequence[_Pending],
    *,
    is_closed: bool,
    k: int,
) -> tuple[list[_Pending], list[_Pending]]:
    """Spend the batch's cards (guarded) and write its rows, all in the caller's transaction.

    Returns (stored, failed cards). While voting, a batch left with fewer than k ballots by
    failed cards raises `_TooFew` so the caller rolls back. Once closed, the rows join the
    whole box's mix (`mix_box`), so even the remainder hides among every ballot.
    """
    stored: list[_Pending] = []
    failed: list[_Pending] = []
    for p in _shuffled(batch):
        if p.digest is not None:
            spent = conn.execute(_SPEND_CARD, {"b_digest": p.digest, "b_wid": workshop_id})
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                failed.append(p)
                continue
        stored.append(p)
    if is_closed:
        mix_box(conn, workshop_id, [p.row for p in stored])
        _forget_spend_times(conn, workshop_id)
    else:
        if failed and len(stored) < k:
            raise _TooFew(stored, failed)
        if stored:
            conn.execute(_INSERT_SEALED, [p.row for p in stored])
    return stored, failed


def _refuse_cards(db: Database, mixer: _Mixer, failed: Sequence[_Pending]) -> None:
    # Only now, after the guarded update failed, is it worth telling spent from unknown.
    for p in failed:
        assert p.digest is not None
        CARD_LIMITER.record_failure(p.box.code, p.client)
        with db.read.begin() as session:
            state = session.execute(
                _CARD_STATE, {"b_digest": p.digest, "b_wid": p.box.workshop_id}
            ).one_or_none()
        error: BeiduiError = (
            CardAlreadySpent("card already used")
            if state is not None and state.is_spent
            else CardNotFound("no usable card with this code")
        )
        _finish(mixer, [p], error)


def _flush(db: Database, mixer: _Mixer, *, force: bool) -> None:
    """Write every queued ballot of `mixer` if at least k wait (or `force`, once closed)."""
    with mixer.flush_lock:
        while True:
            with mixer.lock:
                if not mixer.queue or (not force and len(mixer.queue) < mixer.k):
                    return
                batch, mixer.queue = mixer.queue, []
            retry = _commit_batch(db, mixer, batch)
            if not retry:
                return
            with mixer.lock:
                mixer.queue[:0] = retry


@dataclass(frozen=True)
class _Prepared:
    """A Core statement compiled once for a dialect: its SQL and its parameter order."""

    sql: str
    names: tuple[str, ...]
    defaults: dict[str, Any]

    @classmethod
    def of(cls, db: Database, stmt: Any) -> _Prepared:
        compiled = stmt.compile(dialect=db.engine.dialect)
        return cls(str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))

    def args(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(values[n] if n in values else self.defaults[n] for n in self.names)


_SQLITE_PREPARED: dict[str, _Prepared] = {}


def _sqlite_statements(db: Database) -> dict[str, _Prepared]:
    if not _SQLITE_PREPARED:
        _SQLITE_PREPARED.update(
            stage=_Prepared.of(db, _STAGE_FOR_CAST),
            read_stage=_Prepared.of(db, _STAGE_READ),
            card=_Prepared.of(db, _CARD_STATE),
            spend=_Prepared.of(db, _SPEND_CARD),
            insert=_Prepared.of(db, _INSERT_SEALED),
        )
    return _SQLITE_PREPARED


class _Closed(Exception):
    """The SQLite fast path found the stage CLOSED: the general path mixes the box."""


def _commit_batch_sqlite(db: Database, mixer: _Mixer, batch: list[_Pending]) -> list[_Pending]:
    """`_commit_batch` while voting on SQLite: the same statements, compiled once and run on
    the pooled driver connection, because SQLAlchemy's per-statement work cost as much as
    the writing itself (benchmarks/cast.py); then the checkpoint on the same connection."""
    box = batch[0].box
    sql = _sqlite_statements(db)
    try:
        pooled = db.engine.raw_connection()
        try:
            conn: Any = pooled.driver_connection  # autocommit mode (core/db.py): BEGIN is ours
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(
                    sql["stage"].sql, sql["stage"].args({"wid": box.workshop_id})
                ).fetchone()
                if found is None:
                    raise WorkshopNotFound(f"no workshop {box.code!r}", code=box.code)
                if Stage(found[0]) is Stage.CLOSED:
                    raise _Closed()
                _raise_unless_voting(Stage(found[0]))
                stored: list[_Pending] = []
                failed: list[_Pending] = []
                for p in _shuffled(batch):
                    if p.digest is not None:
                        args = {"b_digest": p.digest, "b_wid": box.workshop_id}
                        if conn.execute(sql["spend"].sql, sql["spend"].args(args)).rowcount != 1:
                            failed.append(p)
                            continue
                    stored.append(p)
                if failed and len(stored) < mixer.k:
                    raise _TooFew(stored, failed)
                conn.executemany(sql["insert"].sql, [sql["insert"].args(p.row) for p in stored])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            with _sqlite_gate(db):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            pooled.close()
    except _Closed:
        return _commit_batch(db, mixer, batch, fast=False)
    except _TooFew as few:
        _refuse_cards(db, mixer, few.failed)
        return few.kept
    except BeiduiError as exc:
        _finish(mixer, batch, exc)
        return []
    except Exception:
        _finish(mixer, batch, BallotNotStored("batch not written"))
        return []
    _finish(mixer, stored)
    _refuse_cards(db, mixer, failed)
    return []


def _commit_batch(
    db: Database, mixer: _Mixer, batch: list[_Pending], *, fast: bool = True
) -> list[_Pending]:
    """One transaction for the whole batch; returns the ballots to queue again, if any."""
    if fast and db.is_sqlite:
        return _commit_batch_sqlite(db, mixer, batch)
    box = batch[0].box
    is_closed = False
    try:
        with db.engine.begin() as conn:
            stage = _stage_in_transaction(conn, box)
            if stage is not Stage.CLOSED:
                _raise_unless_voting(stage)
            is_closed = stage is Stage.CLOSED
            stored, failed = _spend_and_write(
                conn, box.workshop_id, batch, is_closed=is_closed, k=mixer.k
            )
    except _TooFew as few:
        _refuse_cards(db, mixer, few.failed)
        return few.kept
    except BeiduiError as exc:  # the workshop is gone or revealed: nothing was written
        _finish(mixer, batch, exc)
        return []
    except Exception:  # the database refused: nothing was written, every card is unused
        _finish(mixer, batch, BallotNotStored("batch not written"))
        return []
    # The -wal (SQLite) never holds more than one batch; after a late flush at close, the
    # remainder's own row versions go the way of the mix's (see `scrub_storage`).
    with _sqlite_gate(db):
        scrub_storage(db, ("sealed_ballots", "cards") if is_closed else (), rewrite=is_closed)
    _finish(mixer, stored)
    _refuse_cards(db, mixer, failed)
    return []


def _flush_closed(db: Database) -> None:
    """Write the remainder of every workshop of `db` queued here whose voting has closed."""
    with _MIXERS_GUARD:
        waiting = [(wid, m) for wid, m in _MIXERS.get(db, {}).items() if m.queue]
    if not waiting:
        return
    with db.read.begin() as session:
        stages: dict[int, str] = {
            row.id: row.stage
            for row in session.execute(
                select(_W.id, _W.stage).where(_W.id.in_([wid for wid, _ in waiting]))
            )
        }
    for wid, mixer in waiting:
        stage = stages.get(wid)
        if stage is None or Stage(stage) in (Stage.CLOSED, Stage.REVEALED):
            _flush(db, mixer, force=True)


def _watch() -> None:
    # Runs while any ballot waits in this process; a later submit starts it again.
    while True:
        time.sleep(WATCH_INTERVAL_SECONDS)
        with _MIXERS_GUARD:
            dbs = [db for db, per in _MIXERS.items() if any(m.queue for m in per.values())]
            if not dbs:
                _WATCHER.clear()  # under the guard: a submit after this starts a new one
                return
        for db in dbs:
            try:
                _flush_closed(db)
            except Exception:  # a database hiccup: try again on the next tick
                continue


def _ensure_watcher() -> None:
    with _MIXERS_GUARD:
        if _WATCHER:
            return
        thread = threading.Thread(target=_watch, name="beidui-mixer-watch", daemon=True)
        _WATCHER[:] = [thread]
        thread.start()


# --------------------------------------------------------------------------------------------
# Closing and the mix
# --------------------------------------------------------------------------------------------


def _shuffled(rows: Sequence[Any]) -> list[Any]:
    # Sorting by fresh 128-bit random keys (never reused, never stored) is a uniform shuffle
    # drawn from the OS generator.
    keyed = [(secrets.token_bytes(16), i) for i in range(len(rows))]
    keyed.sort()
    return [rows[i] for _, i in keyed]


def mix_box(
    conn: Connection | Session, workshop_id: int, extra: Sequence[dict[str, Any]] = ()
) -> list[tuple[bytes, str]]:
    """Rewrite a workshop's sealed ballots, plus `extra` new ones, in a fresh random order
    with fresh random ids.

    Returns (sealed, receipt) of every ballot, in the new order. `DELETE ... RETURNING`
    makes the rows rewritten exactly the rows deleted, even if a batch commits meanwhile.
    On PostgreSQL the new rows share one transaction id (xmin) and sit in the heap in the
    shuffled order, so neither `ctid` nor `xmin` recalls the batches; the old tuples are
    dead until `scrub_storage` rewrites the table. On SQLite the table has no rowid and
    `secure_delete` zeroes freed cells.
    """
    deleted = conn.execute(
        delete(SEALED_BALLOTS).where(_B.workshop_id == workshop_id).returning(_B.sealed, _B.receipt)
    ).all()
    rows = _shuffled(
        [(bytes(r.sealed), str(r.receipt)) for r in deleted]
        + [(bytes(e["sealed"]), str(e["receipt"])) for e in extra]
    )
    if rows:
        conn.execute(
            insert(SEALED_BALLOTS),
            [
                {"id": random_id(), "workshop_id": workshop_id, "sealed": s, "receipt": r}
                for s, r in rows
            ],
        )
    return rows


def _forget_spend_times(conn: Connection | Session, workshop_id: int) -> None:
    # On PostgreSQL each spent card row carries the xmin of the batch that spent it. Touching
    # every card of the workshop in one transaction gives them all the same xmin.
    conn.execute(update(CARDS).where(_C.workshop_id == workshop_id).values(is_spent=_C.is_spent))


def scrub_storage(db: Database, tables: Sequence[str], *, rewrite: bool = True) -> None:
    """Make the files forget what a rewrite replaced. Never raises (best effort).

    SQLite: checkpoint the WAL with TRUNCATE, so the -wal file is emptied and the main file
    (with `secure_delete`) holds only live rows. PostgreSQL: `VACUUM FULL` of `tables`
    (with `rewrite`) writes them to new files, so dead row versions (pre-mix order, erased
    ciphertexts) are no longer in any table page; plain `VACUUM` otherwise. Neither can
    reach the PostgreSQL WAL or its archive: docs/threat-model.md says what they keep.
    A missing privilege must not undo a close or a reveal that already committed.
    """
    try:
        if db.is_sqlite:
            checkpoint_wal(db)
        elif tables:
            with db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                command = "VACUUM FULL" if rewrite else "VACUUM"
                for table in tables:
                    conn.exec_driver_sql(f"{command} {table}")
    except Exception:  # best effort by design (see docstring)
        return


def close_voting(db: Database, secret_key: bytes, code: WorkshopCode, grant: str) -> WorkshopView:
    """VOTING → CLOSED and, in the same transaction, write the ballots still queued in this
    process and mix the whole box (see `mix_box`). Ballots queued on another server are
    written by that server as soon as it sees the stage (`WATCH_INTERVAL_SECONDS`), and
    mixed in again then. Afterwards the tables are rewritten (`scrub_storage`).
    """
    normalized = join_code(code)
    with db.read.begin() as session:
        wid = session.scalar(select(_W.id).where(_W.code == normalized))
    mixer = None if wid is None else _existing_mixer(db, wid)
    flush_lock = mixer.flush_lock if mixer is not None else threading.RLock()
    with flush_lock:
        batch: list[_Pending] = []
        if mixer is not None:
            with mixer.lock:
                batch, mixer.queue = mixer.queue, []
        try:
            with db.write.begin() as session:
                w = _facilitator_workshop(session, secret_key, normalized, grant)
                check_transition(w_position(w), StagePosition(Stage.CLOSED), len(w.questions))
                # The stage UPDATE comes first: on PostgreSQL it waits for batches holding
                # FOR SHARE and makes later batches see CLOSED, so the mix sees every ballot.
                w.stage = Stage.CLOSED.value
                w.stage_changed_at = minute_now()
                session.flush()
                stored, failed = _spend_and_write(
                    session, w.id, batch, is_closed=True, k=w.anonymity_k
                )
                view = view_of(w)
        except BaseException:
            if mixer is not None and batch:
                with mixer.lock:
                    mixer.queue[:0] = batch
            raise
    scrub_storage(db, ("sealed_ballots", "cards"))
    if mixer is not None:
        _finish(mixer, stored)
        _refuse_cards(db, mixer, failed)
    return view


def w_position(w: Workshop) -> StagePosition:
    return StagePosition(Stage(w.stage), w.current_question)


# --------------------------------------------------------------------------------------------
# Live results: unlocking the box key for counting while voting goes on
# --------------------------------------------------------------------------------------------


def _unwrap_box_key(wrapped: bytes, passphrase: str) -> sealed_box.BoxKeypair:
    if not isinstance(passphrase, str) or len(passphrase) > _MAX_PASSPHRASE_TEXT:
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
    """The box key `unlock_live_results` left in this process, if any (for core.results)."""
    with _LIVE_KEYS_GUARD:
        return _LIVE_KEYS.get(db, {}).get(workshop_id)


def _forget_live_key(db: Database, workshop_id: int) -> None:
    with _LIVE_KEYS_GUARD:
        _LIVE_KEYS.get(db, {}).pop(workshop_id, None)


def is_live_unlocked(db: Database, code: WorkshopCode) -> bool:
    """Whether this server holds the live key of the workshop (False again after a restart)."""
    with db.read.begin() as session:
        wid = session.scalar(select(_W.id).where(_W.code == join_code(code)))
    return wid is not None and live_keypair(db, wid) is not None


def unlock_live_results(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, passphrase: str
) -> None:
    """Let this server count a live-results workshop's ballots before the reveal.

    The box key is unwrapped with the passphrase and kept in this process's memory only,
    never in the database: the database, its WAL and backups never hold a key that opens
    ballots before the reveal. After a restart (or on another server) the facilitator
    unlocks again. `WrongPassphrase` changes nothing.
    """
    normalized = join_code(code)
    with db.read.begin() as session:
        w = _facilitator_workshop(session, secret_key, normalized, grant)
        if not w.is_live_results:
            raise NotLiveResults("not a live-results workshop")
        if Stage(w.stage) == Stage.REVEALED:
            raise AlreadyRevealed("already revealed")
        assert w.secrets is not None
        wrapped = bytes(w.secrets.box_private_key_wrapped)
        wid = w.id
    keypair = _unwrap_box_key(wrapped, passphrase)  # scrypt: outside any lock
    with _LIVE_KEYS_GUARD:
        _LIVE_KEYS.setdefault(db, {})[wid] = keypair


# --------------------------------------------------------------------------------------------
# Reveal
# --------------------------------------------------------------------------------------------


def open_ballots(
    keypair: sealed_box.BoxKeypair,
    sealed: Sequence[bytes],
    aad: bytes,
    method_keys: Sequence[str],
    role_keys: Sequence[str],
    ballot_size: int,
) -> list[tuple[tuple[str, ...], str | None]]:
    """Decrypt and check sealed ballots; `CannotUnseal` / `CorruptBallot` stop everything.

    A ballot that opens but is not valid for this workshop can only come from someone who
    wrote to the database with the public key: refusing loudly is better than counting it.
    """
    methods, roles = frozenset(method_keys), frozenset(role_keys)
    size = min(ballot_size, MAX_BALLOT_SIZE)
    out: list[tuple[tuple[str, ...], str | None]] = []
    for blob in sealed:
        ranking, role = decode_payload(sealed_box.open_sealed(keypair, blob, aad))
        if (
            not 1 <= len(ranking) <= size
            or len(set(ranking)) != len(ranking)
            or not methods.issuperset(ranking)
            or (role is not None and role not in roles)
        ):
            raise CorruptBallot("ballot not valid for this workshop")
        out.append((ranking, role))
    return out


def reveal(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, passphrase: str
) -> WorkshopView:
    """CLOSED → REVEALED: open the box with the passphrase and publish the final tally.

    Every sealed ballot is decrypted and written to `opened_ballots` in a fresh random order
    with fresh random ids, so no opened row points back to its sealed row. The live copy of
    the box key is erased. The ciphertexts are then erased too and only the receipts stay:
    were the box key ever exposed later, a receipt a voter was made to show must not lead
    to a ciphertext that opens to their ranking. A wrong passphrase
    (`WrongPassphrase`) or a tampered ballot changes nothing at all.

    Roles are stored k-safely: a role that the screens merge into "other"
    (`core.breakdown.breakdown`) is stored as no role, so neither the table nor a backup
    shows a small group's ballots. Ballots still queued in this process are written first
    (the stage is CLOSED, so they join the mix).
    """
    from core.results import publish_final  # results builds on this module

    normalized = join_code(code)
    with db.read.begin() as session:
        w = _facilitator_workshop(session, secret_key, normalized, grant)
        check_transition(w_position(w), StagePosition(Stage.REVEALED), len(w.questions))
        assert w.secrets is not None
        wrapped = bytes(w.secrets.box_private_key_wrapped)
        wid = w.id
    keypair = _unwrap_box_key(wrapped, passphrase)
    mixer = _existing_mixer(db, wid)
    if mixer is not None:
        _flush(db, mixer, force=True)
    with db.write.begin() as session:
        w = _facilitator_workshop(session, secret_key, normalized, grant)
        check_transition(w_position(w), StagePosition(Stage.REVEALED), len(w.questions))
        assert w.secrets is not None
        blobs = [bytes(b) for b in session.scalars(select(_B.sealed).where(_B.workshop_id == w.id))]
        opened = open_ballots(
            keypair,
            blobs,
            ballot_aad(w.id, w.code),
            [m.key for m in w.methods],
            [r.key for r in w.roles],
            w.ballot_size,
        )
        opened, merged = _merge_small_roles(opened, w)
        opened = _shuffled(opened)
        if opened:
            session.execute(
                insert(OPENED_BALLOTS),
                [
                    {
                        "id": random_id(),
                        "workshop_id": w.id,
                        "ranking": "\n".join(ranking),
                        "role": role,
                    }
                    for ranking, role in opened
                ],
            )
        session.execute(update(SEALED_BALLOTS).where(_B.workshop_id == w.id).values(sealed=b""))
        # Never written by this version (see `_LIVE_KEYS`); cleared for older databases.
        w.secrets.box_private_key_live = None
        w.stage = Stage.REVEALED.value
        w.stage_changed_at = minute_now()
        publish_final(
            session,
            w.id,
            [m.key for m in w.methods],
            w.ballot_size,
            [ranking for ranking, _ in opened],
            roles_merged=merged,
        )
        session.flush()
        view = view_of(w)
    _forget_live_key(db, wid)
    scrub_storage(db, ("sealed_ballots", "workshop_secrets", "result_publications"))
    return view


def _merge_small_roles(
    opened: Sequence[tuple[tuple[str, ...], str | None]], w: Workshop
) -> tuple[list[tuple[tuple[str, ...], str | None]], tuple[str, ...]]:
    """Each ballot's role as the screens show it: a role the breakdown does not show on its
    own (too few ballots, or merged against differencing) becomes no role ("other"). Also
    the names of the roles merged against differencing, so screens can still say why."""
    if not opened:
        return list(opened), ()
    plan = choose_groups(Counter(role or None for _, role in opened), k=w.anonymity_k)
    merged = [(ranking, plan.group_of(role)) for ranking, role in opened]
    return merged, plan.merged_against_subtraction


__all__ = [
    "CARD_LIMITER",
    "MAX_CARDS_PER_CALL",
    "PAYLOAD_LENGTH",
    "SEALED_LENGTH",
    "TICKET_TTL_SECONDS",
    "AlreadyRevealed",
    "BallotNotStored",
    "BallotState",
    "BallotStatus",
    "BallotStillWaiting",
    "CardAlreadySpent",
    "CardCounts",
    "CardNotFound",
    "CardRequired",
    "CardsNotUsed",
    "CorruptBallot",
    "DuplicateMethod",
    "EmptyBallot",
    "InvalidCardCount",
    "NotLiveResults",
    "NotRevealed",
    "Ticket",
    "TooManyChoices",
    "UnknownMethod",
    "UnknownRole",
    "UnknownTicket",
    "VotingClosed",
    "VotingNotOpen",
    "ballot_status",
    "card_counts",
    "cast_ballot",
    "close_voting",
    "decode_payload",
    "encode_payload",
    "is_live_unlocked",
    "issue_cards",
    "live_keypair",
    "reveal",
    "submit_ballot",
    "unlock_live_results",
    "void_unused_cards",
    "wait_for_ballot",
]
