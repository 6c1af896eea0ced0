"""Every number docs/threat-model.md quotes from the code is the code's number, and the nginx
recipes deny what it says they deny: a changed constant (or a changed document) fails here
until the other follows."""

from __future__ import annotations

import re
from pathlib import Path

from core import batches, casting, limits, mix, note_batches
from core.ballot_values import SEALED_LENGTH
from core.console_access import CONSOLE_SESSION_LIFETIME
from core.models import random_id
from core.ratelimit import LimiterPolicy

ROOT = Path(__file__).resolve().parents[2]
DOC = " ".join((ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8").split())


def _n(value: float) -> str:
    return f"{value:g}"


def test_the_waits_the_threat_model_quotes_are_the_codes() -> None:
    watch = _n(batches.WATCH_INTERVAL_SECONDS)
    assert DOC.count(f"`WATCH_INTERVAL_SECONDS` ({watch} s)") == 2  # the measure, the residual
    wait = _n(mix.SNAPSHOT_WAIT_SECONDS)
    assert f"`SNAPSHOT_WAIT_SECONDS` ({wait} s)" in DOC
    assert f"the rewrite waits, {wait} s" in DOC and f"等待 {wait} 秒" in DOC  # both summaries
    assert f"`SWEEP_INTERVAL_S` = {_n(note_batches.SWEEP_INTERVAL_S)} s" in DOC
    busy = re.search(r"busy_timeout=(\d+)", (ROOT / "core" / "db.py").read_text())
    assert busy is not None
    assert f"SQLite's {_n(int(busy.group(1)) / 1000)} s busy timeout" in DOC


def test_the_sizes_the_threat_model_quotes_are_the_codes() -> None:
    assert (
        f"padded to {limits.PAYLOAD_LENGTH} bytes, so every sealed ballot is {SEALED_LENGTH} bytes"
        in DOC
    )
    assert f"keyed by {len(random_id()) * 4}-bit random ids" in DOC
    assert f"(k ≥ {limits.MIN_ANONYMITY_K} is enforced)" in DOC


def test_the_lifetimes_the_threat_model_quotes_are_the_codes() -> None:
    minutes = casting.TICKET_TTL_SECONDS // 60
    assert f"expires {minutes} minutes after its batch was written or refused" in DOC
    hours = CONSOLE_SESSION_LIFETIME.total_seconds() / 3600
    assert f"an expiry ({_n(hours)} h)" in DOC


def test_the_limiter_numbers_the_threat_model_quotes_are_the_codes() -> None:
    policy = LimiterPolicy()
    per_second = 1 / policy.pressure_spacing_s
    assert (
        f"past {policy.workshop_failures} failures a minute every failing client waits after its"
        f" first failure ({_n(policy.pressure_wait_s)} s) and the workshop takes at most"
        f" {_n(per_second)} attempts a second" in DOC
    )
    assert policy.window_s == 60
    assert (
        f"Honest typos: {policy.free_failures} free a minute, then waits of"
        f" {_n(policy.first_wait_s)} s doubling up to {_n(policy.max_wait_s / 60)} minutes" in DOC
    )
    assert f"under that pressure: {_n(policy.pressure_wait_s)} s after each failure" in DOC


def test_both_nginx_recipes_deny_the_metrics_endpoint(tmp_path: Path) -> None:
    """The threat model says "the nginx recipe denies it too": the one in docs/deployment.md
    and the one scripts/replicas.py runs."""
    from scripts.replicas import config_text

    deny = "location = /_stcore/metrics { return 404; }"
    assert deny in (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert deny in config_text(8080, [8501, 8502], tmp_path)
