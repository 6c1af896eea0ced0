"""The admin handle: only the admin password (or trusted code) makes one, and what a page keeps
of it — the admin token — cannot be made without the instance secret and expires."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from core import instance
from core.config import Settings
from core.instance import Admin, Instance, admin_login, resume_admin


def _instance(tmp_path: Path, secret: bytes = b"s" * 32) -> Instance:
    settings = Settings(database_url="sqlite://", data_dir=tmp_path, admin_password="right-one")
    return Instance(db=cast(Any, object()), secret_key=secret, settings=settings)


def test_the_admin_password_gives_a_token_that_rebuilds_the_admin(tmp_path: Path) -> None:
    inst = _instance(tmp_path)
    signed_in = admin_login(inst, "right-one", client_key="test:admin-token")
    assert signed_in.token and signed_in.db is inst.db
    assert resume_admin(inst, signed_in.token) == signed_in
    assert signed_in.token not in repr(signed_in)


def test_a_forged_foreign_or_expired_admin_token_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = _instance(tmp_path)
    token = admin_login(inst, "right-one", client_key="test:admin-token").token
    expires, nonce, mac = token.split(".")
    assert resume_admin(inst, f"{int(expires) + 3600}.{nonce}.{mac}") is None  # longer life
    assert resume_admin(_instance(tmp_path, b"o" * 32), token) is None  # another instance
    for junk in ("", "x", "..", "1.2.3", cast(Any, None), "9" * 500):
        assert resume_admin(inst, junk) is None
    later = instance.time.time() + instance.ADMIN_SESSION_LIFETIME.total_seconds() + 1
    monkeypatch.setattr(instance.time, "time", lambda: later)
    assert resume_admin(inst, token) is None


def test_trusted_code_says_so_and_gets_no_token(tmp_path: Path) -> None:
    inst = _instance(tmp_path)
    trusted = Admin.trusted(inst.db)
    assert trusted.token == "" and resume_admin(inst, trusted.token) is None
