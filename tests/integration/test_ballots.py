"""The ballot box on every backend: cards, casting, refusals, races, closing and revealing.

Helpers here (`Room`, `open_room`, `distinct_rankings`, `row_counts`) are also used by
test_adversary.py and test_ballots_live.py.
"""

from __future__ import annotations

import json
import random
import threading
import tomllib
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from itertools import permutations
from pathlib import Path

import pytest
from sqlalchemy import text

from core import results
from core.backup.archive import DOCUMENT_NAME
from core.backup.dump import export_archive
from core.ballot_values import (
    CardAlreadySpent,
    CardNotFound,
    CardRequired,
    CardsNotUsed,
    DuplicateMethod,
    EmptyBallot,
    InvalidCardCount,
    NotRevealed,
    TooManyChoices,
    UnknownMethod,
    UnknownRole,
    VotingClosed,
)
from core.cards import CARD_LIMITER, CardCounts, card_counts, issue_cards, void_unused_cards
from core.casting import (
    BallotState,
    Ticket,
    UnknownTicket,
    ballot_status,
    notify_when_done,
    receipt_when_stored,
    submit_ballot,
    wait_for_ballot,
)
from core.closing import close_voting
from core.console import move_to
from core.console_access import Console, open_console, unlock_console
from core.crypto import human_codes, passphrases, sealed_box
from core.db import Database
from core.domain import Stage, StagePosition, StageTransitionRefused, VotingNotOpen
from core.errors import BeiduiError
from core.instance import Admin, Instance
from core.models import Base
from core.ratelimit import TooManyAttempts
from core.reveal import reveal
from core.tally.methods.points import points
from core.templates import available_templates
from core.workshops import NotAuthorized, create_workshop
from tests.casting import receipts_of
from tests.conftest import DbFactory

PASS = "correct horse battery"
LOCALES = Path(__file__).resolve().parents[2] / "data" / "locales"


@dataclass
class Room:
    db: Database
    key: bytes
    code: str
    grant: str
    methods: tuple[str, ...]
    roles: tuple[str, ...]
    ballot_size: int

    @property
    def console(self) -> Console:
        """The room's unlocked console (rebuilt from the token, as a page does)."""
        return open_console(self.db, self.key, self.code, self.grant)


def open_room(
    instance: Instance,
    *,
    is_open_mode: bool = False,
    is_live_results: bool = False,
    anonymity_k: int = 5,
    to_voting: bool = True,
) -> Room:
    tpl = available_templates()["default"]
    db, key = instance.db, instance.secret_key
    code = create_workshop(
        Admin.trusted(db),
        tpl,
        "评估工作坊",
        PASS,
        anonymity_k=anonymity_k,
        is_open_mode=is_open_mode,
        is_live_results=is_live_results,
    )
    unlocked = unlock_console(db, key, code, PASS)
    if to_voting:
        move_to(unlocked, StagePosition(Stage.VOTING))
    return Room(
        db,
        key,
        code,
        unlocked.token,
        tuple(m.key for m in tpl.methods),
        tuple(r.key for r in tpl.roles),
        tpl.ballot_size,
    )


def distinct_rankings(room: Room, n: int, seed: int = 7) -> list[tuple[str, ...]]:
    """n different rankings of mixed lengths (1..K), so every ballot can be told apart."""
    rng = random.Random(seed)
    pool = [p for size in range(1, room.ballot_size + 1) for p in permutations(room.methods, size)]
    return rng.sample(pool, n)


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            t.name: int(conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one())
            for t in Base.metadata.sorted_tables
        }


def _locale_text(lang: str, key: str) -> str | None:
    area, *path = key.split(".")
    file = LOCALES / lang / f"{area}.toml"
    node: object = tomllib.loads(file.read_text(encoding="utf-8")).get(area, {})
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):  # a plural text: its general form (core/i18n.py)
        node = node.get("other")
    return node if isinstance(node, str) else None


def assert_has_texts(err: BeiduiError) -> None:
    for lang in ("zh", "en"):
        message = _locale_text(lang, err.key)
        assert message, f"{err.key} has no {lang} text"
        message.format(**err.params)  # every placeholder has a value


# --- cards ---------------------------------------------------------------------------------


