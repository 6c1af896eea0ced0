"""Browser fixtures: one Playwright driver and one Debian Chromium per test module.

Chromium is the system one (/usr/bin/chromium): tests never download a browser. Without it
the browser tests skip with the reason; with BEIDUI_REQUIRE_BROWSER=1 (CI) they fail instead,
so a broken CI image cannot pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("BEIDUI_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("BEIDUI_REQUIRE_BROWSER") == "1"
# Offline and quiet: the browser must contact nothing but the app on 127.0.0.1.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"

DESKTOP: dict[str, Any] = {"viewport": {"width": 1920, "height": 1080}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 1,
    "has_touch": True,
    "is_mobile": True,
}


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"a browser is required here (BEIDUI_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and later tests that call asyncio.run() (the protocol client)
    # would fail with "cannot be called from a running event loop".
    """A headless Chromium shared by every browser test; each test makes its own contexts."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"Playwright for Python is not installed ({exc})")
    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:
            _unavailable(f"{CHROMIUM} did not start: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests save screenshots (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
