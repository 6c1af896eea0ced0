"""The projector says why the last ballots appear only at the reveal (issue 10, item 5).

With live results, no publication may differ from an earlier one by fewer than k ballots, so
after the close the projector still shows the last live tally and says, in the room's
language, that the last ballots are counted only at the reveal; the final result then says it
counts them all. Everything runs through the page process's own instance: the live-results
key and the queued ballots live in that process's memory.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import unlock_console
from core.domain import Stage, StagePosition
from core.instance import Admin, Instance
from core.live_key import unlock_live_results
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop
from tests.app.conftest import make_app
from tests.casting import receipts_of
from ui import live

PASS = "facilitator secret 1"
K = 3


def _rerun(at: AppTest) -> None:
    """The projector's next refresh (its reads are cached for a second, as in the room)."""
    live.forget_cached_reads()
    at.run()
    assert not at.exception


def _texts(at: AppTest) -> list[str]:
    return [e.value for kind in ("caption", "markdown") for e in getattr(at, kind)]


def test_the_projector_says_the_last_ballots_wait_for_the_reveal_and_then_that_all_count(
    app_env: Instance,
) -> None:
    from ui.runtime import instance as page_instance

    make_app().run()  # the page process's instance, whose memory holds the key and the queue
    inst = page_instance()
    code = create_workshop(
        Admin.trusted(inst.db),
        available_templates()["default"],
        "Live",
        PASS,
        anonymity_k=K,
        is_live_results=True,
    )
    console = unlock_console(inst.db, inst.secret_key, code, PASS)
    cards = issue_cards(console, 11)
    move_to(console, StagePosition(Stage.VOTING))
    unlock_live_results(console, PASS)
    ranking = ("action_research", "co_creation_fund")
    tickets = [submit_ballot(inst.db, inst.secret_key, code, c, ranking, None) for c in cards]
    receipts_of(tickets[:9])  # three batches of k; the last two wait for the close

    projector = make_app({"lang": "zh", "w": code}).run()
    projector.switch_page("pages/projector.py").run()
    assert not projector.exception
    # While voting: a live tally that holds back the newest k (9 stored: 6 counted at most).
    assert not any("开箱时才计入" in t for t in _texts(projector))

    close_voting(console)
    receipts_of(tickets[9:])
    _rerun(projector)
    held = [t for t in _texts(projector) if "投票已结束" in t and "开箱时才计入" in t]
    assert held, _texts(projector)

    reveal(console, PASS)
    _rerun(projector)
    assert any("最终结果计入全部 11 张选票" in t for t in _texts(projector)), _texts(projector)
    assert not any("开箱时才计入" in t for t in _texts(projector))
