"""How many guesses the attempt limiters let through (figures, never pass/fail).

Run: `.venv/bin/python -m benchmarks.doors`. Each scenario plays one minute of an attacker
against `core.ratelimit.AttemptLimiter` with its production policy, on a simulated clock (the
limiter's decisions depend only on time, so a minute is replayed in milliseconds), sending a
guess every 10 ms and retrying the moment it is allowed to:

- `same-client`: every guess from one address (a new browser session per guess changes
  nothing: pages key the limiter by address, ui/doors.py);
- `fresh-clients`: every guess under a new client key (clients the server cannot tell apart,
  e.g. behind one proxy, or many addresses): only the per-workshop back-off holds them;
- `honest-typo`: one person mistyping once, then typing the right code, during the
  `fresh-clients` attack: how long the right code waits.

It then measures the limiter's own cost on the wall clock (check + record_failure pairs per
second, one thread), which bounds nothing by itself but shows the limiter is never the slow
part of a request. Last line: `doors: same-client=<n>/min fresh-clients=<n>/min
honest-wait=<s>s limiter=<n> ops/s`.
"""

from __future__ import annotations

import time

from core.ratelimit import AttemptLimiter, TooManyAttempts


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _attack(fresh_clients: bool, seconds: float = 60.0) -> tuple[int, float]:
    """Guesses let through in `seconds`, and how long an honest right code then waits."""
    clock = _Clock()
    limiter = AttemptLimiter(clock=clock)
    end = clock.now + seconds
    passed = 0
    i = 0
    while clock.now < end:
        client = f"attacker-{i}" if fresh_clients else "ip:attacker"
        i += 1
        try:
            limiter.check("W1", client)
        except TooManyAttempts:
            clock.now += 0.01
            continue
        limiter.record_failure("W1", client)
        passed += 1
        clock.now += 0.01
    # An honest participant: one typo, then the right code, retrying every second.
    start = clock.now
    try:
        limiter.check("W1", "ip:honest")
        limiter.record_failure("W1", "ip:honest")
    except TooManyAttempts:
        pass
    while True:
        try:
            limiter.check("W1", "ip:honest")
            break
        except TooManyAttempts:
            clock.now += 1.0
    return passed, clock.now - start


def _limiter_ops_per_second(n: int = 200_000) -> float:
    limiter = AttemptLimiter()
    t0 = time.perf_counter()
    for i in range(n // 2):
        client = f"c{i % 5000}"
        try:
            limiter.check("W1", client)
        except TooManyAttempts:
            continue
        limiter.record_failure("W1", client)
    return n / (time.perf_counter() - t0)


def main() -> None:
    same, _ = _attack(fresh_clients=False)
    fresh, honest_wait = _attack(fresh_clients=True)
    ops = _limiter_ops_per_second()
    print(f"same-client: {same} guesses let through in one minute ({same / 60:.2f} attempts/s)")
    print(f"fresh-clients: {fresh} guesses let through in one minute ({fresh / 60:.2f} attempts/s)")
    print(f"honest-typo during that attack: the right code waited {honest_wait:.0f} s")
    print(f"limiter cost: {ops:,.0f} check/record operations per second (one thread)")
    print(
        f"doors: same-client={same}/min fresh-clients={fresh}/min "
        f"honest-wait={honest_wait:.0f}s limiter={ops:.0f} ops/s"
    )


if __name__ == "__main__":
    main()
