"""Closing the vote: VOTING -> CLOSED, the queued remainder written, the whole box mixed.

Must never leave the box in an order that follows the order of casting (see `core.mix`).
"""

from __future__ import annotations

import threading

from core.ballot_box import stage_position, workshop_id_of
from core.batches import Pending, existing_mixer, finish, refuse_cards, spend_and_write
from core.console_access import Console
from core.domain import Stage, StagePosition, check_transition
from core.mix import scrub_storage
from core.workshops import WorkshopView, minute_now, view_of


def close_voting(console: Console) -> WorkshopView:
    """VOTING → CLOSED and, in the same transaction, write the ballots still queued in this
    process and mix the whole box (see `mix_box`). Ballots queued on another server are
    written by that server as soon as it sees the stage (`WATCH_INTERVAL_SECONDS`), and
    mixed in again then. Afterwards the tables are rewritten (`scrub_storage`).
    """
    with console.db.read.begin() as session:
        wid = workshop_id_of(session, console.code)
    mixer = None if wid is None else existing_mixer(console.db, wid)
    flush_lock = mixer.flush_lock if mixer is not None else threading.RLock()
    with flush_lock:
        batch: list[Pending] = []
        if mixer is not None:
            with mixer.lock:
                batch, mixer.queue = mixer.queue, []
        try:
            with console.db.write.begin() as session:
                w = console.workshop(session)
                check_transition(stage_position(w), StagePosition(Stage.CLOSED), len(w.questions))
                # The stage UPDATE comes first: on PostgreSQL it waits for batches holding
                # FOR SHARE and makes later batches see CLOSED, so the mix sees every ballot.
                w.stage = Stage.CLOSED
                w.stage_changed_at = minute_now()
                session.flush()
                stored, failed = spend_and_write(
                    session, w.id, batch, is_closed=True, k=w.anonymity_k
                )
                view = view_of(w)
        except BaseException:
            if mixer is not None and batch:
                with mixer.lock:
                    mixer.queue[:0] = batch
            raise
    scrub_storage(console.db, ("sealed_ballots", "cards"))
    if mixer is not None:
        finish(mixer, stored)
        refuse_cards(console.db, mixer, failed)
    return view
