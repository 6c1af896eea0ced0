"""Start a real `streamlit run evaluation_app.py` on loopback for server-level tests."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"server at {url} not healthy: {last}")


def _soft_limit(soft: int) -> Callable[[], None]:
    def lower() -> None:
        _old, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return lower


@contextmanager
def streamlit_server(
    data_dir: Path,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    *,
    script: str = "evaluation_app.py",
    port: int | None = None,
    soft_open_files: int | None = None,
) -> Iterator[Server]:
    """`streamlit run SCRIPT` (the app by default) on 127.0.0.1, stopped on exit;
    `soft_open_files` starts it under that soft limit (as a systemd service's 1,024)."""
    port = port or free_port()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url or f"sqlite:///{data_dir / 'server.db'}",
            "BEIDUI_DATA_DIR": str(data_dir),
            "BEIDUI_ADMIN_PASSWORD": "admin-pass-123",
            "BASE_URL": f"http://127.0.0.1:{port}",
            "PORT": str(port),
            # A script outside the root (tests/apps, benchmarks) still imports core and ui.
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra_env or {})
    log_path = data_dir / f"server-{port}.log"
    setup = subprocess.run(
        [sys.executable, "-m", "core.setup"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if setup.returncode != 0:
        raise RuntimeError(setup.stderr)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                script,
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=None if soft_open_files is None else _soft_limit(soft_open_files),
        )
    server = Server(f"http://127.0.0.1:{port}", port, proc, env, log_path)
    try:
        wait_healthy(server.url)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
