"""The failed-attempt limiter: slows guessing, never blocks a correct code, forgets."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any, cast

import pytest

from core.ratelimit import AttemptLimiter, LimiterPolicy, TooManyAttempts


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> AttemptLimiter:
    return AttemptLimiter(clock=clock)


def fail(limiter: AttemptLimiter, workshop: str, client: str, times: int) -> None:
    for _ in range(times):
        limiter.check(workshop, client)
        limiter.record_failure(workshop, client)


def test_a_participant_may_mistype_a_few_times_without_waiting(limiter: AttemptLimiter) -> None:
    fail(limiter, "W1", "phone-a", 5)
    limiter.check("W1", "phone-a")


def test_a_brute_forcing_client_is_blocked_while_another_with_a_valid_code_still_passes(
    limiter: AttemptLimiter,
) -> None:
    fail(limiter, "W1", "attacker", 6)
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("W1", "attacker")
    assert caught.value.retry_after_s == 15
    assert caught.value.params == {"retry_after_s": 15}
    # Another phone in the same room, typing its correct code, is not slowed at all.
    limiter.check("W1", "participant")


def test_advancing_time_past_the_wait_restores_the_client(
    limiter: AttemptLimiter, clock: FakeClock
) -> None:
    fail(limiter, "W1", "phone-a", 6)
    clock.advance(14)
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("W1", "phone-a")
    assert caught.value.retry_after_s == 1
    clock.advance(1)
    limiter.check("W1", "phone-a")


def test_waits_double_while_failures_go_on_and_stop_at_the_cap(
    limiter: AttemptLimiter, clock: FakeClock
) -> None:
    # An attacker retrying the moment it is allowed to, for about three hours.
    waits = []
    for _ in range(300):
        try:
            limiter.check("W1", "attacker")
        except TooManyAttempts as exc:
            waits.append(exc.retry_after_s)
            clock.advance(exc.retry_after_s)
        else:
            limiter.record_failure("W1", "attacker")
    assert waits[:8] == [15, 30, 60, 120, 240, 480, 900, 900]
    assert max(waits) == 900


def test_a_client_quiet_for_long_enough_starts_again_at_the_first_wait(
    limiter: AttemptLimiter, clock: FakeClock
) -> None:
    fail(limiter, "W1", "phone-a", 6)
    clock.advance(15)
    fail(limiter, "W1", "phone-a", 1)  # leaky count still high: second wait
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("W1", "phone-a")
    assert caught.value.retry_after_s == 30
    clock.advance(3600)
    fail(limiter, "W1", "phone-a", 6)
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("W1", "phone-a")
    assert caught.value.retry_after_s == 15


def test_the_failure_count_drains_so_slow_mistakes_never_block(
    limiter: AttemptLimiter, clock: FakeClock
) -> None:
    for _ in range(50):
        fail(limiter, "W1", "slow-typist", 1)
        clock.advance(12)  # 5 per minute is exactly the drain rate
    limiter.check("W1", "slow-typist")


def test_the_same_client_in_another_workshop_has_its_own_budget(limiter: AttemptLimiter) -> None:
    fail(limiter, "W1", "phone-a", 6)
    limiter.check("W2", "phone-a")


def test_a_room_under_pressure_makes_each_failing_client_wait_after_one_failure(
    clock: FakeClock,
) -> None:
    limiter = AttemptLimiter(LimiterPolicy(workshop_failures=20), clock=clock)
    # Many fresh sessions, one guess each, fill the workshop's budget...
    for i in range(21):
        fail(limiter, "W1", f"fresh-session-{i}", 1)
    # ...so the next failing session waits after its very first failure (2 s: seconds),
    clock.advance(1)
    fail(limiter, "W1", "fresh-session-x", 1)
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("W1", "fresh-session-x")
    assert caught.value.retry_after_s == 2
    # while a participant with a correct code waits about a second at most, and other rooms
    # are unaffected.
    clock.advance(1)
    limiter.check("W1", "participant-with-valid-code")
    fail(limiter, "W2", "phone-in-another-room", 1)
    limiter.check("W2", "phone-in-another-room")


def test_a_whole_room_mistyping_at_once_does_not_trigger_pressure(limiter: AttemptLimiter) -> None:
    # 60 of 100 phones mistype once in the same minute; all retry without waiting.
    for i in range(60):
        fail(limiter, "W1", f"phone-{i}", 1)
    for i in range(100):
        limiter.check("W1", f"phone-{i}")


def test_the_pressure_lifts_as_time_passes(clock: FakeClock) -> None:
    limiter = AttemptLimiter(LimiterPolicy(workshop_failures=20), clock=clock)
    for i in range(21):
        fail(limiter, "W1", f"s{i}", 1)
    clock.advance(120)
    fail(limiter, "W1", "late-typist", 1)
    limiter.check("W1", "late-typist")


def _reachable(root: object) -> list[Any]:
    seen: set[int] = set()
    stack: list[Any] = [root]
    found: list[Any] = []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type) or type(obj).__name__ == "module":
            continue
        seen.add(id(obj))
        found.append(obj)
        stack.extend(gc.get_referents(obj))
    return found


def test_nothing_in_the_limiter_holds_the_raw_client_key(
    limiter: AttemptLimiter, clock: FakeClock
) -> None:
    client = "session-" + "7f3a9c2e51d84b06a1e2" * 2
    fail(limiter, "W1", client, 6)
    with pytest.raises(TooManyAttempts):
        limiter.check("W1", client)
    for obj in _reachable(limiter):
        if isinstance(obj, str):
            assert "7f3a9c2e51d84b06a1e2" not in obj
        elif isinstance(obj, bytes | bytearray):
            assert b"7f3a9c2e51d84b06a1e2" not in obj
    assert "7f3a9c2e" not in repr(vars(limiter))


def test_the_hmac_key_differs_between_limiters_so_tags_cannot_be_matched() -> None:
    a, b = AttemptLimiter(), AttemptLimiter()
    assert a._tag("client", "W1", "s") != b._tag("client", "W1", "s")


def test_idle_entries_are_forgotten(limiter: AttemptLimiter, clock: FakeClock) -> None:
    for i in range(50):
        fail(limiter, "W1", f"phone-{i}", 1)
    assert limiter.entry_count() == 51
    clock.advance(901)
    fail(limiter, "W2", "new-phone", 1)  # any failure triggers the sweep
    assert limiter.entry_count() == 2


def test_a_blocked_client_is_not_forgotten_while_it_must_wait(clock: FakeClock) -> None:
    policy = LimiterPolicy(idle_evict_s=60, max_wait_s=600, first_wait_s=600)
    limiter = AttemptLimiter(policy, clock=clock)
    fail(limiter, "W1", "attacker", 6)
    clock.advance(120)
    fail(limiter, "W2", "someone", 1)
    with pytest.raises(TooManyAttempts):
        limiter.check("W1", "attacker")


def test_a_flood_of_fresh_client_keys_stays_within_the_entry_cap(clock: FakeClock) -> None:
    limiter = AttemptLimiter(LimiterPolicy(max_entries=100, workshop_failures=10**6), clock=clock)
    for i in range(1000):
        fail(limiter, "W1", f"s{i}", 1)
        clock.advance(0.1)  # sweeps run at most once a minute
    assert limiter.entry_count() <= 100 + 1 + 600


def test_the_limiter_is_safe_under_many_threads(clock: FakeClock) -> None:
    limiter = AttemptLimiter(LimiterPolicy(workshop_failures=10**6), clock=clock)
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def hammer(n: int) -> None:
        barrier.wait()
        try:
            for _ in range(200):
                limiter.record_failure("W1", f"thread-{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert limiter._workshops[limiter._tag("workshop", "W1")].level == 3200
    for n in range(16):
        with pytest.raises(TooManyAttempts):
            limiter.check("W1", f"thread-{n}")


def test_under_pressure_fresh_sessions_do_not_multiply_an_attackers_guesses(
    clock: FakeClock,
) -> None:
    """Issue 12: a new browser session per guess reset the card limiter (736 guesses/min)."""
    limiter = AttemptLimiter(clock=clock)
    passed = 0
    for i in range(2000):  # one minute of guesses, each from a brand-new session
        clock.advance(0.03)
        try:
            limiter.check("W1", f"fresh-{i}")
        except TooManyAttempts:
            continue
        passed += 1
        limiter.record_failure("W1", f"fresh-{i}")
    # 60 free failures fill the room's budget, then at most 4 a second get through.
    assert passed < 60 + 4 * 60 + 10


def test_under_pressure_a_correct_code_waits_seconds_at_most(clock: FakeClock) -> None:
    limiter = AttemptLimiter(clock=clock)
    for i in range(200):
        clock.advance(0.01)
        try:
            limiter.check("W1", f"attacker-{i}")
        except TooManyAttempts:
            continue
        limiter.record_failure("W1", f"attacker-{i}")
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("W1", "honest")
        limiter.check("W1", "honest-2")
    assert caught.value.retry_after_s <= 1


def test_admin_password_guesses_are_limited_per_client_and_a_new_session_does_not_reset_them(
    tmp_path: Path,
) -> None:
    """Issue 12: 500 admin-password guesses in 26 s met no limit. The client key is the
    address (ui.doors.client_key), so a fresh browser session is the same client."""
    from core.config import Settings
    from core.instance import Instance, WrongAdminPassword, admin_login

    settings = Settings(database_url="sqlite://", data_dir=tmp_path, admin_password="right-one")
    inst = Instance(db=cast(Any, None), secret_key=b"k" * 32, settings=settings)
    for _ in range(5):
        with pytest.raises(WrongAdminPassword):
            admin_login(inst, "guess", client_key="ip:198.51.100.7")
    with pytest.raises(WrongAdminPassword):
        admin_login(inst, "guess", client_key="ip:198.51.100.7")
    with pytest.raises(TooManyAttempts):
        admin_login(inst, "right-one", client_key="ip:198.51.100.7")
    admin_login(inst, "right-one", client_key="ip:203.0.113.9")  # someone else: fine
