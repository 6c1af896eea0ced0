"""The reveal: CLOSED -> REVEALED, the box opened with the passphrase, the opened ballots
stored k-safely in a fresh random order, and the final tally published.

Must never store an opened ballot that points back to its sealed row, a ciphertext after
the reveal, a role below k, or a passphrase or unwrapped key beyond this call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from core.ballot_box import sealed_ballots, stage_position
from core.ballot_values import (
    OpenedBallot,
    ballot_aad,
    open_ballots,
    ranking_text,
    shuffled,
)
from core.batches import existing_mixer, flush
from core.breakdown import choose_groups  # the one rule for which roles are shown
from core.console_access import Console
from core.domain import Stage, StagePosition, check_transition
from core.live_key import forget_live_key, unwrap_box_key
from core.mix import scrub_storage
from core.models import OPENED_BALLOTS, SEALED_BALLOTS, Workshop, random_id
from core.publication import publish_final
from core.workshops import WorkshopView, minute_now, view_of


def reveal(console: Console, passphrase: str) -> WorkshopView:
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
    with console.db.read.begin() as session:
        w = console.workshop(session)
        check_transition(stage_position(w), StagePosition(Stage.REVEALED), len(w.questions))
        assert w.secrets is not None
        wrapped = bytes(w.secrets.box_private_key_wrapped)
        wid = w.id
    keypair = unwrap_box_key(wrapped, passphrase)
    mixer = existing_mixer(console.db, wid)
    if mixer is not None:
        flush(console.db, mixer, force=True)
    with console.db.write.begin() as session:
        w = console.workshop(session)
        check_transition(stage_position(w), StagePosition(Stage.REVEALED), len(w.questions))
        assert w.secrets is not None
        blobs = sealed_ballots(session, w.id)
        opened = open_ballots(
            keypair,
            blobs,
            ballot_aad(w.id, w.code),
            [m.key for m in w.methods],
            [r.key for r in w.roles],
            w.ballot_size,
        )
        opened, merged = _merge_small_roles(opened, w)
        opened = shuffled(opened)
        _store_opened(session, w.id, opened)
        session.execute(
            update(SEALED_BALLOTS).where(SEALED_BALLOTS.c.workshop_id == w.id).values(sealed=b"")
        )
        # Never written by this version (see `core.live_key`); cleared for older databases.
        w.secrets.box_private_key_live = None
        w.stage = Stage.REVEALED
        w.stage_changed_at = minute_now()
        publish_final(
            session,
            w.id,
            [m.key for m in w.methods],
            w.ballot_size,
            [b.ranking for b in opened],
            roles_merged=merged,
        )
        session.flush()
        view = view_of(w)
    forget_live_key(console.db, wid)
    scrub_storage(console.db, ("sealed_ballots", "workshop_secrets", "result_publications"))
    return view


def _store_opened(session: Session, workshop_id: int, opened: Sequence[OpenedBallot]) -> None:
    # Fresh random ids (the caller shuffled): no opened row points back to its sealed row.
    rows = [
        {
            "id": random_id(),
            "workshop_id": workshop_id,
            "ranking": ranking_text(b.ranking),
            "role": b.role,
        }
        for b in opened
    ]
    if rows:
        session.execute(insert(OPENED_BALLOTS), rows)


def _merge_small_roles(
    opened: Sequence[OpenedBallot], w: Workshop
) -> tuple[list[OpenedBallot], tuple[str, ...]]:
    """Each ballot's role as the screens show it: a role the breakdown does not show on its
    own (too few ballots, or merged against differencing) becomes no role ("other"). Also
    the names of the roles merged against differencing, so screens can still say why."""
    if not opened:
        return list(opened), ()
    plan = choose_groups(Counter(b.role or None for b in opened), k=w.anonymity_k)
    merged = [OpenedBallot(plan.group_of(b.role), b.ranking) for b in opened]
    return merged, plan.merged_against_subtraction
