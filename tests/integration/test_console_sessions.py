"""The facilitator's console session: survives a reload, expires, can be ended, and cannot be
forged by someone holding the whole database and the instance secret (issue 10 item 6,
issue 12)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text, update

from core import note_moderation
from core.cards import issue_cards, void_unused_cards
from core.closing import close_voting
from core.console import move_to
from core.console_access import end_console, open_console, resume_console, unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.instance import Admin, Instance
from core.models import ConsoleSession
from core.templates import available_templates
from core.workshops import NotAuthorized, get_workshop
from core.workshops import create_workshop as _create

PASS = "correct horse battery"


def _workshop(instance: Instance) -> str:
    return _create(Admin.trusted(instance.db), available_templates()["default"], "Console", PASS)


def test_a_console_token_resumes_its_workshop_after_a_reload(instance: Instance) -> None:
    code = _workshop(instance)
    token = unlock_console(instance.db, instance.secret_key, code, PASS).token
    # A reload: a new browser session holding only the token from the URL.
    resumed = resume_console(instance.db, instance.secret_key, token)
    assert resumed.code == code
    move_to(resumed, StagePosition(Stage.QUESTIONS, 0))
    assert get_workshop(instance.db, code).stage == Stage.QUESTIONS


def test_the_database_keeps_neither_the_token_nor_the_passphrase(instance: Instance) -> None:
    code = _workshop(instance)
    token = unlock_console(instance.db, instance.secret_key, code, PASS).token
    with instance.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM console_sessions")).mappings().all()
    dumped = repr([dict(r) for r in rows]).encode()
    assert len(rows) == 1
    assert token.encode() not in dumped and PASS.encode() not in dumped
    assert bytes(rows[0]["token_hash"]) != hashlib.sha256(token.encode()).digest()


def test_an_ended_console_session_stops_working(instance: Instance) -> None:
    code = _workshop(instance)
    token = unlock_console(instance.db, instance.secret_key, code, PASS).token
    other = unlock_console(instance.db, instance.secret_key, code, PASS).token
    end_console(instance.db, instance.secret_key, token)
    with pytest.raises(NotAuthorized):
        resume_console(instance.db, instance.secret_key, token)
    with pytest.raises(NotAuthorized):
        issue_cards(open_console(instance.db, instance.secret_key, code, token), 3)
    # Another open console (a second laptop) is not ended with it.
    assert resume_console(instance.db, instance.secret_key, other).code == code


def test_a_console_session_expires(instance: Instance) -> None:
    code = _workshop(instance)
    token = unlock_console(instance.db, instance.secret_key, code, PASS).token
    with instance.db.write.begin() as session:
        session.execute(
            update(ConsoleSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(NotAuthorized):
        resume_console(instance.db, instance.secret_key, token)
    with pytest.raises(NotAuthorized):
        issue_cards(open_console(instance.db, instance.secret_key, code, token), 3)


def test_a_token_of_one_workshop_does_not_open_another(instance: Instance) -> None:
    code_a, code_b = _workshop(instance), _workshop(instance)
    token_a = unlock_console(instance.db, instance.secret_key, code_a, PASS).token
    with pytest.raises(NotAuthorized):
        issue_cards(open_console(instance.db, instance.secret_key, code_b, token_a), 3)


def _everything_in_the_database(db: Database) -> list[str]:
    """Every value of every table, as text, hex and the raw bytes' own text."""
    values: list[str] = []
    with db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                for value in row.values():
                    if isinstance(value, bytes | memoryview):
                        raw = bytes(value)
                        values += [raw.hex(), raw.decode("latin-1")]
                    elif value is not None:
                        values.append(str(value))
    return values


