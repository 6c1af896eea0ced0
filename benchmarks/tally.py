"""Timing figures for core.tally next to pref_voting (figures, never pass/fail).

Run: `.venv/bin/python -m benchmarks.tally`. Ballots are skewed-realistic random top-5
rankings over 12 methods (Plackett-Luce with Zipf-like weights, a fifth of ballots
truncated), fixed seed. Every core timing includes encoding the ballots; every pref_voting
timing includes building its profile from one dict per ballot, as its docs show.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from core.tally.profile import build_profile
from core.tally.registry import COUNTING_METHODS, tally_all

METHODS = [f"m{i:02d}" for i in range(12)]
BALLOT_SIZE = 5
SIZES = (1_000, 10_000, 100_000)
SEED = 20261129


def skewed_ballots(n: int, seed: int = SEED) -> list[list[str]]:
    """Rooms agree on a few favourites and scatter on the rest; some stop before K."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(METHODS))]
    ballots: list[list[str]] = []
    for _ in range(n):
        pool = list(range(len(METHODS)))
        w = list(weights)
        length = BALLOT_SIZE if rng.random() > 0.2 else rng.randint(1, BALLOT_SIZE - 1)
        ranking: list[str] = []
        for _ in range(length):
            i = rng.choices(range(len(pool)), weights=w)[0]
            ranking.append(METHODS[pool.pop(i)])
            w.pop(i)
        ballots.append(ranking)
    return ballots


def best_ms(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def pref_voting_profile(ballots: list[list[str]]) -> Any:
    from pref_voting.profiles_with_ties import ProfileWithTies

    index = {m: i for i, m in enumerate(METHODS)}
    profile = ProfileWithTies(
        [{index[m]: r for r, m in enumerate(b, start=1)} for b in ballots],
        candidates=list(range(len(METHODS))),
    )
    profile.use_extended_strict_preference()
    return profile


def pref_voting_all(ballots: list[list[str]]) -> dict[str, float]:
    """Build the profile, then IRV and Schulze (beat path) and plurality, each timed once."""
    from pref_voting.iterative_methods import instant_runoff
    from pref_voting.margin_based_methods import beat_path
    from pref_voting.scoring_methods import plurality

    out: dict[str, float] = {}
    start = time.perf_counter()
    profile = pref_voting_profile(ballots)
    out["profile"] = (time.perf_counter() - start) * 1000
    for name, fn in (
        ("plurality", plurality),
        ("instant_runoff", instant_runoff),
        ("schulze", beat_path),
    ):
        start = time.perf_counter()
        fn(profile)
        out[name] = (time.perf_counter() - start) * 1000
    return out


def main() -> None:
    print(f"methods={len(METHODS)} ballot_size={BALLOT_SIZE} seed={SEED}")
    last_all = last_pv = 0.0
    for n in SIZES:
        ballots = skewed_ballots(n)
        repeat = 7 if n < 100_000 else 5
        profile = build_profile(ballots, METHODS, BALLOT_SIZE)
        print(f"\nballots={n} distinct_rankings={len(profile.counts)}")
        encode = best_ms(lambda b=ballots: build_profile(b, METHODS, BALLOT_SIZE), repeat)
        print(f"  {'encode (build_profile)':<26}{encode:9.1f} ms")
        for counting, entry in COUNTING_METHODS.items():
            ms = best_ms(lambda f=entry.function, b=ballots: f(b, METHODS, BALLOT_SIZE), repeat)
            print(f"  {counting:<26}{ms:9.1f} ms  (incl. encoding)")
        all_ms = best_ms(lambda b=ballots: tally_all(b, METHODS, BALLOT_SIZE), repeat)
        print(f"  {'all methods (tally_all)':<26}{all_ms:9.1f} ms")
        pv = pref_voting_all(ballots)
        pv_total = sum(pv.values())
        parts = " ".join(f"{k}={v:.0f}" for k, v in pv.items())
        print(f"  {'pref_voting':<26}{pv_total:9.1f} ms  ({parts})")
        last_all, last_pv = all_ms, pv_total
    print(
        f"tally: ballots={SIZES[-1]} all_methods_ms={last_all:.0f} "
        f"pref_voting_ms={last_pv:.0f} speedup={last_pv / last_all:.0f}x"
    )


if __name__ == "__main__":
    main()
