"""One running Beidui instance: its database, its secret key, its settings.

The app builds this once per process (`st.cache_resource`); tests build their own.
"""

from __future__ import annotations

import hmac
import socket
from dataclasses import dataclass
from typing import ClassVar, Final

from core.config import Settings, admin_password, settings_from_env
from core.crypto import instance_secret
from core.db import Database
from core.errors import BeiduiError
from core.ratelimit import AttemptLimiter

# Per process: wrong admin passwords from one client make it wait; the whole instance is one
# "workshop" for the limiter, so fresh sessions share the instance-wide back-off.
ADMIN_LIMITER: Final = AttemptLimiter()
_ADMIN_SCOPE: Final = "<instance>"


class WrongAdminPassword(BeiduiError):
    key: ClassVar[str] = "errors.wrong_admin_password"


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


def admin_login(settings: Settings, password: str, *, client_key: str = "") -> None:
    """Check the admin password with an attempt limit (`TooManyAttempts`), else
    `WrongAdminPassword`. `client_key` is never stored (see core/ratelimit.py)."""
    ADMIN_LIMITER.check(_ADMIN_SCOPE, client_key)
    if not check_admin_password(settings, password):
        ADMIN_LIMITER.record_failure(_ADMIN_SCOPE, client_key)
        raise WrongAdminPassword("admin password")


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
