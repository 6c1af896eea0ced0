"""Export the demo report and screenshot it: `.venv/bin/python -m scripts.report_screenshots`.

Seeds a realistic 47-ballot workshop through the core services on a throw-away SQLite file
(four questions with notes, dots, themes and summary points; five roles, two below k), exports
the signed bundle in Chinese and in English, and saves under docs/screenshots/:

* report-html-zh.png, report-html-en.png: the top of each HTML report (system Chromium);
* report-pdf-zh-p1.png, report-pdf-en-p1.png (and p2): PDF pages rendered by pdftoppm.

With `--keep DIR` the two bundles are also copied to DIR. Everything is made up here, from a
seeded random generator, so the pictures change only when the report does.
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from core import (
    export,
    export_signing,
    note_moderation,
    note_summary,
    note_themes,
    notes,
)
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.export_formats import export_html, export_pdf
from core.instance import Admin
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PASS = "report screenshots 2026"
NOTES = {
    0: [
        ("我学会了写项目书，第一次拿到了资助", 6, "能力"),
        ("团队管理能力提升了，开会不再吵架", 4, "能力"),
        ("认识了很多同伴，不再孤单", 5, "关系"),
        ("佤族伙伴婧琦说：第一次觉得自己的声音被听见", 7, "关系"),
        ("学会用数据说话，向理事会汇报更有底气", 2, "能力"),
        ("财务管理规范了很多", 1, None),
    ],
    1: [
        ("导师每个月的陪伴电话，让我在最难的时候没有放弃", 8, "陪伴"),
        ("非限定性资助让我们敢于尝试新的社区活动", 7, "资金"),
        ("共创金虽然不多，但让三个机构第一次一起做事", 4, "资金"),
        ("社區互助（臺灣經驗）的分享很有啟發", 3, "陪伴"),
        ("行动研究让团队学会了边做边复盘", 3, None),
        ("太多表格要填", 2, None),
    ],
    2: [
        ("希望社群更开放，欢迎畲族等少数民族伙伴", 5, "开放"),
        ("更多跨区域合作", 4, "开放"),
        ("有自己的资金来源，不只靠一个资助方", 6, "自主"),
        ("年轻人愿意留下来", 3, None),
    ],
    3: [
        ("分享我的经验，带新伙伴入门", 5, "传承"),
        ("参与社群治理，轮值做召集人", 4, "治理"),
        ("帮忙记录和整理每次活动的照片", 1, None),
    ],
}
SUMMARIES = {
    0: ["成长集中在两方面：做事的能力（项目书、管理、财务）和彼此的关系", "少数民族伙伴感到被听见"],
    1: ["陪伴和不限定用途的资金被提到最多", "表格负担是唯一明显的抱怨"],
    2: ["大家希望社群更开放、资金更自主"],
    3: ["多数人愿意带新人、参与治理"],
}
HIDDEN = {1: "太多表格要填"}
WEIGHTS = {
    "unrestricted_funding": 30.0,
    "mentor_accompaniment": 14.0,
    "action_research": 13.0,
    "supportive_stance": 5.0,
    "annual_gathering": 3.0,
    "tiered_capacity_building": 2.0,
    "co_creation_fund": 1.5,
    "regional_network": 1.0,
}
ROLES = (
    ["partner"] * 20
    + ["trainee"] * 12
    + ["mentor"] * 6
    + ["co_initiator"] * 3
    + ["observer"] * 1
    + [None] * 5
)


def _draw(rng: random.Random, size: int) -> tuple[str, ...]:
    pool = dict(WEIGHTS)
    out: list[str] = []
    for _ in range(rng.choice([size, size, size, 3])):
        pick = rng.choices(list(pool), weights=list(pool.values()))[0]
        out.append(pick)
        del pool[pick]
    return tuple(out)


def seed(db: Database) -> str:
    rng = random.Random(2026)
    secret_key = secrets.token_bytes(32)
    template = available_templates()["default"]
    code = create_workshop(
        Admin.trusted(db), template, "2026 社群年会项目评估", PASS, anonymity_k=5
    )
    unlocked = unlock_console(db, secret_key, code, PASS)
    for question, rows in NOTES.items():
        move_to(unlocked, StagePosition(Stage.QUESTIONS, question))
        for text, _, _ in rows:
            notes.post_note(db, code, text, question)
        note_moderation.flush_pending(unlocked, question)
        wall = {n.text: n.id for n in notes.wall(db, code, question, include_hidden=True)}
        themes: dict[str, int] = {}
        for text, dots, theme in rows:
            for _ in range(dots):
                notes.add_dot(db, code, wall[text])
            if theme is not None:
                if theme not in themes:
                    themes[theme] = note_themes.create_theme(unlocked, question, theme)
                note_themes.assign_note(unlocked, wall[text], themes[theme])
        # Dots are counted k at a time: count the last few before a note is hidden.
        note_moderation.flush_pending(unlocked, question)
        note_summary.set_summary_points(unlocked, question, SUMMARIES[question])
        if question in HIDDEN:
            note_moderation.hide_note(unlocked, wall[HIDDEN[question]], True)
    move_to(unlocked, StagePosition(Stage.VOTING))
    size = get_workshop(db, code).ballot_size
    cards = issue_cards(unlocked, 52)
    roles = list(ROLES)
    rng.shuffle(roles)
    for card, role in zip(cards, roles, strict=False):
        submit_ballot(db, secret_key, code, card, _draw(rng, size), role, client_key="demo")
    close_voting(unlocked)
    reveal(unlocked, PASS)
    return code


def _html_shot(html_file: Path, png: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1500})
        page.goto(html_file.as_uri())
        page.wait_for_timeout(500)
        page.screenshot(path=str(png))
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="also copy the two bundles here")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="beidui-report-") as tmp_name:
        tmp = Path(tmp_name)
        db = Database.connect(f"sqlite:///{tmp / 'demo.db'}")
        code = seed(db)
        key = export_signing.load_or_create_signing_key(export_signing.signing_key_path(tmp))
        for lang in ("zh", "en"):
            bundle = export.build_bundle(db, code, tmp / "out", lang, key)
            _html_shot(bundle / export_html.REPORT_HTML, OUT / f"report-html-{lang}.png")
            prefix = tmp / f"pdf-{lang}"
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    "70",
                    "-f",
                    "1",
                    "-l",
                    "2",
                    str(bundle / export_pdf.REPORT_PDF),
                    str(prefix),
                ],
                check=True,
            )
            for n, page in enumerate(sorted(tmp.glob(f"pdf-{lang}-*.png")), start=1):
                shutil.copy(page, OUT / f"report-pdf-{lang}-p{n}.png")
            if args.keep:
                shutil.copytree(bundle, args.keep / bundle.name, dirs_exist_ok=True)
        db.dispose()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
