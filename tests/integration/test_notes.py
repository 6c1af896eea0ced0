"""Notes on every backend: batched onto the wall, sorted by nothing that tells writing order,
dotted, hidden, themed, merged and summarised, with no author, session or time stored."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from core import note_batches
from core.console import move_to
from core.console_access import Console, open_console, unlock_console
from core.db import Database, migrate
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.note_moderation import InvalidMerge, flush_pending, hide_note, merge_notes
from core.note_summary import (
    InvalidSummaryPoint,
    TooManySummaryPoints,
    set_summary_points,
    summary_points,
)
from core.note_themes import (
    InvalidThemeName,
    ThemeOnOtherQuestion,
    assign_note,
    create_theme,
    themes,
)
from core.notes import (
    DOTS_PER_QUESTION,
    MAX_NOTE_LENGTH,
    DotAllowance,
    DotRefused,
    DotStatus,
    EmptyNote,
    NoDotsLeft,
    NoteNotFound,
    NotesClosed,
    NoteTooLong,
    QuestionMovedOn,
    QuestionNotFound,
    add_dot,
    give_dot,
    participation,
    pending_count,
    post_note,
    wall,
)
from core.templates import available_templates
from core.workshops import NotAuthorized, create_workshop
from tests.conftest import DbFactory

PASS = "correct horse battery"
TABLES = ("workshops", "questions", "methods", "roles", "notes", "themes", "summary_points")


class Room:
    """One workshop with its facilitator's console unlocked."""

    def __init__(self, db: Database, *, k: int = 3, stage: Stage | None = Stage.QUESTIONS):
        self.db = db
        self.secret_key = secrets.token_bytes(32)
        self.code = create_workshop(
            Admin.trusted(db), available_templates()["default"], "W", PASS, anonymity_k=k
        )
        self._grant: str | None = None
        self.question = 0  # the question the phones show
        if stage is not None and stage != Stage.DRAFT:
            self.move(stage)

    @property
    def grant(self) -> str:
        # Unlocked on first use: unlocking writes a console session, which a database still
        # on an old schema (the upgrade test) has no table for yet.
        if self._grant is None:
            self._grant = unlock_console(self.db, self.secret_key, self.code, PASS).token
        return self._grant

    def move(self, stage: Stage, question: int = 0) -> None:
        move_to(self.console, StagePosition(stage, question))
        self.question = question

    @property
    def console(self) -> Console:
        """The room's unlocked console (rebuilt from the token, as a page does)."""
        return open_console(self.db, self.secret_key, self.code, self.grant)

    def post(self, *texts: str) -> None:
        for t in texts:
            post_note(self.db, self.code, t, self.question)

    def texts(self, question: int = 0, **kwargs: bool) -> list[str]:
        return [n.text for n in wall(self.db, self.code, question, **kwargs)]

    def question_key(self, question: int) -> tuple[int, int]:
        """(workshop id, question id): the key a server's waiting notes and dots go under."""
        with self.db.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT w.id, q.id FROM workshops w JOIN questions q ON q.workshop_id = w.id"
                    " WHERE w.code = :c AND q.position = :p"
                ),
                {"c": self.code, "p": question},
            ).one()
        return int(row[0]), int(row[1])

    def note_id(self, note_text: str, question: int = 0) -> str:
        notes = wall(self.db, self.code, question, include_hidden=True, include_pending=True)
        return next(n.id for n in notes if n.text == note_text)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a participant or facilitator could have changed, in a stable order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


@pytest.fixture
def room(db: Database) -> Room:
    return Room(db)


# --- Batching ----------------------------------------------------------------------------


def test_a_note_waits_until_k_notes_wait_then_the_whole_batch_appears_at_once(room: Room) -> None:
    first = post_note(room.db, room.code, "第一", 0)
    second = post_note(room.db, room.code, "second", 0)
    assert (first.is_stored, first.waiting_for, second.is_stored, second.waiting_for) == (
        False,
        2,
        False,
        1,
    )
    assert room.texts() == []
    assert pending_count(room.db, room.code, 0) == 2
    # Waiting notes live in server memory only (issue 10): not even the console's view of
    # the table holds them, only their count.
    assert wall(room.db, room.code, 0, include_pending=True) == []

    assert post_note(room.db, room.code, "third", 0).is_stored
    assert sorted(room.texts()) == ["second", "third", "第一"]
    assert pending_count(room.db, room.code, 0) == 0
    assert not any(n.is_pending for n in wall(room.db, room.code, 0, include_pending=True))

    room.post("fourth")  # the next batch starts empty again
    assert len(room.texts()) == 3


