"""Why `runner.postScriptGC = false` (and `gc.freeze()` in the entry point).

Streamlit runs `gc.collect(2)` after every script and fragment run when postScriptGC is on.
This prints what one such collection costs with the app's modules loaded, before and after
`gc.freeze()`. Figures, not a pass/fail test. Run: `python -m benchmarks.gc_setting`.
"""

from __future__ import annotations

import gc
import statistics
import time


def _time_collections(n: int = 15) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        gc.collect(2)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    import altair  # noqa: F401
    import pandas  # noqa: F401
    import sqlalchemy  # noqa: F401
    import streamlit
    import streamlit.runtime.scriptrunner  # noqa: F401

    import core.instance
    import core.models  # noqa: F401

    tracked = len(gc.get_objects())
    before = _time_collections()
    gc.freeze()
    after = _time_collections()
    print(f"objects tracked by gc: {tracked}")
    print(
        f"gc.collect(2) median, postScriptGC as Streamlit does it: {before:.1f} ms per script run"
    )
    print(f"gc.collect(2) median after gc.freeze():                  {after:.1f} ms per script run")
    print(
        f"gc_setting: collect_ms={before:.1f} frozen_ms={after:.1f} "
        f"max_runs_per_s_gc_bound={1000 / before:.0f}"
    )


if __name__ == "__main__":
    main()
