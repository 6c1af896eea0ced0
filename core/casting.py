"""Casting a ballot: check it, seal it in memory, queue it for its batch (`core.batches`),
and tell the phone when it is stored.

A ticket lives in this process's memory only and keeps no link to the caller. This module
must never store or return anything that links a card to a ballot, never write a time, a
session, a client key or an IP address, and never hold a ranking in the clear once sealed.

Open mode (`is_open_mode`): the card is ignored and nothing here can stop one person casting
many ballots; the page keeps to one ballot per browser session, which a person with two
browsers or a cleared session gets around. Use cards when that matters.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from core.ballot_box import Box, raise_unless_voting, read_box
from core.ballot_values import (
    CardAlreadySpent,
    CardNotFound,
    CardRequired,
    UnknownRole,
    check_ranking,
    encode_payload,
    join_code,
)
from core.batches import (
    Mixer,
    Pending,
    call_when_done,
    ensure_watcher,
    flush,
    mixer_for,
    queue_gap,
    read_stage_and_cards,
    waiting_for,
)
from core.cards import CARD_LIMITER, card_digest
from core.crypto import human_codes, sealed_box
from core.db import Database
from core.domain import Stage, WorkshopCode
from core.errors import BeiduiError
from core.models import random_id
from core.workshops import WorkshopNotFound


class BallotState(StrEnum):
    """Where a submitted ballot is (the values are what the ballot route answers)."""

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


class BallotStillWaiting(BeiduiError, key="ballot.errors.still_waiting"):
    """`receipt_when_stored` stopped waiting; the ballot stays queued (params: waiting_for)."""


class UnknownTicket(BeiduiError, key="ballot.errors.unknown_ticket"):
    """No ballot with this ticket here: it expired, or this server restarted before the
    batch was written (then the card is unused and can be cast again)."""


# A ticket answers `ballot_status` for this long after its batch was written or refused.
TICKET_TTL_SECONDS: Final = 30 * 60

_TICKETS: dict[str, Pending] = {}
_TICKETS_GUARD = threading.Lock()


# Only workshops that have reached voting are cached: from then on stages only move forward
# and a workshop's ballot (methods, roles, K, keys, mode) can no longer change. The stage
# itself is never cached: `submit_ballot` reads it, and each batch checks it again.
_BOXES: weakref.WeakKeyDictionary[Database, dict[str, Box]] = weakref.WeakKeyDictionary()


def _box_for_casting(db: Database, code: WorkshopCode) -> Box:
    cached = _BOXES.get(db, {}).get(code)
    if cached is not None:
        return cached
    box, stage = read_box(db, code)
    raise_unless_voting(stage)
    _BOXES.setdefault(db, {})[code] = box
    return box


def _check_role(box: Box, role: str | None) -> str | None:
    if role is None:
        return None
    if not isinstance(role, str) or role not in box.role_keys:
        raise UnknownRole("not a role of this workshop")
    return role


def _client(client_key: str) -> str:
    # The limiter HMACs what it gets; a megabyte-long "session id" is cut to a digest first.
    key = client_key if isinstance(client_key, str) else ""
    return key if len(key) <= 256 else hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


_LAST_PRUNE: list[float] = [0.0]


def _expired(pending: Pending, now: float) -> bool:
    """Written or refused more than `TICKET_TTL_SECONDS` ago (a waiting ballot never expires)."""
    return pending.done_at is not None and now - pending.done_at > TICKET_TTL_SECONDS


def _register(pending: Pending) -> str:
    now = time.monotonic()
    ticket_id = secrets.token_urlsafe(18)
    with _TICKETS_GUARD:
        if now - _LAST_PRUNE[0] > 10:  # a full scan at most every 10 s, not per ballot
            _LAST_PRUNE[0] = now
            expired = [t for t, p in _TICKETS.items() if _expired(p, now)]
            for t in expired:
                del _TICKETS[t]
        _TICKETS[ticket_id] = pending
    return ticket_id


@dataclass(frozen=True)
class BallotRequest:
    """One phone's cast as `submit_ballots` takes it (nothing of it is kept but the sealed
    ballot; `client_key` only feeds the in-memory attempt limiter)."""

    card_code: str | None
    ranking: Sequence[str]
    role: str | None
    client_key: str = ""


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

    Raises at once: the workshop is voting (`VotingNotOpen` / `VotingClosed`); the ranking
    is 1..K distinct methods of this workshop (`EmptyBallot`, `TooManyChoices`,
    `UnknownMethod`, `DuplicateMethod`); the role is None or one of its roles
    (`UnknownRole`); then, unless in open mode, the card: missing
    (`CardRequired`), malformed (crypto's `MalformedCardCode`, never counted as an attempt),
    unknown / another workshop's / void (`CardNotFound`), spent or already queued in this
    server (`CardAlreadySpent`). Unknown and spent count as failed attempts for `client_key`
    (the page's session id; never stored); too many make it wait (`TooManyAttempts`).

    Nothing is written here. When k ballots of this workshop are queued, every queued
    ballot is written in one transaction (guarded card updates, rows in random order) by the
    caller of that k-th submit. Ask `ballot_status` with the ticket (or wait:
    `receipt_when_stored`); it keeps no link to the caller, never stored (open mode: above).
    """
    request = BallotRequest(card_code, ranking, role, client_key)
    (result,) = submit_ballots(db, secret_key, code, [request])
    if isinstance(result, BeiduiError):
        raise result
    return result