def test_the_facilitator_can_flush_waiting_notes_onto_the_wall(room: Room) -> None:
    room.post("one", "two")
    assert flush_pending(room.console, 0) == 2
    assert sorted(room.texts()) == ["one", "two"]
    assert flush_pending(room.console, 0) == 0


def test_moving_to_the_next_question_shows_the_waiting_notes_of_the_last_one(room: Room) -> None:
    room.post("alone on question one")
    room.move(Stage.QUESTIONS, 1)
    assert room.texts(0) == ["alone on question one"]
    assert pending_count(room.db, room.code, 0) == 0
    room.post("on question two")
    assert room.texts(1) == []

    room.move(Stage.QUESTIONS, 0)  # coming back does not take a shown note off the wall
    assert room.texts(0) == ["alone on question one"]
    room.move(Stage.VOTING)
    assert room.texts(1) == ["on question two"]


def test_the_wall_order_is_not_the_posting_order(room: Room) -> None:
    posted = [f"note {i:02d}" for i in range(30)]
    room.post(*posted)
    shown = wall(room.db, room.code, 0)
    assert sorted(n.text for n in shown) == posted
    assert [n.text for n in shown] != posted
    assert [n.id for n in shown] == sorted(n.id for n in shown)


def test_notes_posted_at_the_same_time_still_reach_the_wall_in_whole_batches(db: Database) -> None:
    room = Room(db, k=5)
    posted = [f"note {i:02d}" for i in range(30)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda t: post_note(db, room.code, t, 0), posted))
    assert sorted(room.texts()) == posted
    assert pending_count(db, room.code, 0) == 0


def test_notes_written_before_batching_existed_stay_on_the_wall(db_factory: DbFactory) -> None:
    old = db_factory(migrate_schema=False)
    migrate(old.engine, "0002")
    # Services expect the newest schema, so the old database is put in QUESTIONS by hand.
    room = Room(old, k=3, stage=None)
    with old.engine.begin() as conn:
        conn.execute(text("UPDATE workshops SET stage = 'questions', current_question = 0"))
        question_id = conn.execute(text("SELECT min(id) FROM questions")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO notes (id, question_id, text, dots, is_hidden, theme_id)"
                " VALUES (:id, :q, 'written under 0002', 2, false, NULL)"
            ),
            {"id": "a" * 32, "q": question_id},
        )
    migrate(old.engine)
    assert [(n.text, n.dots, n.is_pending) for n in wall(old, room.code, 0)] == [
        ("written under 0002", 2, False)
    ]
    room.post("new")  # a note written after the upgrade waits for its batch as usual
    assert room.texts() == ["written under 0002"]


def test_a_note_for_a_question_the_room_left_is_refused_and_filed_nowhere(room: Room) -> None:
    # Issue 12: a phone posting a moment after the move was told "received" and its note
    # was filed under the NEXT question. The phone names the question it showed.
    room.post("on question one")
    room.move(Stage.QUESTIONS, 1)
    before = snapshot(room.db)
    with pytest.raises(QuestionMovedOn) as info:
        post_note(room.db, room.code, "typed while question one was on screen", 0)
    assert info.value.key == "notes.errors.question_moved_on"
    assert info.value.params == {"question": 1, "current": 2}
    assert snapshot(room.db) == before
    assert [pending_count(room.db, room.code, q) for q in (0, 1)] == [0, 0]
    assert room.texts(0) == ["on question one"]
    with pytest.raises(QuestionNotFound):
        post_note(room.db, room.code, "made-up question", 9)


