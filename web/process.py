"""Process limits a server for a room needs, set once at start.

Every phone on the page holds two sockets (the page's websocket, the ballot route's
keep-alive connection) and Streamlit gives every browser session an event loop of its own
(an epoll descriptor and a socket pair: three more). Measured in `benchmarks/room.py`:
~5 descriptors per phone, so 1,000 phones need ~5,000. A common default soft limit is
1,024 (systemd services, many shells): past ~200 phones new database connections then fail
with "unable to open database file" and whole batches of accepted ballots are refused. The
hard limit is the administrator's ceiling; the soft limit is ours to raise up to it.
"""

from __future__ import annotations

import logging
import resource

# Enough for several thousand phones; a higher hard limit is not taken beyond this.
WANTED_OPEN_FILES = 65536
_LOG = logging.getLogger("beidui.web")


def raise_open_file_limit(wanted: int = WANTED_OPEN_FILES) -> int:
    """Raise this process's soft limit on open files towards `wanted` (never above the hard
    limit, never lowered); the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            _LOG.warning("could not raise the open-files limit: %s", type(exc).__name__)
    if soft != resource.RLIM_INFINITY and soft < 4096:
        _LOG.warning(
            "open files limited to %d: a room of more than ~%d phones needs a higher hard"
            " limit (ulimit -Hn, LimitNOFILE=)",
            soft,
            soft // 5,
        )
    return soft
