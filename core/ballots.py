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
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import crypto
from core.db import Database
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
_MAX_PASSPHRASE_TEXT: Final = 4 * crypto.MAX_PASSPHRASE_LENGTH
_MAX_KEY_LENGTH: Final = 64  # core.templates.KEY_PATTERN: method and role keys

PAYLOAD_VERSION: Final = 1
# Every plaintext is padded to this many bytes before sealing, so a ciphertext's length says
# nothing about how many methods were ranked, which ones, or whether a role was declared.
# The worst case (K = 10 keys of 64 characters and a 64-character role) is 766 bytes.
PAYLOAD_LENGTH: Final = 800
SEALED_LENGTH: Final = PAYLOAD_LENGTH + crypto.SEAL_OVERHEAD

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
    aad: bytes


# Only workshops that have reached voting are cached: from then on stages only move forward
# and a workshop's ballot (methods, roles, K, keys, mode) can no longer change. The stage
# itself is never cached: `cast_ballot` checks it inside its transaction.
_BOXES: weakref.WeakKeyDictionary[Database, dict[str, _Box]] = weakref.WeakKeyDictionary()

# SQLite admits one writer at a time and every commit waits for an fsync, so on SQLite the
# casts of one process are committed in groups: each cast queues its request; whoever holds
# the process's writer turn takes every queued request and writes them in ONE transaction,
# each with its own guarded card update, then wakes their callers. A waiter whose request a
# previous turn already wrote just returns. (Threads waiting in SQLite's own busy handler
# would sleep 1, 2, 5, 10 ... ms however soon the lock freed: slower than one thread.)


@dataclass
class _CastRequest:
    box: _Box
    digest: bytes | None
    row: dict[str, Any]
    card_failed: bool = False
    error: BaseException | None = None
    is_done: bool = False


@dataclass
class _GroupCommit:
    turn: threading.Lock = field(default_factory=threading.Lock)
    queue_lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[_CastRequest] = field(default_factory=list)


_GROUP_COMMITS: weakref.WeakKeyDictionary[Database, _GroupCommit] = weakref.WeakKeyDictionary()
_GROUP_COMMITS_GUARD = threading.Lock()


def _group_commit(db: Database) -> _GroupCommit:
    group = _GROUP_COMMITS.get(db)
    if group is None:
        with _GROUP_COMMITS_GUARD:
            group = _GROUP_COMMITS.setdefault(db, _GroupCommit())
    return group


_W = WORKSHOPS.c
_S = WORKSHOP_SECRETS.c
_C = CARDS.c
_B = SEALED_BALLOTS.c
_O = OPENED_BALLOTS.c


def join_code(text: str) -> WorkshopCode:
    """The canonical join code for typed text, refusing huge input before folding it."""
    if not isinstance(text, str) or len(text) > _MAX_CODE_TEXT:
        raise crypto.MalformedJoinCode(expected=crypto.JOIN_CODE_LENGTH)
    return crypto.normalize_join_code(text)


