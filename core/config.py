"""Settings read from the environment (and, in the app, from `.streamlit/secrets.toml`).

Never holds or logs anything about participants; only where things live and the instance's
own secrets.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.files import fsync_directory

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
TEMPLATES_DIR = DATA_DIR / "templates"


def default_database_url(data_dir: Path = DATA_DIR) -> str:
    return f"sqlite:///{data_dir / 'beidui.db'}"


@dataclass(frozen=True)
class Settings:
    """Where the database is, where the instance keeps its secrets, how phones reach us."""

    database_url: str
    data_dir: Path
    base_url: str | None = None
    admin_password: str | None = None

    @property
    def secret_key_path(self) -> Path:
        return self.data_dir / "secrets" / "instance.key"

    @property
    def admin_password_path(self) -> Path:
        return self.data_dir / "secrets" / "admin_password"


SECRETS_TOML = PROJECT_ROOT / ".streamlit" / "secrets.toml"


def _from_secrets_toml(name: str, path: Path = SECRETS_TOML) -> str | None:
    """A value from Streamlit's secrets file, read as plain TOML (core never imports
    Streamlit); the environment wins over it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    value = data.get(name)
    return str(value) if value else None


def settings_from_env(
    env: dict[str, str] | None = None, secrets_toml: Path = SECRETS_TOML
) -> Settings:
    env = dict(os.environ) if env is None else env
    data_dir = Path(env.get("BEIDUI_DATA_DIR", str(DATA_DIR)))
    return Settings(
        database_url=env.get("DATABASE_URL") or default_database_url(data_dir),
        data_dir=data_dir,
        base_url=env.get("BASE_URL") or None,
        admin_password=env.get("BEIDUI_ADMIN_PASSWORD")
        or _from_secrets_toml("admin_password", secrets_toml),
    )


def _write_private(path: Path, text: str) -> None:
    """Create a file readable only by its owner, atomically (no window with wider mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_directory(path.parent)


def admin_password(settings: Settings) -> str:
    """The instance admin password: configured, or generated once and kept owner-only.

    A generated password is printed by `make run` so the person starting the demo can log in;
    it is never shown in the app.
    """
    if settings.admin_password:
        return settings.admin_password
    path = settings.admin_password_path
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(12)
    _write_private(path, password + "\n")
    return password