def submit_ballots(
    db: Database, secret_key: bytes, code: WorkshopCode, requests: Sequence[BallotRequest]
) -> list[Ticket | BeiduiError]:
    """`submit_ballot` for a group of casts to one workshop, in their order: each gets its
    ticket or its own error, from the same checks in the same order. Only a workshop that is
    unknown or has never opened voting raises, for the whole group.

    A group costs one stage read and one read of its cards instead of one of each per
    ballot: the ballot route hands over the casts that arrived together (web.ballot_api).
    """
    box = _box_for_casting(db, join_code(code))
    mixer = mixer_for(db, box)
    checked: list[_Checked | BeiduiError] = []
    try:
        for request in requests:
            checked.append(_check_request(secret_key, box, mixer, request))
    except BaseException:  # not a named error: free the cards reserved so far
        _release(mixer, [c.digest for c in checked if isinstance(c, _Checked)])
        raise
    passed = [c for c in checked if isinstance(c, _Checked)]
    if not passed:
        return [c for c in checked if isinstance(c, BeiduiError)]  # all of them are errors
    reserved = [c.digest for c in passed if c.digest is not None]
    try:
        stage, cards = read_stage_and_cards(db, box, reserved)
        if stage is None:
            raise WorkshopNotFound(f"no workshop {box.code!r}", code=box.code)
        raise_unless_voting(Stage(stage))
        failed: set[str] = set()  # clients with a failed attempt in this group
        outcomes = {id(c): _sealed_unless_refused(box, c, cards, failed) for c in passed}
    except BeiduiError as err:  # the stage: every checked request gets this error
        _release(mixer, reserved)
        outcomes = {id(c): _Refused(err, None) for c in passed}
    except BaseException:
        _release(mixer, reserved)
        raise
    _release(mixer, [o.digest for o in outcomes.values() if isinstance(o, _Refused)])
    pendings = [o for o in outcomes.values() if isinstance(o, Pending)]
    if pendings:
        with mixer.lock:
            mixer.queue.extend(pendings)
            queued = len(mixer.queue)
        tickets = {id(p): _register(p) for p in pendings}
        if queued >= mixer.k:
            flush(db, mixer, force=False)
        else:
            ensure_watcher()
    results: list[Ticket | BeiduiError] = []
    for c in checked:
        outcome = outcomes.get(id(c)) if isinstance(c, _Checked) else c
        if isinstance(outcome, Pending):
            results.append(Ticket(tickets[id(outcome)], waiting_for(db, outcome)))
        elif isinstance(outcome, _Refused):
            results.append(outcome.error)
        else:
            assert isinstance(outcome, BeiduiError)
            results.append(outcome)
    return results


@dataclass(frozen=True)
class _Checked:
    """A request that passed the checks made without the database; its card is reserved."""

    ranked: tuple[str, ...]
    role: str | None
    digest: bytes | None
    client: str


@dataclass(frozen=True)
class _Refused:
    """A request refused after its card was read; the reservation is released."""

    error: BeiduiError
    digest: bytes | None


def _check_request(
    secret_key: bytes, box: Box, mixer: Mixer, request: BallotRequest
) -> _Checked | BeiduiError:
    try:
        ranked = check_ranking(request.ranking, box.method_keys, box.ballot_size)
        declared = _check_role(box, request.role)
        if box.is_open_mode:
            return _Checked(ranked, declared, None, "")
        card_code = request.card_code
        if card_code is None or (isinstance(card_code, str) and not card_code.strip()):
            raise CardRequired("no card code")
        digest = card_digest(secret_key, box, card_code)
        client = _client(request.client_key)
        CARD_LIMITER.check(box.code, client)
    except BeiduiError as err:
        return err
    # Reserve the card BEFORE reading it: a reservation is released only after its batch
    # committed, so a second cast of the card either finds it reserved or reads it spent.
    with mixer.lock:
        if digest in mixer.reserved:
            return CardAlreadySpent("card already waiting in a batch")
        mixer.reserved.add(digest)
    return _Checked(ranked, declared, digest, client)