def test_two_servers_batch_their_own_notes_and_a_move_on_one_reaches_the_other(
    db_factory: DbFactory,
) -> None:
    # Each `Database` stands for one server process with its own memory.
    first, second = db_factory(), db_factory()
    room = Room(first, k=3)
    post_note(first, room.code, "first server", 0)
    post_note(second, room.code, "second server", 0)
    assert (pending_count(first, room.code, 0), pending_count(second, room.code, 0)) == (1, 1)
    move_to(
        open_console(second, room.secret_key, room.code, room.grant),
        StagePosition(Stage.QUESTIONS, 1),
    )
    assert room.texts(0) == ["second server"]  # written by the move, on the second server
    # The first server notices on its next request (here a post on the new question), or by
    # its sweeper thread: its remainder is written to the question it was posted on.
    assert not post_note(first, room.code, "on question two", 1).is_stored
    assert sorted(room.texts(0)) == ["first server", "second server"]
    assert pending_count(first, room.code, 1) == 1


def test_show_waiting_notes_now_reaches_only_the_console_servers_notes(
    db_factory: DbFactory,
) -> None:
    """The threat model's residual: the facilitator's "show now" writes what waits in the
    process serving the console; notes waiting in another process wait on for their batch
    or the move."""
    first, second = db_factory(), db_factory()
    room = Room(first, k=3)
    post_note(first, room.code, "on the console's server", 0)
    post_note(second, room.code, "on the other server", 0)
    assert flush_pending(open_console(first, room.secret_key, room.code, room.grant), 0) == 1
    assert room.texts(0) == ["on the console's server"]
    assert pending_count(second, room.code, 0) == 1
    room.move(Stage.QUESTIONS, 1)
    post_note(second, room.code, "next question", 1)  # its next request writes the remainder
    assert sorted(room.texts(0)) == ["on the console's server", "on the other server"]


def test_the_sweeper_thread_writes_what_another_server_left_behind(
    db_factory: DbFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(note_batches, "SWEEP_INTERVAL_S", 0.01)
    first, second = db_factory(), db_factory()
    room = Room(first, k=3)
    post_note(second, room.code, "waits on the second server", 0)
    room.move(Stage.QUESTIONS, 1)
    # Not a timing assertion: wait (generously) for the thread to do its work at all.
    for _ in range(1000):
        if room.texts(0):
            break
        threading.Event().wait(0.01)
    assert room.texts(0) == ["waits on the second server"]
    assert pending_count(second, room.code, 0) == 0


def test_a_failed_batch_write_refuses_the_last_note_and_keeps_the_others_waiting(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    room.post("one", "two")

    def broken(*_args: object) -> int:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(note_batches, "insert_batch", broken)
    with pytest.raises(RuntimeError):
        room.post("three")
    assert pending_count(room.db, room.code, 0) == 2
    monkeypatch.undo()
    room.post("three again")
    assert sorted(room.texts()) == ["one", "three again", "two"]


def test_the_most_dotted_notes_lead_the_wall(room: Room) -> None:
    room.post("a", "b", "c")
    for _ in range(2):
        add_dot(room.db, room.code, room.note_id("b"))
    add_dot(room.db, room.code, room.note_id("c"))
    shown = wall(room.db, room.code, 0)
    assert [(n.text, n.dots) for n in shown] == [("b", 2), ("c", 1), ("a", 0)]


# --- Input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", EmptyNote),
        ("   \n\t ", EmptyNote),
        ("\x00\x07\x1b", EmptyNote),
        ("\u202e", EmptyNote),
        ("字" * (MAX_NOTE_LENGTH + 1), NoteTooLong),
        # Issue 12: a 10,000-character paste is "too long (max 280)", never "empty" -- even
        # when cleaning would strip most of it.
        ("x" * 10_000, NoteTooLong),
        (" " * 10_000, NoteTooLong),
        ("\x00" * 9_000 + "x" * 1_000, NoteTooLong),
    ],
)
def test_a_bad_note_is_refused_and_nothing_is_stored(
    room: Room, raw: str, error: type[Exception]
) -> None:
    before = snapshot(room.db)
    with pytest.raises(error) as info:
        post_note(room.db, room.code, raw, 0)
    assert info.value.key.startswith("notes.errors.")
    if error is NoteTooLong:
        assert info.value.params == {"length": len(raw), "high": MAX_NOTE_LENGTH}
    assert pending_count(room.db, room.code, 0) == 0
    assert snapshot(room.db) == before


