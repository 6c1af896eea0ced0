"""`make run`'s own steps on a fresh data folder: migrate, seed the demo, serve, answer health."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.server import ROOT, streamlit_server

pytestmark = pytest.mark.slow


def test_setup_seeds_a_demo_workshop_and_prints_how_to_log_in(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "BEIDUI_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }

    def setup() -> str:
        return subprocess.run(
            [sys.executable, "-m", "core.setup"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    out = setup()
    assert "admin password:" in out and "demo workshop:" in out
    again = setup()
    assert again.count("demo workshop:") == 1  # seeding is idempotent
    assert (tmp_path / "secrets" / "admin_password").stat().st_mode & 0o077 == 0


def test_the_server_answers_health_and_serves_the_app_without_internet_assets(
    tmp_path: Path,
) -> None:
    with streamlit_server(tmp_path) as server:
        with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=5) as resp:
            assert resp.read().decode().strip() == "ok"
        with urllib.request.urlopen(server.url, timeout=5) as resp:
            html = resp.read().decode()
        assert '<div id="root">' in html or 'id="root"' in html
        assert "fonts.googleapis" not in html


def _soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files line in /proc/PID/limits")


def test_a_server_started_under_a_low_open_files_limit_raises_it_for_a_room(
    tmp_path: Path,
) -> None:
    """A room needs ~5 descriptors per phone (websocket, ballot connection, Streamlit's
    per-session event loop); under a systemd-like 1,024 a 1,000-phone room refused whole
    batches with "unable to open database file". The server raises its own soft limit."""
    import resource

    from web.process import WANTED_OPEN_FILES

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip(f"this machine's hard limit ({hard}) leaves nothing to raise")
    with streamlit_server(tmp_path, soft_open_files=1024) as server:
        wanted = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, 65536)
        assert _soft_open_files(server.process.pid) == wanted
