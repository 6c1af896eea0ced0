"""Notes on every backend: batched onto the wall, sorted by nothing that tells writing order,
dotted, hidden, themed, merged and summarised, with no author, session or time stored."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from core.db import Database, migrate
from core.domain import Stage, StagePosition
from core.notes import (
    DOTS_PER_QUESTION,
    MAX_NOTE_LENGTH,
    DotAllowance,
    DotRefused,
    EmptyNote,
    InvalidMerge,
    InvalidSummaryPoint,
    InvalidThemeName,
    NoDotsLeft,
    NoteNotFound,
    NotesClosed,
    NoteTooLong,
    QuestionNotFound,
    ThemeOnOtherQuestion,
    TooManySummaryPoints,
    add_dot,
    assign_note,
    create_theme,
    delete_theme,
    flush_pending,
    hide_note,
    merge_notes,
    participation,
    pending_count,
    post_note,
    rename_theme,
    set_summary_points,
    summary_points,
    themes,
    wall,
)
from core.templates import available_templates
from core.workshops import NotAuthorized, create_workshop, move_to, unlock_console
from tests.conftest import DbFactory

PASS = "correct horse battery"
TABLES = ("workshops", "questions", "methods", "roles", "notes", "themes", "summary_points")


class Room:
    """One workshop with its facilitator's console unlocked."""

    def __init__(self, db: Database, *, k: int = 3, stage: Stage | None = Stage.QUESTIONS):
        self.db = db
        self.secret_key = secrets.token_bytes(32)
        self.code = create_workshop(db, available_templates()["default"], "W", PASS, anonymity_k=k)
        self._grant: str | None = None
        if stage is not None and stage != Stage.DRAFT:
            self.move(stage)

    @property
    def grant(self) -> str:
        # Unlocked on first use: unlocking writes a console session, which a database still
        # on an old schema (the upgrade test) has no table for yet.
        if self._grant is None:
            self._grant = unlock_console(self.db, self.secret_key, self.code, PASS)
        return self._grant

    def move(self, stage: Stage, question: int = 0) -> None:
        move_to(self.db, self.secret_key, self.code, self.grant, StagePosition(stage, question))

    @property
    def auth(self) -> tuple[Database, bytes, str, str]:
        return self.db, self.secret_key, self.code, self.grant

    def post(self, *texts: str) -> None:
        for t in texts:
            post_note(self.db, self.code, t)

    def texts(self, question: int = 0, **kwargs: bool) -> list[str]:
        return [n.text for n in wall(self.db, self.code, question, **kwargs)]

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
    room.post("第一", "second")
    assert room.texts() == []
    assert pending_count(room.db, room.code, 0) == 2
    waiting = wall(room.db, room.code, 0, include_pending=True)
    assert sorted(n.text for n in waiting) == ["second", "第一"]
    assert all(n.is_pending for n in waiting)

    room.post("third")
    assert sorted(room.texts()) == ["second", "third", "第一"]
    assert pending_count(room.db, room.code, 0) == 0
    assert not any(n.is_pending for n in wall(room.db, room.code, 0, include_pending=True))

    room.post("fourth")  # the next batch starts empty again
    assert len(room.texts()) == 3


def test_the_facilitator_can_flush_waiting_notes_onto_the_wall(room: Room) -> None:
    room.post("one", "two")
    assert flush_pending(*room.auth, 0) == 2
    assert sorted(room.texts()) == ["one", "two"]
    assert flush_pending(*room.auth, 0) == 0


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
        list(pool.map(lambda t: post_note(db, room.code, t), posted))
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
    ],
)
def test_a_bad_note_is_refused_and_nothing_is_stored(
    room: Room, raw: str, error: type[Exception]
) -> None:
    before = snapshot(room.db)
    with pytest.raises(error) as info:
        post_note(room.db, room.code, raw)
    assert info.value.key.startswith("notes.errors.")
    assert snapshot(room.db) == before


def test_a_note_is_trimmed_normalised_and_stripped_of_control_characters(room: Room) -> None:
    room.post("  cafe\u0301\x00 line\r\nnext\x1b \t", "字" * MAX_NOTE_LENGTH + "\x07", "x")
    assert sorted(room.texts()) == sorted(["café line\nnext", "字" * MAX_NOTE_LENGTH, "x"])