def test_the_database_and_the_instance_secret_cannot_forge_a_console_grant(
    instance: Instance,
) -> None:
    """The adversary: reads every table and holds the instance secret, while a facilitator
    has an open console. Every grant it can compute from what it holds is refused, for
    closing voting, issuing and voiding cards and releasing notes."""
    db, secret = instance.db, instance.secret_key
    code = _workshop(instance)
    real = unlock_console(db, secret, code, PASS).token
    move_to(open_console(db, secret, code, real), StagePosition(Stage.QUESTIONS, 0))

    stolen = _everything_in_the_database(db)
    with db.engine.connect() as conn:
        workshop_id, passphrase_hash = conn.execute(
            text(
                "SELECT w.id, s.passphrase_hash FROM workshops w "
                "JOIN workshop_secrets s ON s.workshop_id = w.id"
            )
        ).one()
        stored_hashes = [
            bytes(h) for (h,) in conn.execute(text("SELECT token_hash FROM console_sessions"))
        ]
    # The grant before issue 12: an HMAC over values the database and the secret both hold.
    old_style = hmac.new(
        secret, f"facilitator:{workshop_id}:{passphrase_hash}".encode(), hashlib.sha256
    ).hexdigest()
    candidates = {old_style, passphrase_hash, *stolen}
    for h in stored_hashes:
        candidates |= {h.hex(), h.decode("latin-1"), hmac.new(secret, h, "sha256").hexdigest()}
    # The real grant must be none of them: were it computable (the old style above), the
    # adversary would hold it, and discarding it here would hide exactly that.
    assert real not in candidates

    attempts = [
        lambda g: close_voting(open_console(db, secret, code, g)),
        lambda g: issue_cards(open_console(db, secret, code, g), 1),
        lambda g: void_unused_cards(open_console(db, secret, code, g)),
        lambda g: note_moderation.flush_pending(open_console(db, secret, code, g), 0),
        lambda g: move_to(open_console(db, secret, code, g), StagePosition(Stage.VOTING, 0)),
    ]
    for grant in sorted(candidates):
        for act in attempts:
            with pytest.raises(NotAuthorized):
                act(grant)
    assert get_workshop(db, code).stage == Stage.QUESTIONS


def test_a_name_loses_bidi_nul_and_control_characters_when_created(instance: Instance) -> None:
    code = _create(
        Admin.trusted(instance.db),
        available_templates()["default"],
        "\u202e年会\x00 2024\u2066\n",
        PASS,
    )
    assert get_workshop(instance.db, code).name == "年会 2024"


def test_a_stale_console_cannot_skip_a_question(instance: Instance) -> None:
    """Two laptops show question 1; both press "next": the room moves once, not twice."""
    from core.console import RoomMovedOn, advance_stage

    db, key = instance.db, instance.secret_key
    code = _workshop(instance)
    token = unlock_console(db, key, code, PASS).token
    move_to(open_console(db, key, code, token), StagePosition(Stage.QUESTIONS, 0))
    seen = get_workshop(db, code).position
    advance_stage(open_console(db, key, code, token), seen, StagePosition(Stage.QUESTIONS, 1))
    with pytest.raises(RoomMovedOn):
        advance_stage(open_console(db, key, code, token), seen, StagePosition(Stage.QUESTIONS, 1))
    assert get_workshop(db, code).position == StagePosition(Stage.QUESTIONS, 1)


def test_wrong_passphrases_are_limited_but_the_right_one_still_opens(instance: Instance) -> None:
    from core.crypto.passphrases import WrongPassphrase
    from core.ratelimit import TooManyAttempts

    code = _workshop(instance)
    for _ in range(6):
        with pytest.raises(WrongPassphrase):
            unlock_console(instance.db, instance.secret_key, code, "guess", client_key="ip:x")
    with pytest.raises(TooManyAttempts):
        unlock_console(instance.db, instance.secret_key, code, PASS, client_key="ip:x")
    # Another client (an honest facilitator elsewhere) is not locked out.
    assert unlock_console(instance.db, instance.secret_key, code, PASS, client_key="ip:y")
