"""AppTest fixtures: the real entry point, on a temporary SQLite instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import settings_from_env
from core.instance import Instance, open_instance

ROOT = Path(__file__).resolve().parents[2]

# Production hides error details from participants; tests want the real traceback.
from streamlit import config as _st_config  # noqa: E402

_st_config.set_option("client.showErrorDetails", "full")
ADMIN = "admin-pass-123"


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Instance]:
    """Point the app at a fresh database and clear the process-wide cached instance."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("BEIDUI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BEIDUI_ADMIN_PASSWORD", ADMIN)
    monkeypatch.setenv("BASE_URL", "http://beidui.test")
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


def confirm_box(at: AppTest) -> object:
    """The console's stage-change confirmation (its key changes after every move)."""
    return next(c for c in at.checkbox if (c.key or "").startswith("confirm_move_"))
