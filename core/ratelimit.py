"""Failed-attempt limiter for card codes (and any other guessable secret typed on a page).

In memory only: this module must never persist, log or return what it holds, and never keep
a raw client key (it stores an HMAC of it under a per-process random key that dies with the
process). It must never slow down or block a participant for other people's failures: the
per-workshop budget only makes each *failing* client back off sooner, so someone typing a
correct code always passes. Why the numbers are what they are: docs/crypto.md.

Clients are keyed by what a new browser session cannot change: pages pass
`ui.doors.client_key()` (the client's IP address, falling back to the session only when the
server cannot see one), and the limiter keeps only an HMAC of it. Every secret a person types
has its limiter: cards (`cards.CARD_LIMITER`), facilitator passphrases
(`console_access.PASSPHRASE_LIMITER`), the admin password (`instance.ADMIN_LIMITER`).

Usage from a page:

    limiter.check(workshop, client)          # raises TooManyAttempts(retry_after_s=...)
    ... look the code up ...
    if not found: limiter.record_failure(workshop, client)

A correct code needs no call: success never consumes the budget and never resets it either
(otherwise one known spent card would reset a brute forcer's counter).
"""

from __future__ import annotations

import hmac
import math
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import BeiduiError


class TooManyAttempts(BeiduiError, key="crypto.too_many_attempts"):
    """Too many wrong codes from this client: wait `retry_after_s` seconds (params)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LimiterPolicy:
    """The limiter's numbers. Defaults suit a room of 50-100 phones."""

    # A person mistyping gets this many failures per `window_s` before any wait.
    free_failures: int = 5
    window_s: float = 60.0
    # Then waits double from `first_wait_s` up to `max_wait_s` while failures go on.
    first_wait_s: float = 15.0
    max_wait_s: float = 900.0
    # A client with no failure for this long after its last wait starts again at
    # `first_wait_s`.
    forgive_after_s: float = 900.0
    # Failures per `window_s` across a whole workshop before it is "under pressure": then
    # every failing client waits after its first failure instead of its sixth. A whole room
    # mistyping at once stays well under this.
    workshop_failures: int = 60
    # Under pressure a client's first failures cost only this wait (an honest typo during
    # someone else's attack costs seconds, not the doubling schedule)...
    pressure_wait_s: float = 2.0
    # ...and the whole workshop (or instance) takes at most one attempt per this many
    # seconds, whoever sends it: fresh browser sessions (or clients the server cannot tell
    # apart) no longer multiply an attacker's guesses. A correct code waits about a second.
    pressure_spacing_s: float = 0.25
    # Entries idle this long (and not waiting) are forgotten; memory stays bounded.
    idle_evict_s: float = 900.0
    max_entries: int = 100_000


@dataclass
class _Bucket:
    level: float = 0.0  # leaky count of recent failures (drains free_failures per window_s)
    strikes: int = 0  # waits imposed so far; the next wait is first_wait_s * 2**strikes
    blocked_until: float = 0.0
    last_failure_at: float = 0.0
    last_seen_at: float = 0.0
    next_attempt_at: float = 0.0  # workshop buckets under pressure: the shared spacing


class AttemptLimiter:
    """Per-client back-off plus a per-workshop pressure gauge, safe across threads."""

    def __init__(
        self,
        policy: LimiterPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy or LimiterPolicy()
        self._clock = clock
        # Per process, never stored: client keys hashed under it cannot be matched to session
        # ids by anyone who did not see this process's memory.
        self._hmac_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._clients: dict[bytes, _Bucket] = {}
        self._workshops: dict[bytes, _Bucket] = {}
        self._next_sweep_at = 0.0

    def _tag(self, *parts: str) -> bytes:
        message = b"".join(
            struct.pack(">I", len(b)) + b for b in (p.encode("utf-8") for p in parts)
        )
        return hmac.digest(self._hmac_key, message, "sha256")[:16]

    def _drain(self, bucket: _Bucket, now: float, capacity: int) -> None:
        elapsed = max(0.0, now - bucket.last_seen_at)
        bucket.level = max(0.0, bucket.level - elapsed * capacity / self._policy.window_s)
        bucket.last_seen_at = now

    def check(self, workshop: str, client: str) -> None:
        """Raise `TooManyAttempts` if this client must wait before trying another code."""
        now = self._clock()
        tag = self._tag("client", workshop, client)
        with self._lock:
            bucket = self._clients.get(tag)
            if bucket is not None and bucket.blocked_until > now:
                raise TooManyAttempts(retry_after_s=max(1, math.ceil(bucket.blocked_until - now)))
            room = self._workshops.get(self._tag("workshop", workshop))
            if room is not None:
                self._drain(room, now, self._policy.workshop_failures)
                if room.level > self._policy.workshop_failures:
                    if room.next_attempt_at > now:
                        raise TooManyAttempts(
                            retry_after_s=max(1, math.ceil(room.next_attempt_at - now))
                        )
                    room.next_attempt_at = now + self._policy.pressure_spacing_s

    def record_failure(self, workshop: str, client: str) -> None:
        """Count one wrong code from `client` in `workshop` (call only after `check` passed)."""
        policy = self._policy
        now = self._clock()
        client_tag = self._tag("client", workshop, client)
        workshop_tag = self._tag("workshop", workshop)
        with self._lock:
            self._sweep(now)
            room = self._workshops.setdefault(workshop_tag, _Bucket(last_seen_at=now))
            self._drain(room, now, policy.workshop_failures)
            room.level += 1
            room.last_failure_at = now
            is_under_pressure = room.level > policy.workshop_failures

            bucket = self._clients.setdefault(client_tag, _Bucket(last_seen_at=now))
            self._drain(bucket, now, policy.free_failures)
            # Quiet time counts from the end of the last wait, not the last failure: otherwise
            # sitting out a long wait would itself earn forgiveness.
            if now - max(bucket.last_failure_at, bucket.blocked_until) >= policy.forgive_after_s:
                bucket.strikes = 0
            bucket.level += 1
            bucket.last_failure_at = now
            if bucket.level > policy.free_failures:
                wait = min(policy.max_wait_s, policy.first_wait_s * 2.0 ** min(bucket.strikes, 30))
                bucket.blocked_until = max(bucket.blocked_until, now + wait)
                bucket.strikes += 1
            elif is_under_pressure:
                bucket.blocked_until = max(bucket.blocked_until, now + policy.pressure_wait_s)

    def _sweep(self, now: float) -> None:
        # Called under the lock, at most once a minute: O(entries) but rare. Idle time counts
        # from the end of a wait, so forgetting a client never shortens its back-off.
        if now < self._next_sweep_at:
            return
        self._next_sweep_at = now + 60.0
        idle = self._policy.idle_evict_s
        for table in (self._clients, self._workshops):
            stale = [
                tag
                for tag, b in table.items()
                if now - max(b.last_seen_at, b.blocked_until) >= idle
            ]
            for tag in stale:
                del table[tag]
            if len(table) > self._policy.max_entries:
                # A flood of fresh client keys: forget the longest-idle ones first.
                by_age = sorted(
                    table, key=lambda t: max(table[t].last_seen_at, table[t].blocked_until)
                )
                for tag in by_age[: len(table) - self._policy.max_entries]:
                    del table[tag]

    def entry_count(self) -> int:
        """How many client and workshop entries are held (for tests and memory checks)."""
        with self._lock:
            return len(self._clients) + len(self._workshops)