def test_a_note_is_trimmed_normalised_and_stripped_of_control_characters(room: Room) -> None:
    room.post("  cafe\u0301\x00 line\r\nnext\x1b \t", "字" * MAX_NOTE_LENGTH + "\x07", "x")
    assert sorted(room.texts()) == sorted(["café line\nnext", "字" * MAX_NOTE_LENGTH, "x"])


@pytest.mark.parametrize("stage", [Stage.DRAFT, Stage.VOTING])
def test_notes_are_closed_outside_the_questions(db: Database, stage: Stage) -> None:
    room = Room(db, stage=stage)
    before = snapshot(db)
    with pytest.raises(NotesClosed):
        post_note(db, room.code, "too early or too late", 0)
    assert snapshot(db) == before


def test_an_unknown_question_is_named_in_the_error(room: Room) -> None:
    with pytest.raises(QuestionNotFound) as info:
        wall(room.db, room.code, 9)
    assert info.value.params == {"question": 10}


# --- Dots --------------------------------------------------------------------------------


def test_dots_land_only_on_notes_the_wall_shows_for_the_question_on_screen(room: Room) -> None:
    room.post("a", "b", "c", "waiting")  # "waiting" has no row, hence no id, to dot yet
    hide_note(room.console, room.note_id("c"), True)
    before = snapshot(room.db)
    with pytest.raises(DotRefused):
        add_dot(room.db, room.code, room.note_id("c"))
    with pytest.raises(NoteNotFound):
        add_dot(room.db, room.code, "0" * 32)
    assert snapshot(room.db) == before

    room.move(Stage.QUESTIONS, 1)
    with pytest.raises(DotRefused):
        add_dot(room.db, room.code, room.note_id("a"))
    room.move(Stage.VOTING)
    with pytest.raises(NotesClosed):
        add_dot(room.db, room.code, room.note_id("a"))


def test_dots_given_at_the_same_time_are_all_counted(room: Room) -> None:
    room.post("a", "b", "c")
    target = room.note_id("a")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: add_dot(room.db, room.code, target), range(40)))
    # k = 3: thirteen whole batches are counted, the fortieth dot waits for its batch...
    assert wall(room.db, room.code, 0)[0].dots == 39
    room.move(Stage.QUESTIONS, 1)  # ...and is counted when the room moves on
    assert wall(room.db, room.code, 0)[0].dots == 40


def dots(db: Database, code: str, question: int = 0) -> dict[str, int]:
    return {n.text: n.dots for n in wall(db, code, question, include_hidden=True)}


def test_a_dot_waits_until_k_dots_wait_for_the_question_then_all_are_counted_at_once(
    room: Room,
) -> None:
    # Issue: one transaction per dot let a watcher of the room and of the wall (or of the
    # database's WAL) see which note a person dotted the moment they looked at their phone.
    room.post("a", "b", "c")
    a, b = room.note_id("a"), room.note_id("b")
    first = add_dot(room.db, room.code, a)
    second = add_dot(room.db, room.code, b)
    assert (first, second) == (DotStatus(False, 2), DotStatus(False, 1))
    assert dots(room.db, room.code) == {"a": 0, "b": 0, "c": 0}
    assert add_dot(room.db, room.code, a) == DotStatus(True, 0)
    assert dots(room.db, room.code) == {"a": 2, "b": 1, "c": 0}
    assert add_dot(room.db, room.code, b) == DotStatus(False, 2)  # the next batch starts empty


def test_waiting_dots_are_counted_when_the_room_moves_on_or_the_facilitator_shows_them(
    room: Room,
) -> None:
    room.post("a", "b", "c")
    add_dot(room.db, room.code, room.note_id("a"))
    assert flush_pending(room.console, 0) == 0  # no note waited; the dot is counted all the same
    assert dots(room.db, room.code)["a"] == 1
    add_dot(room.db, room.code, room.note_id("b"))
    add_dot(room.db, room.code, room.note_id("c"))
    room.move(Stage.QUESTIONS, 1)
    assert dots(room.db, room.code) == {"a": 1, "b": 1, "c": 1}