def test_card_codes_are_returned_once_and_only_their_digests_are_stored(instance: Instance) -> None:
    room = open_room(instance, to_voting=False)
    codes = issue_cards(room.console, 30)
    assert len(set(codes)) == 30
    assert all(human_codes.normalize_card_code(c) == c for c in codes)
    with room.db.engine.connect() as conn:
        stored = [bytes(r[0]) for r in conn.exec_driver_sql("SELECT digest FROM cards")]
    assert len(stored) == 30
    dumped = b"".join(stored)
    for c in codes:
        assert c.encode() not in dumped and c.replace("-", "").encode() not in dumped
    assert card_counts(room.db, room.code) == CardCounts(issued=30, spent=0, void=0)


def test_card_counts_follow_spending_and_voiding(instance: Instance) -> None:
    room = open_room(instance)
    codes = issue_cards(room.console, 8)
    tickets = [
        submit_ballot(room.db, room.key, room.code, c, room.methods[:2], None) for c in codes[:5]
    ]
    receipts_of(tickets)  # the fifth ballot completed the batch of k = 5
    assert void_unused_cards(room.console) == 3
    assert card_counts(room.db, room.code) == CardCounts(issued=8, spent=5, void=3)
    assert card_counts(room.db, room.code).unused == 0
    with pytest.raises(CardNotFound):
        submit_ballot(room.db, room.key, room.code, codes[7], room.methods[:1], None)


@pytest.mark.parametrize("count", [0, -1, 501, True])
def test_cards_are_issued_one_to_five_hundred_at_a_time(instance: Instance, count: int) -> None:
    room = open_room(instance, to_voting=False)
    with pytest.raises(InvalidCardCount) as info:
        issue_cards(room.console, count)
    assert_has_texts(info.value)
    assert row_counts(room.db)["cards"] == 0


def test_cards_need_the_console_grant_and_end_when_voting_ends(instance: Instance) -> None:
    room = open_room(instance)
    with pytest.raises(NotAuthorized):
        issue_cards(open_console(room.db, room.key, room.code, "forged"), 5)
    issue_cards(room.console, 5)  # during voting: allowed
    close_voting(room.console)
    with pytest.raises(VotingClosed):
        issue_cards(room.console, 5)
    assert row_counts(room.db)["cards"] == 5


def test_an_open_mode_workshop_has_no_cards_and_casts_without_one(instance: Instance) -> None:
    room = open_room(instance, is_open_mode=True)
    with pytest.raises(CardsNotUsed) as info:
        issue_cards(room.console, 5)
    assert_has_texts(info.value)
    ticket = submit_ballot(room.db, room.key, room.code, None, room.methods[:3], room.roles[0])
    assert ticket.waiting_for == 4
    assert results.ballot_count(room.db, room.code) == 0  # queued in memory, not written
    close_voting(room.console)  # the remainder joins the mix
    (receipt,) = receipts_of([ticket])
    assert results.verify_receipt(room.db, room.code, receipt)
    assert results.ballot_count(room.db, room.code) == 1


# --- casting -------------------------------------------------------------------------------


def test_a_ballot_cast_with_a_card_spends_it_and_returns_a_receipt(instance: Instance) -> None:
    room = open_room(instance)
    card, *others = issue_cards(room.console, 5)
    # Typed on a phone: lower case, spaces, full-width digits all name the same card.
    typed = card.lower().replace("-", " ")
    first = submit_ballot(room.db, room.key, room.code.lower(), typed, room.methods[:5], None)
    with pytest.raises(CardAlreadySpent):  # queued already: cannot wait twice
        submit_ballot(room.db, room.key, room.code, card, room.methods[:1], None)
    assert card_counts(room.db, room.code).spent == 0
    rest = [submit_ballot(room.db, room.key, room.code, c, room.methods[:1], None) for c in others]
    (receipt,) = receipts_of([first])
    receipts_of(rest)
    assert human_codes.normalize_receipt(receipt) == receipt
    assert card_counts(room.db, room.code).spent == 5
    assert results.ballot_count(room.db, room.code) == 5
    with pytest.raises(CardAlreadySpent) as info:
        receipt_when_stored(
            submit_ballot(room.db, room.key, room.code, card, room.methods[:1], None)
        )
    assert_has_texts(info.value)
    assert results.ballot_count(room.db, room.code) == 5


HUGE = "A" * 1_000_000
CONTROL = "\x00\x1b[31m\u202e\r\n"

Case = Callable[[Room, list[str], str], None]
_TEMPLATE = available_templates()["default"]