@pytest.mark.parametrize("stage", [Stage.DRAFT, Stage.VOTING])
def test_notes_are_closed_outside_the_questions(db: Database, stage: Stage) -> None:
    room = Room(db, stage=stage)
    before = snapshot(db)
    with pytest.raises(NotesClosed):
        post_note(db, room.code, "too early or too late")
    assert snapshot(db) == before


def test_an_unknown_question_is_named_in_the_error(room: Room) -> None:
    with pytest.raises(QuestionNotFound) as info:
        wall(room.db, room.code, 9)
    assert info.value.params == {"question": 10}


# --- Dots --------------------------------------------------------------------------------


def test_dots_land_only_on_notes_the_wall_shows_for_the_question_on_screen(room: Room) -> None:
    room.post("a", "b", "c", "waiting")
    hide_note(*room.auth, room.note_id("c"), True)
    before = snapshot(room.db)
    for note in ("waiting", "c"):
        with pytest.raises(DotRefused):
            add_dot(room.db, room.code, room.note_id(note))
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
    assert wall(room.db, room.code, 0)[0].dots == 40


def test_a_browser_session_has_three_dots_per_question() -> None:
    allowance = DotAllowance()
    for _ in range(DOTS_PER_QUESTION):
        allowance = allowance.spend(0)
    assert (allowance.remaining(0), allowance.remaining(1)) == (0, 3)
    with pytest.raises(NoDotsLeft) as info:
        allowance.spend(0)
    assert info.value.params == {"per_question": 3}
    assert allowance.spend(1).remaining(1) == 2


# --- Facilitator -------------------------------------------------------------------------


def test_hidden_notes_leave_the_wall_but_the_facilitator_still_sees_them(room: Room) -> None:
    room.post("keep", "rude", "other")
    hide_note(*room.auth, room.note_id("rude"), True)
    assert "rude" not in room.texts()
    hidden = [n for n in wall(room.db, room.code, 0, include_hidden=True) if n.is_hidden]
    assert [n.text for n in hidden] == ["rude"]
    hide_note(*room.auth, room.note_id("rude"), False)
    assert "rude" in room.texts()


def test_themes_group_notes_and_deleting_one_leaves_its_notes_unthemed(room: Room) -> None:
    room.post("a", "b", "c")
    growth = create_theme(*room.auth, 0, " 成长 ")
    other = create_theme(*room.auth, 0, "Other")
    for note in ("a", "b"):
        assign_note(*room.auth, room.note_id(note), growth)
    add_dot(room.db, room.code, room.note_id("a"))
    rename_theme(*room.auth, growth, "个人成长")
    views = themes(room.db, room.code, 0)
    assert [(t.name, t.note_count, t.dots) for t in views] == [("个人成长", 2, 1), ("Other", 0, 0)]
    assert {n.text: n.theme_name for n in wall(room.db, room.code, 0)} == {
        "a": "个人成长",
        "b": "个人成长",
        "c": None,
    }

    delete_theme(*room.auth, growth)
    assert [t.id for t in themes(room.db, room.code, 0)] == [other]
    assert {n.theme_id for n in wall(room.db, room.code, 0)} == {None}


def test_a_theme_counts_only_notes_the_wall_shows(room: Room) -> None:
    theme = create_theme(*room.auth, 0, "T")
    room.post("waiting")
    assign_note(*room.auth, room.note_id("waiting"), theme)
    assert themes(room.db, room.code, 0)[0].note_count == 0


def test_merging_duplicates_hides_them_and_moves_their_dots_to_the_kept_note(room: Room) -> None:
    room.post("more money", "更多的钱", "money please")
    theme = create_theme(*room.auth, 0, "Funding")
    assign_note(*room.auth, room.note_id("more money"), theme)
    for note, dots in (("more money", 1), ("更多的钱", 2), ("money please", 3)):
        for _ in range(dots):
            add_dot(room.db, room.code, room.note_id(note))
    merge_notes(*room.auth, room.note_id("more money"), [room.note_id("更多的钱")] * 2)
    merge_notes(*room.auth, room.note_id("more money"), [room.note_id("money please")])

    assert [(n.text, n.dots) for n in wall(room.db, room.code, 0)] == [("more money", 6)]
    everything = wall(room.db, room.code, 0, include_hidden=True)
    assert {(n.text, n.dots, n.theme_id, n.is_hidden) for n in everything} == {
        ("more money", 6, theme, False),
        ("更多的钱", 0, theme, True),
        ("money please", 0, theme, True),
    }