def _sealed_unless_refused(
    box: Box, checked: _Checked, cards: dict[bytes, tuple[bool, bool]], failed: set[str]
) -> Pending | _Refused:
    """The sealed ballot, or its card's error. `failed` holds the clients whose attempts
    already failed in this group: their limit is asked again, so a group of guesses is
    stopped at the same count as the same guesses sent one after another."""
    if checked.digest is not None:
        try:
            if checked.client in failed:
                CARD_LIMITER.check(box.code, checked.client)
            card = cards.get(checked.digest)
            if card is None or card[1]:
                raise CardNotFound("no usable card with this code")
            if card[0]:
                raise CardAlreadySpent("card already used")
        except (CardNotFound, CardAlreadySpent) as err:
            CARD_LIMITER.record_failure(box.code, checked.client)
            failed.add(checked.client)
            return _Refused(err, checked.digest)
        except BeiduiError as err:  # too many attempts
            return _Refused(err, checked.digest)
    # Sealed now, in memory: the queue never holds a ranking in the clear.
    sealed = sealed_box.seal(box.public_key, encode_payload(checked.ranked, checked.role), box.aad)
    row = {
        "id": random_id(),
        "workshop_id": box.workshop_id,
        "sealed": sealed,
        "receipt": human_codes.receipt_for(sealed),
    }
    return Pending(box, checked.digest, checked.client, row)


def _release(mixer: Mixer, digests: Sequence[bytes | None]) -> None:
    with mixer.lock:
        for digest in digests:
            if digest is not None:
                mixer.reserved.discard(digest)


def _pending_for(ticket_id: str, workshop: WorkshopCode | None = None) -> Pending:
    """The ticket's ballot; a ticket asked for under another workshop's code is unknown
    (a page token is for one workshop: it must not learn another workshop's ballots)."""
    with _TICKETS_GUARD:
        pending = _TICKETS.get(ticket_id) if isinstance(ticket_id, str) else None
        if pending is not None and _expired(pending, time.monotonic()):
            del _TICKETS[ticket_id]  # exact to the second, whether or not a cast pruned yet
            pending = None
    if pending is None or (workshop is not None and pending.box.code != workshop):
        raise UnknownTicket("no such ticket here")
    return pending


def _status_of(pending: Pending, waiting_for: int) -> BallotStatus:
    if not pending.done.is_set():
        return BallotStatus(BallotState.WAITING, waiting_for)
    if pending.error is not None:
        return BallotStatus(BallotState.REFUSED, 0, error=pending.error)
    return BallotStatus(BallotState.STORED, 0, receipt=str(pending.row["receipt"]))


def ballot_status(ticket_id: str, *, workshop: WorkshopCode | None = None) -> BallotStatus:
    """The state of a submitted ballot (memory only: no database read). `UnknownTicket` once
    it expired (`TICKET_TTL_SECONDS` after it was written or refused), after a restart, or when
    `workshop` is given and the ticket is not that workshop's."""
    pending = _pending_for(ticket_id, workshop)
    # Written or refused: no queue to look through (a burst asks this twice per ballot).
    return _status_of(pending, 0 if pending.done.is_set() else queue_gap(pending))


def notify_when_done(
    ticket_id: str, callback: Callable[[], None], *, workshop: WorkshopCode | None = None
) -> bool:
    """Call `callback()` (from the writing thread, once) when the ballot is written or
    refused. False, and no call, if that has already happened: read `ballot_status` then.
    Lets an event loop await a receipt without a thread or a polling timer per phone."""
    return call_when_done(_pending_for(ticket_id, workshop), callback)


def wait_for_ballot(ticket_id: str, timeout: float | None = None) -> BallotStatus:
    """`ballot_status` once the ballot is stored or refused, or when `timeout` ends."""
    pending = _pending_for(ticket_id)
    pending.done.wait(timeout)
    return ballot_status(ticket_id)


def receipt_when_stored(ticket: Ticket, timeout: float | None = None) -> str:
    """Wait until the ticket's batch is written and return its receipt: what a phone that
    casts and waits sees (`receipt_when_stored(submit_ballot(...))`).

    Raises the error a refused ballot got (e.g. `CardAlreadySpent` when another server
    spent the card first), or `BallotStillWaiting` after `timeout` seconds (the ballot stays
    queued). With fewer than k ballots queued it waits for more ballots, or for voting to
    close.
    """
    status = wait_for_ballot(ticket.id, timeout)
    if status.state is BallotState.STORED:
        assert status.receipt is not None
        return status.receipt
    if status.state is BallotState.REFUSED:
        assert status.error is not None
        raise status.error
    raise BallotStillWaiting("batch not complete", waiting_for=status.waiting_for)
