"""`python -m core.setup`: migrate the database and seed a demo workshop when it is empty.

Run by `make run` before the server starts. Prints how to log in; prints no participant data.
"""

from __future__ import annotations

import os
import secrets
import sys
from urllib.parse import urlsplit

from core.config import Settings, _write_private, admin_password, settings_from_env
from core.instance import Admin, Instance, base_url, open_instance
from core.templates import available_templates
from core.workshops import count_workshops, create_workshop, list_workshops

DEMO_NAME = "演示工作坊 Demo workshop"


def demo_passphrase(settings: Settings) -> str:
    path = settings.data_dir / "secrets" / "demo_passphrase"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    phrase = os.environ.get("BEIDUI_DEMO_PASSPHRASE") or "demo-" + secrets.token_urlsafe(9)
    _write_private(path, phrase + "\n")
    return phrase


def seed_demo(inst: Instance) -> str | None:
    """Create the demo workshop from the default template if there is no workshop yet."""
    if count_workshops(inst.db) > 0:
        return None
    template = available_templates()["default"]
    # The server seeds its own demo at start, holding the database already: trusted code,
    # no admin password to check (core/instance.py, `Admin`).
    return create_workshop(
        Admin.trusted(inst.db), template, DEMO_NAME, demo_passphrase(inst.settings)
    )


def server_host(settings: Settings, port: int) -> str:
    """The host phones use, for Streamlit's `browser.serverAddress`.

    Setting it keeps Streamlit from asking an internet service for this machine's public
    address at start-up and when checking a phone's origin (it would, with a wildcard bind).
    """
    return urlsplit(base_url(settings, port)).hostname or "localhost"


def main(argv: list[str]) -> int:
    settings = settings_from_env()
    port = int(os.environ.get("PORT", "8501"))
    if argv[:1] == ["--host"]:
        print(server_host(settings, port))
        return 0
    inst = open_instance(settings)
    seed_demo(inst)
    workshops = list_workshops(inst.db)
    print("Beidui 背对 — ready")
    print(f"  database:        {settings.database_url.split('@')[-1]}")
    print(f"  open on phones:  {base_url(settings, port)}  (set BASE_URL to override)")
    print(f"  admin password:  {admin_password(settings)}  (set BEIDUI_ADMIN_PASSWORD to choose)")
    demo = [w for w in workshops if w.name == DEMO_NAME]
    if demo:
        print(
            f"  demo workshop:   join code {demo[0].code}, "
            f"facilitator passphrase {demo_passphrase(settings)}"
        )
    inst.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