def _cast(
    card: str | None = "OK",
    ranking: tuple[str, ...] | None = None,
    role: str | None = None,
    code: str | None = None,
) -> Case:
    def run(room: Room, cards: list[str], other_card: str) -> None:
        # A typo: one symbol of a real card changed, which the check character catches.
        typo = cards[0][:-1] + ("3" if cards[0][-1] != "3" else "4")
        chosen = {
            "OK": cards[0],
            "SPENT": cards[1],
            "VOID": cards[2],
            "OTHER": other_card,
            "TYPO": typo,
        }
        receipt_when_stored(
            submit_ballot(
                room.db,
                room.key,
                room.code if code is None else code,
                chosen.get(card, card) if card is not None else None,
                room.methods[:3] if ranking is None else ranking,
                role,
                client_key="bad-input-test",
            )
        )

    return run


BAD_INPUT: dict[str, tuple[Case, type[BeiduiError]]] = {
    "unknown card": (_cast(card=human_codes.new_card_code()), CardNotFound),
    "spent card": (_cast(card="SPENT"), CardAlreadySpent),
    "void card": (_cast(card="VOID"), CardNotFound),
    "another workshop's card": (_cast(card="OTHER"), CardNotFound),
    "no card": (_cast(card=None), CardRequired),
    "blank card": (_cast(card="  "), CardRequired),
    "malformed card": (_cast(card="7KQM-4HXD"), human_codes.MalformedCardCode),
    "mistyped card": (_cast(card="TYPO"), human_codes.MalformedCardCode),
    "huge card": (_cast(card=HUGE), human_codes.MalformedCardCode),
    "control characters as card": (_cast(card=CONTROL), human_codes.MalformedCardCode),
    "empty ranking": (_cast(ranking=()), EmptyBallot),
    "more than K": (_cast(ranking=tuple(m.key for m in _TEMPLATE.methods[:6])), TooManyChoices),
    "duplicate method": (_cast(ranking=("action_research", "action_research")), DuplicateMethod),
    "unknown method": (_cast(ranking=("action_research", "bribery")), UnknownMethod),
    "huge method": (_cast(ranking=(HUGE,)), UnknownMethod),
    "control characters as method": (_cast(ranking=(CONTROL,)), UnknownMethod),
    "a bare string as ranking": (_cast(ranking="action_research"), UnknownMethod),  # type: ignore[arg-type]
    "unknown role": (_cast(role="spy"), UnknownRole),
    "huge role": (_cast(role=HUGE), UnknownRole),
    "control characters as role": (_cast(role=CONTROL), UnknownRole),
    "huge workshop code": (_cast(code=HUGE), human_codes.MalformedJoinCode),
    "control characters as workshop code": (_cast(code=CONTROL), human_codes.MalformedJoinCode),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_a_named_error_with_both_texts_and_changes_nothing(
    instance: Instance, case: str
) -> None:
    other = open_room(instance)
    (other_card,) = issue_cards(other.console, 1)
    room = open_room(instance)
    spent, void, *batch = issue_cards(room.console, 6)
    receipts_of(
        [
            submit_ballot(room.db, room.key, room.code, c, room.methods[:1], None)
            for c in (spent, *batch)
        ]
    )
    void_unused_cards(room.console)
    (good,) = issue_cards(room.console, 1)
    cards = [good, spent, void]
    before = row_counts(room.db)
    spent_before = card_counts(room.db, room.code)
    run, expected = BAD_INPUT[case]
    with pytest.raises(expected) as info:
        run(room, cards, other_card)
    assert type(info.value) is expected or isinstance(info.value, expected)
    assert_has_texts(info.value)
    assert row_counts(room.db) == before
    assert card_counts(room.db, room.code) == spent_before
    CARD_LIMITER._clients.clear()  # each case starts with a clean slate


def test_ballots_are_refused_before_voting_opens_and_after_it_closes(instance: Instance) -> None:
    room = open_room(instance, to_voting=False)
    cards = issue_cards(room.console, 2)
    with pytest.raises(VotingNotOpen):
        receipt_when_stored(
            submit_ballot(room.db, room.key, room.code, cards[0], room.methods[:1], None)
        )
    move_to(room.console, StagePosition(Stage.VOTING))
    ticket = submit_ballot(room.db, room.key, room.code, cards[0], room.methods[:1], None)
    close_voting(room.console)
    receipts_of([ticket])
    before = row_counts(room.db)
    with pytest.raises(VotingClosed) as info:  # the cached box must not hide the new stage
        receipt_when_stored(
            submit_ballot(room.db, room.key, room.code, cards[1], room.methods[:1], None)
        )
    assert_has_texts(info.value)
    assert row_counts(room.db) == before
    assert card_counts(room.db, room.code).spent == 1


def test_repeated_wrong_cards_make_that_client_wait_but_no_one_else(instance: Instance) -> None:
    room = open_room(instance)
    (card,) = issue_cards(room.console, 1)
    with pytest.raises(TooManyAttempts) as info:  # the sixth wrong try trips it
        for _ in range(10):
            try:
                receipt_when_stored(
                    submit_ballot(
                        room.db,
                        room.key,
                        room.code,
                        human_codes.new_card_code(),
                        room.methods[:1],
                        None,
                        client_key="guesser",
                    )
                )
            except CardNotFound:
                continue
    assert_has_texts(info.value)
    # Someone else with a real card casts at once (queued for its batch).
    ticket = submit_ballot(
        room.db, room.key, room.code, card, room.methods[:1], None, client_key="voter"
    )
    assert ballot_status(ticket.id).state is BallotState.WAITING


def test_fifty_threads_racing_with_one_card_cast_exactly_one_ballot(instance: Instance) -> None:
    room = open_room(instance)
    (card,) = issue_cards(room.console, 1)
    start = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def racer(i: int) -> None:
        start.wait()
        try:
            submit_ballot(
                room.db, room.key, room.code, card, room.methods[:2], None, client_key=f"c{i}"
            )
            outcome = "cast"
        except CardAlreadySpent:
            outcome = "spent"
        except Exception as exc:  # pragma: no cover - reported in the assertion below
            outcome = repr(exc)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(outcomes) == {"cast": 1, "spent": 49}
    close_voting(room.console)
    assert results.ballot_count(room.db, room.code) == 1
    assert card_counts(room.db, room.code).spent == 1


# --- stages --------------------------------------------------------------------------------


def test_move_to_refuses_closing_and_revealing_which_have_their_own_services(
    instance: Instance,
) -> None:
    room = open_room(instance)
    for stage in (Stage.CLOSED, Stage.REVEALED):
        with pytest.raises(StageTransitionRefused):
            move_to(room.console, StagePosition(stage))
    view = close_voting(room.console)
    assert view.stage == Stage.CLOSED
    with pytest.raises(StageTransitionRefused):
        close_voting(room.console)
    with pytest.raises(NotAuthorized):
        reveal(open_console(room.db, room.key, room.code, "forged"), PASS)


def test_closing_needs_voting_and_the_console_grant(instance: Instance) -> None:
    room = open_room(instance, to_voting=False)
    with pytest.raises(StageTransitionRefused):
        close_voting(room.console)
    move_to(room.console, StagePosition(Stage.VOTING))
    with pytest.raises(NotAuthorized):
        close_voting(open_console(room.db, room.key, room.code, "forged"))
    with pytest.raises(StageTransitionRefused):
        reveal(room.console, PASS)  # not closed yet


# --- reveal --------------------------------------------------------------------------------


def test_the_recount_after_reveal_equals_the_tally_of_what_was_cast(instance: Instance) -> None:
    room = open_room(instance)
    rng = random.Random(3)
    cast: list[tuple[str | None, tuple[str, ...]]] = []
    cards = issue_cards(room.console, 25)
    given: list[str] = []
    tickets = []
    for card in cards:
        ranking = tuple(rng.sample(room.methods, rng.randint(1, room.ballot_size)))
        role = rng.choice([None, *room.roles])
        tickets.append(submit_ballot(room.db, room.key, room.code, card, ranking, role))
        cast.append((role, ranking))
    given.extend(receipts_of(tickets))  # 25 = five batches of k
    with pytest.raises(NotRevealed) as info:
        results.opened_rankings(room.db, room.code)
    assert_has_texts(info.value)
    with pytest.raises(NotRevealed):
        results.receipts(room.db, room.code)
    assert results.published_results(room.db, room.code) is None  # not a live workshop
    close_voting(room.console)
    assert results.published_results(room.db, room.code) is None
    view = reveal(room.console, PASS)
    assert view.stage == Stage.REVEALED

    opened = results.opened_rankings(room.db, room.code)
    # Stored as the screens show them: a role below k is merged into "no role".
    from core.breakdown import breakdown

    shown = set(breakdown(cast, room.methods, room.ballot_size, k=5).roles)
    assert Counter(opened) == Counter((r if r in shown else None, rk) for r, rk in cast)
    assert opened == sorted(opened, key=lambda rr: (rr[1], rr[0] is not None, rr[0] or ""))
    published = results.published_results(room.db, room.code)
    assert published is not None and published.is_final
    assert published.ballots_counted == 25
    expected = points([r for _, r in cast], room.methods, room.ballot_size)
    assert published.tallies["points"] == expected
    assert {t.method: t.points for t in published.totals} == dict(expected.scores)
    assert results.receipts(room.db, room.code) == sorted(given)
    assert all(results.verify_receipt(room.db, room.code, r.lower()) for r in given)
    assert not results.verify_receipt(room.db, room.code, "22222-22222")
    assert not results.verify_receipt(room.db, room.code, "not a receipt")
    assert not results.verify_receipt(room.db, room.code, HUGE)


def test_a_wrong_passphrase_at_reveal_changes_nothing(instance: Instance) -> None:
    room = open_room(instance)
    for card in issue_cards(room.console, 3):
        submit_ballot(room.db, room.key, room.code, card, room.methods[:2], None)
    close_voting(room.console)
    before = row_counts(room.db)
    for wrong in ("wrong passphrase", PASS + "!", HUGE):
        with pytest.raises(passphrases.WrongPassphrase) as info:
            reveal(room.console, wrong)
        assert info.value.key == "crypto.wrong_passphrase"
    assert row_counts(room.db) == before
    from core.workshops import get_workshop

    assert get_workshop(room.db, room.code).stage == Stage.CLOSED
    # The right one still works afterwards, and only once.
    reveal(room.console, PASS)
    with pytest.raises(StageTransitionRefused):
        reveal(room.console, PASS)
    assert row_counts(room.db)["opened_ballots"] == 3


def test_a_ballot_altered_in_the_database_stops_the_reveal_and_changes_nothing(
    instance: Instance,
) -> None:
    room = open_room(instance)
    for card in issue_cards(room.console, 3):
        submit_ballot(room.db, room.key, room.code, card, room.methods[:2], None)
    close_voting(room.console)
    with room.db.engine.begin() as conn:
        blob = bytes(conn.execute(text("SELECT sealed FROM sealed_ballots")).scalars().first())
        tampered = blob[:-1] + bytes([blob[-1] ^ 1])
        conn.execute(
            text("UPDATE sealed_ballots SET sealed = :t WHERE sealed = :b"),
            {"t": tampered, "b": blob},
        )
    before = row_counts(room.db)
    with pytest.raises(sealed_box.CannotUnseal):
        reveal(room.console, PASS)
    assert row_counts(room.db) == before


def test_concurrent_casts_of_many_cards_each_succeed_once_even_when_committed_together(
    instance: Instance,
) -> None:
    # Concurrent casts share a batch: a card queued twice fails only its second cast, and
    # every other ballot in the same commit lands.
    room = open_room(instance)
    cards = issue_cards(room.console, 20)
    start = threading.Barrier(40)
    tickets: list[Ticket] = []
    refused: list[int] = []
    lock = threading.Lock()

    def voter(i: int) -> None:
        start.wait()
        try:
            ticket = submit_ballot(
                room.db,
                room.key,
                room.code,
                cards[i % 20],
                room.methods[:3],
                None,
                client_key=f"v{i}",
            )
        except CardAlreadySpent:
            with lock:
                refused.append(i)
        else:
            with lock:
                tickets.append(ticket)

    threads = [threading.Thread(target=voter, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_voting(room.console)  # writes whatever is below k
    receipts = receipts_of(tickets)
    assert (len(receipts), len(refused)) == (20, 20)
    assert results.ballot_count(room.db, room.code) == 20
    assert all(results.verify_receipt(room.db, room.code, r) for r in receipts)
    assert card_counts(room.db, room.code) == CardCounts(issued=20, spent=20, void=0)


# --- batches across servers (issue 10) -----------------------------------------------------


def test_a_ballot_waiting_on_one_server_is_stored_when_voting_closes_on_another(
    instance: Instance, db_factory: DbFactory
) -> None:
    # Two `Database`s on one store are two server processes: each has its own mixer.
    room = open_room(instance)
    other = db_factory(migrate_schema=False)
    cards = issue_cards(room.console, 7)
    on_time = [
        submit_ballot(room.db, room.key, room.code, c, room.methods[:2], None) for c in cards[:5]
    ]
    receipts_of(on_time)
    waiting = submit_ballot(other, room.key, room.code, cards[5], room.methods[:1], None)
    local = submit_ballot(room.db, room.key, room.code, cards[6], room.methods[:3], None)
    assert ballot_status(waiting.id).waiting_for == 4
    assert results.ballot_count(room.db, room.code) == 5  # neither is written yet
    close_voting(room.console)  # writes `local` into the mix
    receipts_of([local])
    # The other server notices the closed stage on its next look and writes its ballot into
    # the mix too; nothing is lost and the box is mixed again.
    (late,) = receipts_of([waiting], timeout=30)
    assert results.ballot_count(room.db, room.code) == 7
    assert card_counts(room.db, room.code).spent == 7
    reveal(room.console, PASS)
    assert late in results.receipts(room.db, room.code)
    assert len(results.opened_rankings(room.db, room.code)) == 7


def test_a_card_queued_on_two_servers_is_spent_once_and_refused_at_commit_on_the_other(
    instance: Instance, db_factory: DbFactory
) -> None:
    room = open_room(instance)
    other = db_factory(migrate_schema=False)
    card, *fillers = issue_cards(room.console, 9)
    # Both servers read the card as unspent and queue it: only the database can decide.
    first = submit_ballot(room.db, room.key, room.code, card, room.methods[:1], None)
    second = submit_ballot(other, room.key, room.code, card, room.methods[:2], None)
    here = [
        submit_ballot(room.db, room.key, room.code, c, room.methods[:1], None) for c in fillers[:4]
    ]
    receipts_of([first, *here])  # the first batch of k spends the card
    there = [
        submit_ballot(other, room.key, room.code, c, room.methods[:1], None) for c in fillers[4:8]
    ]
    # The second batch's guarded update finds the card spent: that ballot alone is refused
    # (named error), and the batch, now below k, waits for one more ballot or the close.
    status = wait_for_ballot(second.id, timeout=30)
    assert status.state is BallotState.REFUSED
    assert isinstance(status.error, CardAlreadySpent)
    assert all(ballot_status(t.id).state is BallotState.WAITING for t in there)
    close_voting(room.console)
    receipts_of(there, timeout=30)
    assert results.ballot_count(room.db, room.code) == 9
    assert card_counts(room.db, room.code).spent == 9


def test_roles_below_k_are_stored_and_archived_merged_as_the_screens_show_them(
    instance: Instance,
) -> None:
    # Issue 10: opened_ballots (and the backup) kept a lone co-funder's role beside their
    # exact ranking, while every screen merged it into "other".
    room = open_room(instance)
    big, lone = room.roles[0], room.roles[1]
    declared = [big] * 6 + [lone] + [None] * 4  # "other" = 5: big stays shown
    cards = issue_cards(room.console, len(declared))
    tickets = [
        submit_ballot(room.db, room.key, room.code, c, room.methods[: 1 + i % 3], role)
        for i, (c, role) in enumerate(zip(cards, declared, strict=True))
    ]
    close_voting(room.console)
    receipts_of(tickets)
    reveal(room.console, PASS)
    stored = Counter(role for role, _ in results.opened_rankings(room.db, room.code))
    assert stored == {big: 6, None: 5}
    archive = export_archive(room.db, room.code, secret_key=room.key)
    with zipfile.ZipFile(BytesIO(archive)) as zf:
        body = json.loads(zf.read(DOCUMENT_NAME))
    assert Counter(o["role"] for o in body["opened_ballots"]) == {big: 6, None: 5}


def test_a_ticket_is_unknown_under_another_workshops_code(instance: Instance) -> None:
    """A page token is for one workshop; the status route asks with its code, so a ticket
    of another workshop answers nothing (not even that it exists)."""
    here, there = open_room(instance), open_room(instance)
    (card,) = issue_cards(here.console, 1)
    ticket = submit_ballot(
        here.db, here.key, here.code, card, here.methods[:1], None, client_key="voter"
    )
    assert ballot_status(ticket.id, workshop=here.code).state is BallotState.WAITING
    with pytest.raises(UnknownTicket):
        ballot_status(ticket.id, workshop=there.code)
    with pytest.raises(UnknownTicket):
        notify_when_done(ticket.id, lambda: None, workshop=there.code)
