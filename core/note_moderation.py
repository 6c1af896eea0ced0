"""The facilitator keeps the wall: release waiting notes early, hide a note, fold duplicates.

Every tool is grant-checked. This module must never delete a note (hidden notes stay in the
exports, marked) nor lose a dot: a merge moves the duplicates' dots -- stored and waiting --
to the kept note. Releasing early writes this process's waiting notes as one shuffled batch
and its waiting dots in the same transaction (core.note_batches), never one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update

from core import note_batches
from core.console_access import Console
from core.errors import BeiduiError
from core.models import Note
from core.notes import NoteId, note_in, question_at


class InvalidMerge(BeiduiError, key="notes.errors.merge"): ...


def flush_pending(console: Console, question: int) -> int:
    """Show every waiting note and dot of `question` now (the facilitator's call); returns
    how many notes.

    Writes the notes waiting in THIS server process as one shuffled batch and adds its
    waiting dots, in one transaction, even if fewer than k (the facilitator's choice, stated
    in docs/threat-model.md); notes and dots waiting in another server process stay there
    until their batch fills or the room moves on.
    """
    mixer = note_batches.mixer_for(console.db)
    with mixer.lock:
        note_batches.sweep(console.db)
        with mixer.restoring(), console.db.write.begin() as session:
            w = console.workshop(session, locked=True)
            q = question_at(w, question)
            wrote = mixer.holds((w.id, q.id))
            n = note_batches.write_waiting(session, mixer, w.id, q.id)
            n += note_batches.publish_legacy(session, [q.id])
    if n or wrote:
        note_batches.checkpoint(console.db)
    return n


def hide_note(console: Console, note_id: NoteId, hidden: bool) -> None:
    """Take a note off the wall (or put it back); hidden notes stay in exports, marked."""
    with console.db.write.begin() as session:
        w = console.workshop(session, locked=True)
        note_in(session, w, note_id).is_hidden = bool(hidden)


def merge_notes(
    console: Console,
    keep_id: NoteId,
    duplicate_ids: Sequence[NoteId],
) -> None:
    """Fold duplicates into one note: they take its theme and are hidden; their dots move to it.

    Moved dots leave the duplicates at zero, so totals over a question never count twice.
    Dots still waiting in this process for a duplicate will count for the kept note.
    """
    mixer = note_batches.mixer_for(console.db)
    # The mixer lock first (the lock order of every path) and held until the waiting dots
    # moved too: no dot batch runs between the merge's commit and that move.
    with mixer.lock:
        with console.db.write.begin() as session:
            w = console.workshop(session, locked=True)
            dup_ids = list(dict.fromkeys(duplicate_ids))
            if not dup_ids or keep_id in dup_ids:
                raise InvalidMerge("nothing to merge", note_id=str(keep_id))
            keep = note_in(session, w, keep_id)
            duplicates = [note_in(session, w, d) for d in dup_ids]
            if any(d.question_id != keep.question_id for d in duplicates):
                raise InvalidMerge("notes of different questions", note_id=str(keep_id))
            moved = 0
            for d in duplicates:
                moved += d.dots
                d.dots = 0
                d.theme_id = keep.theme_id
                d.is_hidden = True
            session.flush()
            session.execute(update(Note).where(Note.id == keep.id).values(dots=Note.dots + moved))
            workshop_id, question_id, kept = w.id, keep.question_id, keep.id
        mixer.move_dots(workshop_id, question_id, set(dup_ids), kept)