def test_summary_points_replace_the_previous_ones(room: Room) -> None:
    set_summary_points(*room.auth, 0, ["一", "two"])
    set_summary_points(*room.auth, 0, [" 三 ", "four", "五"])
    assert summary_points(room.db, room.code, 0) == ["三", "four", "五"]
    assert summary_points(room.db, room.code, 1) == []
    set_summary_points(*room.auth, 0, [])
    assert summary_points(room.db, room.code, 0) == []


def test_participation_counts_every_note_of_every_question(room: Room) -> None:
    room.post("a", "b")
    room.move(Stage.QUESTIONS, 2)
    room.post("c")
    assert participation(room.db, room.code).notes_per_question == [2, 0, 1, 0]


def test_bad_facilitator_input_is_refused_and_nothing_changes(room: Room) -> None:
    room.post("a", "b", "c")
    room.move(Stage.QUESTIONS, 1)
    room.post("elsewhere")
    theme = create_theme(*room.auth, 0, "T")
    before = snapshot(room.db)
    a, b, elsewhere = room.note_id("a"), room.note_id("b"), room.note_id("elsewhere", 1)
    attempts = [
        (InvalidThemeName, lambda: create_theme(*room.auth, 0, " \n ")),
        (InvalidThemeName, lambda: rename_theme(*room.auth, theme, "x" * 201)),
        (ThemeOnOtherQuestion, lambda: assign_note(*room.auth, elsewhere, theme)),
        (InvalidMerge, lambda: merge_notes(*room.auth, a, [a, b])),
        (InvalidMerge, lambda: merge_notes(*room.auth, a, [])),
        (InvalidMerge, lambda: merge_notes(*room.auth, a, [elsewhere])),
        (NoteNotFound, lambda: hide_note(*room.auth, "nope", True)),
        (TooManySummaryPoints, lambda: set_summary_points(*room.auth, 0, ["p"] * 9)),
        (InvalidSummaryPoint, lambda: set_summary_points(*room.auth, 0, ["ok", "x" * 201])),
        (InvalidSummaryPoint, lambda: set_summary_points(*room.auth, 0, ["ok", "\x00"])),
        (QuestionNotFound, lambda: flush_pending(*room.auth, 7)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            attempt()
    assert snapshot(room.db) == before


@pytest.mark.parametrize("forgery", ["made-up grant", "grant under another instance key"])
def test_a_forged_grant_changes_nothing(room: Room, forgery: str) -> None:
    room.post("a", "b", "c", "waiting")
    theme = create_theme(*room.auth, 0, "T")
    a, b = room.note_id("a"), room.note_id("b")
    if forgery == "made-up grant":
        auth = (room.db, room.secret_key, room.code, "0" * 64)
    else:
        auth = (room.db, secrets.token_bytes(32), room.code, room.grant)
    before = snapshot(room.db)
    for attempt in (
        lambda: flush_pending(*auth, 0),
        lambda: hide_note(*auth, a, True),
        lambda: create_theme(*auth, 0, "X"),
        lambda: rename_theme(*auth, theme, "X"),
        lambda: delete_theme(*auth, theme),
        lambda: assign_note(*auth, a, theme),
        lambda: merge_notes(*auth, a, [b]),
        lambda: set_summary_points(*auth, 0, ["x"]),
    ):
        with pytest.raises(NotAuthorized):
            attempt()
    assert snapshot(room.db) == before


# --- What an adversary with the database would see ---------------------------------------


def test_the_notes_table_holds_no_time_or_session_and_its_rows_do_not_follow_posting_order(
    db: Database,
) -> None:
    # k = 5 and 32 notes: six shuffled batches plus two waiting notes. Each batch keeps its
    # posting order by chance 1/120, so all six at once: about 3e-13. Never flaky.
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
    assert sorted(r["text"] for r in rows) == posted
    assert [r["text"] for r in rows] != posted
    assert [r["text"] for r in rows[:30]] != posted[:30]
    if not db.is_sqlite:
        # PostgreSQL stamps each row with its writing transaction (xmin): the batch rewrite
        # leaves one stamp per batch (six) plus one for the two notes still waiting.
        with db.engine.connect() as conn:
            xmins = {r[0] for r in conn.exec_driver_sql("SELECT xmin::text FROM notes")}
        assert len(xmins) == 7
