"""The home page and the facilitator console render and work in both languages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.domain import Stage
from core.instance import Admin, Instance
from core.workshops import list_workshops
from tests.app.conftest import ADMIN, make_app, next_step, submit, unlock_console


@pytest.mark.parametrize(
    ("lang", "title"),
    [("zh", "背对：匿名参与式评估"), ("en", "Beidui: anonymous participatory evaluation")],
)
def test_the_home_page_renders_in_each_language(app_env: Instance, lang: str, title: str) -> None:
    at = make_app({"lang": lang}).run()
    assert not at.exception
    assert at.title[0].value == title


def test_chinese_is_the_default_language(app_env: Instance) -> None:
    at = make_app().run()
    assert at.title[0].value == "背对：匿名参与式评估"


def test_the_browser_locale_picks_english(app_env: Instance) -> None:
    at = make_app(locale="en-US").run()
    assert at.title[0].value.startswith("Beidui")


def test_a_facilitator_creates_a_workshop_and_steps_it_forward(app_env: Instance) -> None:
    at = make_app({"lang": "en"}).run()
    at.switch_page("pages/facilitator.py").run()
    assert not at.exception
    assert at.title[0].value == "Facilitator console"

    at.text_input(key="admin_pw").input("wrong")
    submit(at, "admin_login")
    assert "admin password is not correct" in at.error[0].value

    at.text_input(key="admin_pw").input(ADMIN)
    submit(at, "admin_login")
    at.text_input(key="new_name").input("Annual meeting")
    at.text_input(key="new_phrase").input("facilitator secret 1")
    at.text_input(key="new_phrase2").input("facilitator secret 1")
    submit(at, "create_workshop")
    assert not at.exception
    [w] = list_workshops(app_env.db)
    assert w.name == "Annual meeting"
    assert w.code in at.success[0].value

    assert at.text_input(key="unlock_code").value == w.code  # the new workshop, ready to open
    unlock_console(at, w.code, "wrong passphrase")
    assert at.error, "a wrong passphrase must be refused with a message"
    unlock_console(at, w.code, "facilitator secret 1")
    assert not at.exception

    next_step(at)
    assert list_workshops(app_env.db)[0].stage == Stage.QUESTIONS


def test_the_join_code_survives_moving_between_pages(app_env: Instance) -> None:
    from core.templates import available_templates
    from core.workshops import create_workshop

    code = create_workshop(
        Admin.trusted(app_env.db), available_templates()["default"], "Kept", "passphrase 123"
    )
    at = make_app({"lang": "en", "w": code}).run()
    at.switch_page("pages/home.py").run()
    at.query_params.pop("w", None)  # what a click on a navigation link does
    at.switch_page("pages/join.py").run()
    assert not at.exception
    assert any("Kept" in c.value for c in at.caption)  # the phone is still in its workshop


def test_the_console_says_when_storage_kept_old_row_versions_and_rewrites_on_request(
    app_env: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewrite that left old row versions (here: the database refused the checkpoint) is
    shown to the facilitator, in their language, with the one remedy; once it works the
    notice goes."""
    from core import mix
    from core.templates import available_templates
    from core.workshops import create_workshop
    from ui.runtime import instance as page_instance

    code = create_workshop(
        Admin.trusted(app_env.db), available_templates()["default"], "Kept", "passphrase 123"
    )
    at = make_app({"lang": "en"}).run()
    at.switch_page("pages/facilitator.py").run()
    unlock_console(at, code, "passphrase 123")
    assert not at.exception and not at.warning

    def refused(_db: object) -> None:
        raise RuntimeError("checkpoint refused")

    working = mix.checkpoint_wal
    monkeypatch.setattr(mix, "checkpoint_wal", refused)
    page_db = page_instance().db
    assert mix.scrub_storage(page_db, ("sealed_ballots", "cards")) is mix.Scrub.FAILED
    at.run()
    [notice] = [w.value for w in at.warning if "old row versions" in w.value]
    assert "cards, sealed_ballots" in notice
    # The cause it names is the one that happened: a refusal, not another session's snapshot.
    assert "refused to rewrite them" in notice and "snapshot" not in notice
    at.button(key="scrub_again").click().run()  # still refused: said so, notice stays
    assert any("refused the rewrite" in e.value for e in at.error)
    monkeypatch.setattr(mix, "checkpoint_wal", working)
    at.button(key="scrub_again").click().run()
    assert not at.exception
    assert any("only the current rows" in s.value for s in at.success)
    assert not [w for w in at.warning if "old row versions" in w.value]
    assert mix.unscrubbed_tables(page_db) == frozenset()


def test_the_passphrase_is_not_kept_or_shown_once_the_console_is_unlocked(
    app_env: Instance,
) -> None:
    """Threat model: the passphrase never reaches the browser after it is typed. After the
    unlock and the next refresh, no element the page sends, no URL parameter and no value in
    the browser session's state holds it."""
    from core.templates import available_templates
    from core.workshops import create_workshop

    phrase = "a distinctive passphrase 4711"
    code = create_workshop(
        Admin.trusted(app_env.db), available_templates()["default"], "Kept", phrase
    )
    at = make_app({"lang": "zh"}).run()
    at.switch_page("pages/facilitator.py").run()
    unlock_console(at, code, phrase)
    at.run()
    assert not at.exception
    assert "console" in at.query_params  # unlocked: the console token, not the passphrase
    shown = [*_everything_shown(at.main), *_everything_shown(at.sidebar)]
    assert len(shown) > 20, "the walk found the page's elements"
    assert not [s for s in shown if phrase in s]
    assert not [v for v in at.query_params.values() if phrase in str(v)]
    assert not [k for k, v in at.session_state.to_dict().items() if phrase in repr(v)]


def _everything_shown(node: Any) -> Iterator[str]:
    """Every element under `node`, nested blocks included: its repr and its value."""
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _everything_shown(child)
        return
    yield repr(node)
    if (value := getattr(node, "value", None)) is not None:
        yield str(value)
