"""web.process: the open-files limit is raised towards what a room needs, never lowered."""

from __future__ import annotations

import resource
import subprocess
import sys

from tests.server import ROOT

PROBE = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, ({start}, hard))
from web.process import raise_open_file_limit
now = raise_open_file_limit({wanted})
print(now, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)
"""


def _probe(start: int, wanted: int) -> tuple[int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(start=start, wanted=wanted)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    returned, soft, hard = (int(x) for x in out)
    return returned, soft, hard


def test_a_low_soft_limit_is_raised_up_to_the_wanted_figure_within_the_hard_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = 3000 if hard == resource.RLIM_INFINITY else min(3000, hard)
    returned, soft, _ = _probe(256, wanted)
    assert soft == returned == wanted


def test_a_soft_limit_already_above_the_wanted_figure_is_left_alone() -> None:
    returned, soft, _ = _probe(2048, 1000)
    assert soft == returned == 2048


def test_the_hard_limit_is_never_exceeded() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return
    returned, soft, probed_hard = _probe(min(256, hard), hard * 4)
    assert soft == returned == probed_hard == hard
