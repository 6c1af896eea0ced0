"""AppTest fixtures: the real entry point, on a temporary SQLite instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import settings_from_env
from core.instance import Instance, open_instance
from ui import state

ROOT = Path(__file__).resolve().parents[2]

# Production hides error details from participants; tests want the real traceback.
from streamlit import config as _st_config  # noqa: E402

_st_config.set_option("client.showErrorDetails", "full")
ADMIN = "admin-pass-123"


class _NavigationAlreadySeen:
    """Stands in for `PagesManager` inside the script runner: the flag a real server clears
    for good once any session has run `st.navigation`."""

    uses_pages_directory = False


def through_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `AppTest.switch_page` run a page the way a running server does: through
    `evaluation_app.py` (its sidebar, its language switch, its routing).

    AppTest resets Streamlit's process-wide "pages/ folder" flag before every run, so on its
    own it runs `pages/x.py` as a bare script (the old multipage mode) and hides every fault
    that only shows when the entry point and the page render together (issue 12: two
    `lang_switch` widgets on /join). The server clears that flag for good after the first
    session; the script runner is told the same here.
    """
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.setattr(script_runner, "PagesManager", _NavigationAlreadySeen)


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Instance]:
    """Point the app at a fresh database and clear the process-wide cached instance."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("BEIDUI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BEIDUI_ADMIN_PASSWORD", ADMIN)
    monkeypatch.setenv("BASE_URL", "http://beidui.test")
    through_the_entry_point(monkeypatch)
    from ui.runtime import instance

    instance.clear()
    inst = open_instance(settings_from_env())
    yield inst
    instance.clear()
    inst.db.dispose()


def make_app(query: dict[str, str] | None = None, locale: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "evaluation_app.py"), default_timeout=30)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if locale:
        at.context = {"locale": locale}
    return at


def unlock_console(at: AppTest, code: str, passphrase: str) -> AppTest:
    """Open the console of `code` the way a facilitator does: type the code and passphrase."""
    at.text_input(key="unlock_code").input(code)
    at.text_input(key="unlock_phrase").input(passphrase)
    next(b for b in at.button if b.key and b.key.startswith("FormSubmitter:unlock")).click().run()
    return at


def open_tab(at: AppTest, label: str) -> AppTest:
    """Choose a console tab (bound to the URL's `tab` parameter) by its label."""
    at.session_state[state.CONSOLE_TAB] = label
    return at.run()


def next_step(at: AppTest) -> AppTest:
    """Press the console's "next" button, confirming when the step cannot be undone."""
    at.button(key="next_step").click().run()
    confirm = [b for b in at.button if b.key == "confirm_next"]
    if confirm:
        confirm[0].click().run()
    return at


def submit(at: AppTest, form: str) -> AppTest:
    """Press the (first) submit button of the form named `form`."""
    prefix = f"FormSubmitter:{form}-"
    next(b for b in at.button if (b.key or "").startswith(prefix)).click().run()
    return at
