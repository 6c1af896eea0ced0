"""One running Beidui instance: its database, its secret key, its settings; and the admin.

The app builds this once per process (`st.cache_resource`); tests build their own.

Creating a workshop takes an `Admin`, the proof that the admin password was checked
(`admin_login`). A page keeps only the admin token (a random value, an expiry and a keyed hash
of both under the instance secret, so it cannot be made without that secret) and rebuilds the
`Admin` on every run (`resume_admin`), never storing it, since it holds the database. Code that
already runs with the instance's own rights (setup's demo seeding, tests, benchmarks, scripts:
they hold the database itself) says so with `Admin.trusted(db)`; no page or ui module may
(tests/unit/test_house_rules.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as pysecrets
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from core.config import Settings, admin_password, settings_from_env
from core.crypto import instance_secret
from core.db import Database
from core.errors import BeiduiError
from core.limits import MAX_ADMIN_TOKEN_TEXT
from core.ratelimit import AttemptLimiter

# Per process: wrong admin passwords from one client make it wait; the whole instance is one
# "workshop" for the limiter, so fresh sessions share the instance-wide back-off.
ADMIN_LIMITER: Final = AttemptLimiter()
_ADMIN_SCOPE: Final = "<instance>"
# How long the admin password stays typed in one browser: one workshop day, like a console.
ADMIN_SESSION_LIFETIME: Final = timedelta(hours=12)
_ADMIN_TOKEN_LABEL: Final = b"beidui/admin-session/v1\x00"


class WrongAdminPassword(BeiduiError, key="errors.wrong_admin_password"): ...


@dataclass(frozen=True)
class Instance:
    db: Database
    secret_key: bytes
    settings: Settings


def open_instance(settings: Settings | None = None, *, migrate_schema: bool = True) -> Instance:
    settings = settings or settings_from_env()
    db = Database.connect(settings.database_url, migrate_schema=migrate_schema)
    secret_key = instance_secret.load_or_create_instance_secret(settings.secret_key_path)
    return Instance(db=db, secret_key=secret_key, settings=settings)


def check_admin_password(settings: Settings, password: str) -> bool:
    typed = password if isinstance(password, str) else ""
    return hmac.compare_digest(admin_password(settings).encode(), typed.encode())


@dataclass(frozen=True)
class Admin:
    """The right to create workshops on this instance.

    Made by `admin_login` / `resume_admin` (the admin password), or by `Admin.trusted(db)` in
    code that holds the database already. `token` is what a page keeps ("" when trusted).
    """

    db: Database = field(repr=False)
    token: str = field(default="", repr=False)

    @classmethod
    def trusted(cls, db: Database) -> Admin:
        """For setup's seeding, tests, benchmarks and scripts only: never from a page."""
        return cls(db)


def _admin_mac(secret_key: bytes, body: str) -> str:
    return hmac.new(secret_key, _ADMIN_TOKEN_LABEL + body.encode(), hashlib.sha256).hexdigest()


def admin_login(inst: Instance, password: str, *, client_key: str = "") -> Admin:
    """Check the admin password with an attempt limit (`TooManyAttempts`), else
    `WrongAdminPassword`; the `Admin` returned carries a token valid for
    `ADMIN_SESSION_LIFETIME`. `client_key` is never stored (see core/ratelimit.py)."""
    ADMIN_LIMITER.check(_ADMIN_SCOPE, client_key)
    if not check_admin_password(inst.settings, password):
        ADMIN_LIMITER.record_failure(_ADMIN_SCOPE, client_key)
        raise WrongAdminPassword("admin password")
    expires = int(time.time() + ADMIN_SESSION_LIFETIME.total_seconds())
    body = f"{expires}.{pysecrets.token_urlsafe(16)}"
    return Admin(inst.db, f"{body}.{_admin_mac(inst.secret_key, body)}")


def resume_admin(inst: Instance, token: str) -> Admin | None:
    """The `Admin` a token from `admin_login` stands for, or None if it is not one (forged,
    from another instance, or expired: the admin types the password again)."""
    if not isinstance(token, str) or len(token) > MAX_ADMIN_TOKEN_TEXT:
        return None
    body, _, mac = token.rpartition(".")
    expires, _, _nonce = body.partition(".")
    if not hmac.compare_digest(_admin_mac(inst.secret_key, body), mac):
        return None
    if not expires.isdigit() or int(expires) <= time.time():
        return None
    return Admin(inst.db, token)


def lan_address() -> str:
    """This machine's address on the local network (no packet is sent: UDP connect only)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only
        addr = str(sock.getsockname()[0])
    except OSError:
        addr = "127.0.0.1"
    finally:
        sock.close()
    return addr


def base_url(settings: Settings, port: int = 8501) -> str:
    """Where phones reach the app: BASE_URL if set, else this machine's LAN address."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return f"http://{lan_address()}:{port}"


def join_url(
    settings: Settings, workshop_code: str, card_code: str | None = None, port: int = 8501
) -> str:
    url = f"{base_url(settings, port)}/join?w={workshop_code}"
    return url + (f"&card={card_code}" if card_code else "")
