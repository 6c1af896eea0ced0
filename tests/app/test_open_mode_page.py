"""Open mode (docs/threat-model.md, "Open mode"): nothing in the core stops one person casting
several ballots; the page keeps to one ballot per browser session: once its ballot has a
receipt, the session shows the receipt and no ballot to cast again. A new session (another
browser) gets a fresh ballot: the stated residual."""

from __future__ import annotations

from core.casting import receipt_when_stored, submit_ballot
from core.console import move_to
from core.console_access import open_console, unlock_console
from core.domain import Stage, StagePosition
from core.instance import Admin, Instance
from core.templates import available_templates
from core.workshops import create_workshop
from tests.app.conftest import make_app
from ui import state

PASS = "passphrase 123"


def test_an_open_mode_phone_casts_once_per_session_and_a_new_session_can_cast_again(
    app_env: Instance,
) -> None:
    db, key = app_env.db, app_env.secret_key
    code = create_workshop(
        Admin.trusted(db),
        available_templates()["default"],
        "开放",
        PASS,
        is_open_mode=True,
        anonymity_k=3,
    )
    grant = unlock_console(db, key, code, PASS).token
    move_to(open_console(db, key, code, grant), StagePosition(Stage.VOTING))
    phone = make_app({"lang": "en", "w": code}).run()
    phone.switch_page("pages/join.py").run()
    assert phone.get("bidi_component")  # a ballot to cast
    # The core takes three ballots without a card; nothing says they are not one person's.
    tickets = [submit_ballot(db, key, code, None, ["action_research"], None) for _ in range(3)]
    receipt = receipt_when_stored(tickets[0])  # k = 3: the batch is written while voting
    # The page does not offer a second ballot: the component handed its receipt back.
    phone.session_state[state.ballot(code)] = {"receipt": receipt}
    phone.run()
    assert not phone.exception
    assert not phone.get("bidi_component")
    assert any(receipt in m.value for m in phone.markdown)
    # Another browser (a new session, without the receipt in its URL) is offered one.
    other = make_app({"lang": "en", "w": code}).run()
    other.switch_page("pages/join.py").run()
    assert other.get("bidi_component")