def _read_box(db: Database, code: WorkshopCode) -> tuple[_Box, Stage]:
    with db.read.begin() as session:
        row = session.execute(
            select(
                _W.id,
                _W.code,
                _W.stage,
                _W.ballot_size,
                _W.is_open_mode,
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
            codes.add(crypto.new_card_code())
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
                digests = sorted(crypto.card_digest(secret_key, salt, c) for c in codes)
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
        raise crypto.CardCodeWrongLength(expected=crypto.CARD_CODE_LENGTH)
    return crypto.card_digest(secret_key, box.card_salt, card_code)


def _stage_in_transaction(conn: Connection, box: _Box) -> None:
    stage = conn.execute(_STAGE_FOR_CAST, {"wid": box.workshop_id}).scalar_one_or_none()
    if stage is None:
        raise WorkshopNotFound(f"no workshop {box.code!r}", code=box.code)
    _raise_unless_voting(Stage(stage))


def _store_ballot(db: Database, box: _Box, digest: bytes | None, row: dict[str, Any]) -> bool:
    """Spend the card and insert the ballot in one transaction; True if the card failed."""
    with db.engine.begin() as conn:
        _stage_in_transaction(conn, box)
        if digest is not None:
            spent = conn.execute(_SPEND_CARD, {"b_digest": digest, "b_wid": box.workshop_id})
            if spent.rowcount != 1:
                return True  # nothing was written: the empty transaction just ends
        conn.execute(_INSERT_SEALED, row)
    return False


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
            spend=_Prepared.of(db, _SPEND_CARD),
            insert=_Prepared.of(db, _INSERT_SEALED),
        )
    return _SQLITE_PREPARED


def _store_ballot_sqlite(
    db: Database, box: _Box, digest: bytes | None, row: dict[str, Any]
) -> bool:
    """`_store_ballot` for SQLite, committed in groups (see `_GroupCommit`)."""
    request = _CastRequest(box, digest, row)
    group = _group_commit(db)
    with group.queue_lock:
        group.queue.append(request)
    with group.turn:
        if not request.is_done:
            with group.queue_lock:
                batch, group.queue = group.queue, []
            _write_batch_sqlite(db, batch)
    if request.error is not None:
        raise request.error
    return request.card_failed


def _write_batch_sqlite(db: Database, batch: list[_CastRequest]) -> None:
    """Write queued casts in one transaction: the same Core statements, compiled once and run
    on the pooled driver connection, because SQLAlchemy's per-statement work cost as much as
    the writing itself (benchmarks/cast.py). Per request: stage check result, guarded card
    update, insert. A spent card fails only its own request; a database error fails all.
    """
    sql = _sqlite_statements(db)
    try:
        pooled = db.engine.raw_connection()
        try:
            conn: Any = pooled.driver_connection  # autocommit mode (core/db.py): BEGIN is ours
            conn.execute("BEGIN IMMEDIATE")
            try:
                stages: dict[int, Stage | None] = {}
                for request in batch:
                    wid = request.box.workshop_id
                    if wid not in stages:
                        found = conn.execute(
                            sql["stage"].sql, sql["stage"].args({"wid": wid})
                        ).fetchone()
                        stages[wid] = None if found is None else Stage(found[0])
                    stage = stages[wid]
                    try:
                        if stage is None:
                            raise WorkshopNotFound(
                                f"no workshop {request.box.code!r}", code=request.box.code
                            )
                        _raise_unless_voting(stage)
                    except BeiduiError as exc:
                        request.error = exc
                        continue
                    if request.digest is not None:
                        spent = conn.execute(
                            sql["spend"].sql,
                            sql["spend"].args({"b_digest": request.digest, "b_wid": wid}),
                        )
                        if spent.rowcount != 1:
                            request.card_failed = True
                            continue
                    conn.execute(sql["insert"].sql, sql["insert"].args(request.row))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            pooled.close()
    except BaseException as exc:
        for request in batch:
            request.error = exc
    finally:
        for request in batch:
            request.is_done = True


def cast_ballot(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    card_code: str | None,
    ranking: Sequence[str],
    role: str | None,
    *,
    client_key: str = "",
) -> str:
    """Seal one ranked ballot into the workshop's box and return its receipt.

    Checks, in order: the workshop is voting (`VotingNotOpen` / `VotingClosed`); the ranking
    is 1..K distinct methods of this workshop (`EmptyBallot`, `TooManyChoices`,
    `UnknownMethod`, `DuplicateMethod`); the role is None or one of its roles
    (`UnknownRole`); then, unless the workshop is in open mode, the card: missing
    (`CardRequired`), malformed (crypto's `MalformedCardCode`, decided locally and never
    counted as an attempt), unknown / another workshop's / void (`CardNotFound`) or spent
    (`CardAlreadySpent`). Those last two count as failed attempts for `client_key` (the
    page's session id; never stored) and too many make it wait (`TooManyAttempts`).

    The card is spent and the sealed ballot inserted in ONE transaction, with a guarded
    update so that of many racers exactly one spends a card. The stored row holds a random
    id, the ciphertext and the receipt: nothing about the card, the caller or the time.

    Open mode (`is_open_mode`): `card_code` is ignored and nothing here can stop one person
    casting many ballots; the page keeps to one ballot per browser session, which a person
    with two browsers or a cleared session gets around. Use cards when that matters.
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

    # Crypto before the transaction: the write lock is held only for three short statements.
    sealed = crypto.seal(box.public_key, encode_payload(ranked, declared), box.aad)
    receipt = crypto.receipt_for(sealed)
    row = {"id": random_id(), "workshop_id": box.workshop_id, "sealed": sealed, "receipt": receipt}

    if db.is_sqlite:
        card_failed = _store_ballot_sqlite(db, box, digest, row)
    else:
        card_failed = _store_ballot(db, box, digest, row)
    if card_failed:
        assert digest is not None
        _raise_card_failure(db, box, digest, client)
    return receipt


def _raise_card_failure(db: Database, box: _Box, digest: bytes, client: str) -> None:
    # Only now, after the guarded update failed, is it worth telling spent from unknown.
    CARD_LIMITER.record_failure(box.code, client)
    with db.read.begin() as session:
        state = session.execute(
            _CARD_STATE, {"b_digest": digest, "b_wid": box.workshop_id}
        ).one_or_none()
    if state is not None and state.is_spent:
        raise CardAlreadySpent("card already used")
    raise CardNotFound("no usable card with this code")


# --------------------------------------------------------------------------------------------
# Closing and the mix
# --------------------------------------------------------------------------------------------


def _shuffled(rows: Sequence[Any]) -> list[Any]:
    # Sorting by fresh 128-bit random keys (never reused, never stored) is a uniform shuffle
    # drawn from the OS generator.
    keyed = [(secrets.token_bytes(16), i) for i in range(len(rows))]
    keyed.sort()
    return [rows[i] for _, i in keyed]


def mix_box(conn: Connection | Session, workshop_id: int) -> list[tuple[bytes, str]]:
    """Rewrite a workshop's sealed ballots in a fresh random order with fresh random ids.

    Returns (sealed, receipt) of every ballot, in the new order. `DELETE ... RETURNING`
    makes the rows rewritten exactly the rows deleted, even if a cast commits meanwhile.
    On PostgreSQL the new rows share one transaction id (xmin) and sit in the heap in the
    shuffled order, so neither `ctid` nor `xmin` recalls the casting order; the old tuples
    are dead until VACUUM (see `_scrub_after_mix`). On SQLite the table has no rowid and
    `secure_delete` zeroes freed cells.
    """
    deleted = conn.execute(
        delete(SEALED_BALLOTS).where(_B.workshop_id == workshop_id).returning(_B.sealed, _B.receipt)
    ).all()
    rows = _shuffled([(bytes(r.sealed), str(r.receipt)) for r in deleted])
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
    # On PostgreSQL each spent card row carries the xmin of the transaction that spent it,
    # which was also the xmin of that ballot until the mix. Touching every card of the
    # workshop in one transaction gives them all the same xmin.
    conn.execute(update(CARDS).where(_C.workshop_id == workshop_id).values(is_spent=_C.is_spent))


def scrub_storage(db: Database, tables: Sequence[str]) -> None:
    """Best effort after a rewrite: VACUUM (PostgreSQL) or checkpoint the WAL (SQLite).

    Never raises: a missing privilege must not undo a close or a reveal that already
    committed. What can remain is listed in docs/threat-model.md.
    """
    try:
        if db.is_sqlite:
            raw = db.engine.raw_connection()
            try:
                # The driver connection is in autocommit mode (isolation_level None, see
                # core/db.py), so the checkpoint runs outside any transaction.
                raw.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                ).fetchall()
            finally:
                raw.close()
        else:
            with db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in tables:
                    conn.exec_driver_sql(f"VACUUM {table}")
    except Exception:  # best effort by design (see docstring)
        return


def close_voting(db: Database, secret_key: bytes, code: WorkshopCode, grant: str) -> WorkshopView:
    """VOTING → CLOSED and, in the same transaction, mix the box (see `mix_box`).

    Afterwards the old row versions are scrubbed where the database allows it.
    """
    with db.write.begin() as session:
        w = _facilitator_workshop(session, secret_key, code, grant)
        check_transition(w_position(w), StagePosition(Stage.CLOSED), len(w.questions))
        # The stage UPDATE comes first: on PostgreSQL it waits for casts holding FOR SHARE
        # and makes later casts see CLOSED, so the mix below sees every ballot.
        w.stage = Stage.CLOSED.value
        w.stage_changed_at = minute_now()
        session.flush()
        mix_box(session, w.id)
        _forget_spend_times(session, w.id)
        view = view_of(w)
    scrub_storage(db, ("sealed_ballots", "cards"))
    return view


def w_position(w: Workshop) -> StagePosition:
    return StagePosition(Stage(w.stage), w.current_question)


# --------------------------------------------------------------------------------------------
# Live results: unlocking the box key for counting while voting goes on
# --------------------------------------------------------------------------------------------


def _unwrap_box_key(wrapped: bytes, passphrase: str) -> crypto.BoxKeypair:
    if not isinstance(passphrase, str) or len(passphrase) > _MAX_PASSPHRASE_TEXT:
        raise crypto.WrongPassphrase()
    return crypto.BoxKeypair(crypto.unwrap_private_key(wrapped, passphrase))


def unlock_live_results(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, passphrase: str
) -> None:
    """Let the server count a live-results workshop's ballots before the reveal.

    The box key is unwrapped with the passphrase and stored again wrapped under the
    instance secret (`box_private_key_live`), so every server process can count. From then
    on anyone holding both the database and the instance secret can open every ballot: the
    page must say so before calling this. `WrongPassphrase` changes nothing.
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
    keypair = _unwrap_box_key(wrapped, passphrase)  # scrypt: outside any write lock
    with db.write.begin() as session:
        w = _facilitator_workshop(session, secret_key, normalized, grant)
        if Stage(w.stage) == Stage.REVEALED:
            raise AlreadyRevealed("already revealed")
        assert w.secrets is not None
        w.secrets.box_private_key_live = crypto.wrap_with_key(
            secret_key, keypair.private_bytes(), live_key_aad(w.id, w.code)
        )


# --------------------------------------------------------------------------------------------
# Reveal
# --------------------------------------------------------------------------------------------


def open_ballots(
    keypair: crypto.BoxKeypair,
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
        ranking, role = decode_payload(crypto.open_sealed(keypair, blob, aad))
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
    """
    from core.results import publish_final  # results builds on this module

    normalized = join_code(code)
    with db.read.begin() as session:
        w = _facilitator_workshop(session, secret_key, normalized, grant)
        check_transition(w_position(w), StagePosition(Stage.REVEALED), len(w.questions))
        assert w.secrets is not None
        wrapped = bytes(w.secrets.box_private_key_wrapped)
    keypair = _unwrap_box_key(wrapped, passphrase)
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
        w.secrets.box_private_key_live = None
        w.stage = Stage.REVEALED.value
        w.stage_changed_at = minute_now()
        publish_final(
            session,
            w.id,
            [m.key for m in w.methods],
            w.ballot_size,
            [ranking for ranking, _ in opened],
        )
        session.flush()
        view = view_of(w)
    scrub_storage(db, ("sealed_ballots", "workshop_secrets", "result_publications"))
    return view


__all__ = [
    "CARD_LIMITER",
    "MAX_CARDS_PER_CALL",
    "PAYLOAD_LENGTH",
    "SEALED_LENGTH",
    "AlreadyRevealed",
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
    "TooManyChoices",
    "UnknownMethod",
    "UnknownRole",
    "VotingClosed",
    "VotingNotOpen",
    "card_counts",
    "cast_ballot",
    "close_voting",
    "decode_payload",
    "encode_payload",
    "issue_cards",
    "reveal",
    "unlock_live_results",
    "void_unused_cards",
]