def test_a_dot_on_a_note_hidden_meanwhile_is_dropped_and_no_other_dot_is_lost(room: Room) -> None:
    room.post("a", "b", "c")
    a, b, c = room.note_id("a"), room.note_id("b"), room.note_id("c")
    add_dot(room.db, room.code, a)
    add_dot(room.db, room.code, b)
    hide_note(room.console, a, True)
    assert add_dot(room.db, room.code, c).is_counted
    assert dots(room.db, room.code) == {"a": 0, "b": 1, "c": 1}


def test_a_merge_moves_the_waiting_dots_of_its_duplicates_to_the_kept_note(room: Room) -> None:
    room.post("more money", "更多的钱", "other")
    keep, duplicate = room.note_id("more money"), room.note_id("更多的钱")
    add_dot(room.db, room.code, duplicate)
    add_dot(room.db, room.code, duplicate)
    merge_notes(room.console, keep, [duplicate])
    add_dot(room.db, room.code, room.note_id("other"))
    assert dots(room.db, room.code) == {"more money": 2, "更多的钱": 0, "other": 1}


def test_a_failed_dot_batch_refuses_the_last_dot_and_keeps_the_others_waiting(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    room.post("a", "b", "c")
    a, b, c = room.note_id("a"), room.note_id("b"), room.note_id("c")
    allowance = give_dot(room.db, room.code, 0, a, DotAllowance()).allowance
    allowance = give_dot(room.db, room.code, 0, b, allowance).allowance

    def broken(*_args: object) -> int:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(note_batches, "apply_dots", broken)
    with pytest.raises(RuntimeError):
        give_dot(room.db, room.code, 0, c, allowance)  # the session keeps its allowance
    assert note_batches.mixer_for(room.db).count_dots(*room.question_key(0)) == 2
    monkeypatch.undo()
    assert give_dot(room.db, room.code, 0, c, allowance).is_counted
    assert dots(room.db, room.code) == {"a": 1, "b": 1, "c": 1}


def test_a_failed_move_keeps_the_waiting_dots_for_the_next_one(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    room.post("a", "b", "c")
    add_dot(room.db, room.code, room.note_id("a"))

    def broken(*_args: object) -> int:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(note_batches, "release_waiting_notes", broken)
    with pytest.raises(RuntimeError):
        room.move(Stage.QUESTIONS, 1)
    assert dots(room.db, room.code)["a"] == 0
    monkeypatch.undo()
    room.move(Stage.QUESTIONS, 1)
    assert dots(room.db, room.code)["a"] == 1


def test_a_second_server_counts_its_waiting_dots_once_it_sees_the_room_moved_on(
    db_factory: DbFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(note_batches, "SWEEP_INTERVAL_S", 3600)  # the test sweeps by hand
    first, second = db_factory(), db_factory()
    room = Room(first, k=3)
    room.post("a", "b", "c")
    add_dot(second, room.code, room.note_id("a"))
    room.move(Stage.QUESTIONS, 1)  # through the first server: the second still holds its dot
    assert dots(first, room.code)["a"] == 0
    note_batches.sweep(second)  # its sweeper thread's next tick, or its next request
    assert dots(first, room.code)["a"] == 1


def test_a_browser_session_has_three_dots_per_question() -> None:
    allowance = DotAllowance()
    for i in range(DOTS_PER_QUESTION):
        allowance = allowance.spend(0, f"note {i}")
    assert (allowance.remaining(0), allowance.remaining(1)) == (0, 3)
    with pytest.raises(NoDotsLeft) as info:
        allowance.spend(0, "another note")
    assert info.value.params == {"per_question": 3}
    assert allowance.spend(1, "note 0").remaining(1) == 2


def test_a_browser_session_gives_one_dot_per_note() -> None:
    allowance = DotAllowance().spend(0, "a")
    assert not allowance.can_dot(0, "a")
    assert allowance.can_dot(0, "b")
    with pytest.raises(DotRefused):
        allowance.spend(0, "a")


def test_a_dot_given_from_a_session_is_counted_and_spends_its_allowance(room: Room) -> None:
    room.post("a", "b", "c")
    a = room.note_id("a")
    given = give_dot(room.db, room.code, 0, a, DotAllowance())
    assert (given.is_counted, given.waiting_for) == (False, 2)
    allowance = given.allowance
    assert allowance.remaining(0) == DOTS_PER_QUESTION - 1
    with pytest.raises(DotRefused):
        give_dot(room.db, room.code, 0, a, allowance)
    room.move(Stage.VOTING)
    with pytest.raises(NotesClosed):
        give_dot(room.db, room.code, 0, room.note_id("b"), allowance)
    assert {n.text: n.dots for n in wall(room.db, room.code, 0)} == {"a": 1, "b": 0, "c": 0}


# --- Facilitator -------------------------------------------------------------------------


def test_hidden_notes_leave_the_wall_but_the_facilitator_still_sees_them(room: Room) -> None:
    room.post("keep", "rude", "other")
    hide_note(room.console, room.note_id("rude"), True)
    assert "rude" not in room.texts()
    hidden = [n for n in wall(room.db, room.code, 0, include_hidden=True) if n.is_hidden]
    assert [n.text for n in hidden] == ["rude"]
    hide_note(room.console, room.note_id("rude"), False)
    assert "rude" in room.texts()


def test_themes_group_notes_and_count_their_notes_and_dots(room: Room) -> None:
    room.post("a", "b", "c")
    growth = create_theme(room.console, 0, " 成长 ")
    create_theme(room.console, 0, "Other")
    for note in ("a", "b"):
        assign_note(room.console, room.note_id(note), growth)
    add_dot(room.db, room.code, room.note_id("a"))
    flush_pending(room.console, 0)  # the facilitator shows the one waiting dot now
    views = themes(room.db, room.code, 0)
    assert [(t.name, t.note_count, t.dots) for t in views] == [("成长", 2, 1), ("Other", 0, 0)]
    assert {n.text: n.theme_name for n in wall(room.db, room.code, 0)} == {
        "a": "成长",
        "b": "成长",
        "c": None,
    }
    assign_note(room.console, room.note_id("b"), None)
    assert {n.text: n.theme_id for n in wall(room.db, room.code, 0)}["b"] is None


def test_a_theme_counts_only_notes_the_wall_shows(room: Room) -> None:
    create_theme(room.console, 0, "T")
    room.post("waiting")  # held in memory until its batch: no row a theme could count
    assert themes(room.db, room.code, 0)[0].note_count == 0
    assert participation(room.db, room.code).notes_per_question[0] == 1


def test_merging_duplicates_hides_them_and_moves_their_dots_to_the_kept_note(room: Room) -> None:
    room.post("more money", "更多的钱", "money please")
    theme = create_theme(room.console, 0, "Funding")
    assign_note(room.console, room.note_id("more money"), theme)
    for note, dots in (("more money", 1), ("更多的钱", 2), ("money please", 3)):
        for _ in range(dots):
            add_dot(room.db, room.code, room.note_id(note))
    merge_notes(room.console, room.note_id("more money"), [room.note_id("更多的钱")] * 2)
    merge_notes(room.console, room.note_id("more money"), [room.note_id("money please")])

    assert [(n.text, n.dots) for n in wall(room.db, room.code, 0)] == [("more money", 6)]
    everything = wall(room.db, room.code, 0, include_hidden=True)
    assert {(n.text, n.dots, n.theme_id, n.is_hidden) for n in everything} == {
        ("more money", 6, theme, False),
        ("更多的钱", 0, theme, True),
        ("money please", 0, theme, True),
    }


def test_summary_points_replace_the_previous_ones(room: Room) -> None:
    set_summary_points(room.console, 0, ["一", "two"])
    set_summary_points(room.console, 0, [" 三 ", "four", "五"])
    assert summary_points(room.db, room.code, 0) == ["三", "four", "五"]
    assert summary_points(room.db, room.code, 1) == []
    set_summary_points(room.console, 0, [])
    assert summary_points(room.db, room.code, 0) == []


def test_participation_counts_every_note_of_every_question(room: Room) -> None:
    room.post("a", "b")
    room.move(Stage.QUESTIONS, 2)
    room.post("c")
    assert participation(room.db, room.code).notes_per_question == [2, 0, 1, 0]


def test_bad_facilitator_input_is_refused_and_nothing_changes(room: Room) -> None:
    room.post("a", "b", "c")
    room.move(Stage.QUESTIONS, 1)
    room.post("elsewhere", "second", "third")
    theme = create_theme(room.console, 0, "T")
    before = snapshot(room.db)
    a, b, elsewhere = room.note_id("a"), room.note_id("b"), room.note_id("elsewhere", 1)
    attempts = [
        (InvalidThemeName, lambda: create_theme(room.console, 0, " \n ")),
        (InvalidThemeName, lambda: create_theme(room.console, 0, "x" * 201)),
        (ThemeOnOtherQuestion, lambda: assign_note(room.console, elsewhere, theme)),
        (InvalidMerge, lambda: merge_notes(room.console, a, [a, b])),
        (InvalidMerge, lambda: merge_notes(room.console, a, [])),
        (InvalidMerge, lambda: merge_notes(room.console, a, [elsewhere])),
        (NoteNotFound, lambda: hide_note(room.console, "nope", True)),
        (TooManySummaryPoints, lambda: set_summary_points(room.console, 0, ["p"] * 9)),
        (InvalidSummaryPoint, lambda: set_summary_points(room.console, 0, ["ok", "x" * 201])),
        (InvalidSummaryPoint, lambda: set_summary_points(room.console, 0, ["ok", "\x00"])),
        (QuestionNotFound, lambda: flush_pending(room.console, 7)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            attempt()
    assert snapshot(room.db) == before


@pytest.mark.parametrize("forgery", ["made-up grant", "grant under another instance key"])
def test_a_forged_grant_changes_nothing(room: Room, forgery: str) -> None:
    room.post("a", "b", "c", "waiting")
    theme = create_theme(room.console, 0, "T")
    a, b = room.note_id("a"), room.note_id("b")
    if forgery == "made-up grant":
        auth = open_console(room.db, room.secret_key, room.code, "0" * 64)
    else:
        auth = open_console(room.db, secrets.token_bytes(32), room.code, room.grant)
    before = snapshot(room.db)
    for attempt in (
        lambda: flush_pending(auth, 0),
        lambda: hide_note(auth, a, True),
        lambda: create_theme(auth, 0, "X"),
        lambda: assign_note(auth, a, theme),
        lambda: merge_notes(auth, a, [b]),
        lambda: set_summary_points(auth, 0, ["x"]),
    ):
        with pytest.raises(NotAuthorized):
            attempt()
    assert snapshot(room.db) == before


# --- What an adversary with the database would see ---------------------------------------


def test_the_notes_table_holds_no_time_or_session_and_its_rows_do_not_follow_posting_order(
    db: Database,
) -> None:
    # k = 5 and 32 notes: six shuffled batches plus two notes waiting in memory. Each batch
    # keeps its posting order by chance 1/120, so all six at once: about 3e-13. Never flaky.
    room = Room(db, k=5)
    posted = [f"note {i:02d}" for i in range(32)]
    room.post(*posted)
    with db.engine.connect() as conn:
        result = conn.execute(text("SELECT * FROM notes"))
        columns = set(result.keys())
        rows = [dict(r._mapping) for r in result]
    assert columns == {"id", "question_id", "text", "dots", "is_hidden", "theme_id", "is_published"}
    for word in ("time", "_at", "date", "session", "author", "device", "ip", "user", "seq"):
        assert not any(word in c for c in columns), word
    # The two waiting notes are in no row (issue 10; this test expected them stored before).
    assert sorted(r["text"] for r in rows) == posted[:30]
    assert [r["text"] for r in rows] != posted[:30]
    if not db.is_sqlite:
        # PostgreSQL stamps each row with its writing transaction (xmin): one per batch.
        with db.engine.connect() as conn:
            xmins = {r[0] for r in conn.exec_driver_sql("SELECT xmin::text FROM notes")}
        assert len(xmins) == 6
