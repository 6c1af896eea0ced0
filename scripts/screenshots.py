"""Regenerate the README screenshots: `.venv/bin/python -m scripts.screenshots`.

Starts the app on a throw-away data folder (loopback only), seeds a realistic workshop from
the default template through the core services (Chinese UI, the default), and saves six
PNGs to docs/screenshots/ (among them the console during a live question and the projector
at 1920×1080 during voting) with the system Chromium (/usr/bin/chromium). Everything shown is
made up here; no real workshop data is ever read.

The ballots are drawn from a seeded random generator, so the pictures only change when the
app does.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core import note_moderation, notes
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.config import settings_from_env
from core.console import move_to
from core.console_access import open_console, unlock_console
from core.domain import Stage, StagePosition
from core.instance import Admin, open_instance
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.server import ROOT, streamlit_server

OUT = ROOT / "docs" / "screenshots"
PASSPHRASE = "screenshots only 2026"
NAME = "2026 社群年会项目评估"
QUESTION = 1  # "哪些项目手法帮助到了你？": its notes lead naturally into the ballot
NOTES = [
    "导师每个月的陪伴电话，让我在最难的时候没有放弃",
    "非限定性资助让我们敢于尝试新的社区活动",
    "年会上认识的伙伴，后来成了我们的合作方",
    "行动研究让团队学会了边做边复盘",
    "小灶一对一辅导，解决了我们的财务管理难题",
    "项目官员不是来检查的，而是来一起想办法的",
    "共创金虽然不多，但让三个机构第一次一起做事",
    "区域网络让我们在本地不再孤单",
    "大灶课程的内容有点多，希望能分期进行",
    "希望同伴互访的机会更多一些",
]
DOTS = [7, 5, 4, 4, 3, 3, 2, 2, 1, 0]
# How likely each method is to be ranked high: a realistic, skewed room.
WEIGHTS = {
    "unrestricted_funding": 40.0,
    "mentor_accompaniment": 16.0,
    "action_research": 8.0,
    "supportive_stance": 5.0,
    "annual_gathering": 3.0,
    "tiered_capacity_building": 2.0,
    "co_creation_fund": 1.5,
    "regional_network": 1.0,
}
ROLES = ["partner"] * 12 + ["trainee"] * 8 + ["mentor"] * 3 + [None] * 7
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "has_touch": True,
    "is_mobile": True,
    "locale": "zh-CN",
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1920, "height": 1080}, "locale": "zh-CN"}
TIMEOUT = 60_000
REVIEW_BUTTON = "检查我的排序"  # join.review_button in zh: the screenshots show the default UI


def weighted_ranking(rng: random.Random, size: int) -> list[str]:
    """One ballot: methods drawn without replacement, likelier ones first."""
    pool = dict(WEIGHTS)
    ranking = []
    for _ in range(rng.randint(3, size)):
        key = rng.choices(list(pool), weights=list(pool.values()))[0]
        ranking.append(key)
        del pool[key]
    return ranking


def settle(page: Any, expect: Any) -> None:
    expect(page.locator('[data-testid="stApp"]')).to_be_visible(timeout=TIMEOUT)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)
    time.sleep(1.0)  # let fonts and the chart finish drawing; a picture, not a test


def main() -> int:
    if not CHROMIUM.exists():
        print(f"needs {CHROMIUM} (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory() as tmp, streamlit_server(Path(tmp)) as server:
        os.environ.update(server.env)  # the same database and instance secret as the server
        inst = open_instance(settings_from_env())
        db, key = inst.db, inst.secret_key
        code = create_workshop(
            Admin.trusted(db), available_templates()["default"], NAME, PASSPHRASE
        )
        grant = unlock_console(db, key, code, PASSPHRASE).token
        cards = issue_cards(open_console(db, key, code, grant), 40)
        move_to(open_console(db, key, code, grant), StagePosition(Stage.QUESTIONS, QUESTION))
        for text in NOTES:
            notes.post_note(db, code, text, QUESTION)
        for note in notes.wall(db, code, QUESTION):
            for _ in range(DOTS[NOTES.index(note.text)]):
                notes.add_dot(db, code, note.id)
        # Dots are counted k at a time; this process holds the last few: show them now.
        note_moderation.flush_pending(open_console(db, key, code, grant), QUESTION)

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            # Open the home page once first, so the entry point's navigation is in place
            # before the deep links below are served.
            home = browser.new_page()
            home.goto(server.url + "/")
            settle(home, expect)

            phone = browser.new_context(**PHONE).new_page()
            phone.goto(f"{server.url}/join?w={code}&card={cards[0]}")
            expect(phone.get_by_text(NOTES[0])).to_be_visible(timeout=TIMEOUT)
            phone.get_by_label("写下你的想法", exact=False).fill("伙伴之间的互访让我看到了别的可能")
            settle(phone, expect)
            phone.screenshot(path=str(OUT / "join-phone.png"), full_page=True)

            projector = browser.new_context(**DESKTOP).new_page()
            projector.goto(f"{server.url}/projector?w={code}")
            expect(projector.get_by_text(NOTES[0])).to_be_visible(timeout=TIMEOUT)
            settle(projector, expect)
            projector.screenshot(path=str(OUT / "projector-question.png"))

            # The facilitator's console during the live question, reopened from its URL token.
            console = browser.new_context(**DESKTOP).new_page()
            console.goto(f"{server.url}/facilitator?console={grant}")
            expect(console.get_by_text(NOTES[0]).first).to_be_visible(timeout=TIMEOUT)
            # Drawn, not just sent: the stage, the Next button and each note's theme box.
            expect(console.get_by_test_id("stMetricValue").first).to_be_visible(timeout=TIMEOUT)
            expect(console.locator(".st-key-next_step button")).to_be_visible(timeout=TIMEOUT)
            expect(console.locator('[class*="st-key-theme_of_"] input').first).to_be_visible(
                timeout=TIMEOUT
            )
            expect(console.get_by_test_id("stSkeleton")).to_have_count(0, timeout=TIMEOUT)
            settle(console, expect)
            console.screenshot(path=str(OUT / "console-live-question.png"), full_page=True)

            move_to(open_console(db, key, code, grant), StagePosition(Stage.VOTING))
            labels = available_templates()["default"].methods
            zh = {m.key: m.label.zh for m in labels}
            # The ballot component: tap in order (each chip shows its rank), then review.
            for method in ["unrestricted_funding", "mentor_accompaniment", "action_research"]:
                chip = phone.get_by_role("button", name=zh[method], exact=True)
                chip.wait_for(timeout=TIMEOUT)
                chip.click()
            phone.get_by_role("button", name=REVIEW_BUTTON).click()
            expect(phone.locator("ol.review li")).to_have_count(3, timeout=TIMEOUT)
            settle(phone, expect)
            phone.screenshot(path=str(OUT / "ballot-phone.png"), full_page=True)

            for card, role in zip(cards[1:31], ROLES, strict=True):
                submit_ballot(db, key, code, card, weighted_ranking(rng, 5), role)
            # The projector at 1080 during voting: one screen, nothing cut off.
            expect(projector.locator(".bd-count")).to_have_text("30", timeout=TIMEOUT)
            settle(projector, expect)
            height = projector.evaluate("document.documentElement.scrollHeight")
            if height > DESKTOP["viewport"]["height"]:
                print(f"warning: the voting projector is {height} px tall", file=sys.stderr)
            projector.screenshot(path=str(OUT / "projector-voting.png"))
            close_voting(open_console(db, key, code, grant))
            reveal(open_console(db, key, code, grant), PASSPHRASE)
            expect(projector.locator('[data-testid="stVegaLiteChart"]')).to_be_visible(
                timeout=TIMEOUT
            )
            expect(projector.locator(".bd-sentence").first).to_be_visible(timeout=TIMEOUT)
            settle(projector, expect)
            projector.screenshot(path=str(OUT / "projector-results.png"), full_page=True)
            browser.close()
        inst.db.dispose()
    for png in sorted(OUT.glob("*.png")):
        print(f"wrote {png.relative_to(ROOT)} ({png.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
