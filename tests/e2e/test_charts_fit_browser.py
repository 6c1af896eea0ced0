"""Charts that fit, as a person sees them: the projector and the results page in Chromium at
1280x800 and 1920x1080, in zh and en, for a workshop of 8 and one of 12 methods with long
names (issue 11, item 6).

The unit tests (tests/unit/test_charts.py) check the Vega scenegraph; this one checks what
the browser drew. For every `stVegaLiteChart` on the page (the expanders opened first), in
the SVG Vega rendered:
- every bar (a rect mark's path) is wider than zero: no missing bar;
- every axis label lies inside the chart's own box and inside the page's content column,
  is not cut short with an ellipsis, and does not overlap another label of its axis;
- every text mark (the score at a bar's end, the figure in a cell) lies inside the chart;
- the chart's SVG is no wider than its container: nothing hides past the right edge.
One server and one browser context per screen size; each page is loaded once per case.
Screenshots of every page go to pytest's tmp_path (and test-artifacts/e2e/ for CI), so a
failure can be looked at.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import editing
from core.bilingual import Bilingual
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import open_console, unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.server import Server, streamlit_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSPHRASE = "charts must fit 2026"
TIMEOUT = 60_000  # ms: a first chart render on a busy two-core machine
SIZES = {"1280": (1280, 800), "1920": (1920, 1080)}

# Long names, as a facilitator types them: well past one axis line in either language.
LONG_NAMES: list[tuple[str, str]] = [
    (
        "不设限的核心资金支持（三年期、可用于人员与行政开支）",
        "Unrestricted core funding (three years, staff and overheads included)",
    ),
    (
        "共创基金：伙伴与资助方一起设计资助方向和评审标准",
        "Co-creation fund: partners and funders design the priorities and review criteria together",
    ),
    (
        "社区主导的参与式行动研究与同伴反思工作坊",
        "Community-led participatory action research with peer reflection workshops",
    ),
    (
        "支持性的资助姿态：信任、倾听、灵活调整报告要求",
        "A supportive funding stance: trust, listening and flexible reporting requirements",
    ),
    (
        "分层次的机构能力建设（财务、治理、筹款、传播）",
        "Tiered organisational capacity building (finance, governance, fundraising, communication)",
    ),
    (
        "资深导师一对一陪伴与定期回访",
        "One-to-one accompaniment by senior mentors with regular follow-up visits",
    ),
    (
        "年度伙伴大会：经验交流、彼此认识与共同学习",
        "The annual partner gathering: sharing experience, meeting each other, learning together",
    ),
    (
        "区域伙伴网络与跨省份同行互访交流计划",
        "Regional partner networks and cross-province peer exchange visits",
    ),
    (
        "小额种子资助：支持刚起步的社区小组尝试新的想法",
        "Small seed grants for newly formed community groups to try out new ideas",
    ),
    (
        "数字化工具与数据管理培训（含隐私保护实践）",
        "Digital tools and data management training, including privacy protection practice",
    ),
    (
        "社區互助（臺灣經驗）與在地知識的整理和傳承",
        "Community mutual aid (the Taiwan experience) and passing on local knowledge",
    ),
    (
        "伙伴自主评估方法：由伙伴决定什么才算成功",
        "Partner-led evaluation methods: partners decide what counts as success",
    ),
]
ROLES = ["partner", "mentor", "trainee"]


def _seed(db: Database, n_methods: int) -> str:
    """A revealed workshop of `n_methods` long-named methods in which every method scores."""
    key = secrets.token_bytes(32)  # any key: the grant is checked with the same one
    template = available_templates()["default"]
    code = create_workshop(
        Admin.trusted(db), template, f"Charts {n_methods}", PASSPHRASE, anonymity_k=3
    )
    grant = unlock_console(db, key, code, PASSPHRASE).token
    unlocked = open_console(db, key, code, grant)
    template_keys = get_workshop(db, code).method_keys
    for zh, en in LONG_NAMES[:n_methods]:
        editing.add_method(unlocked, Bilingual(zh, en))
    for method_key in template_keys:
        editing.remove_method(unlocked, method_key)
    keys = get_workshop(db, code).method_keys
    assert len(keys) == n_methods
    move_to(unlocked, StagePosition(Stage.VOTING))
    size = get_workshop(db, code).ballot_size
    # Rotated rankings: every method is on several ballots, so every bar has a length;
    # each role gets >= k ballots, so the role grid has columns.
    n_ballots = 2 * n_methods
    cards = issue_cards(unlocked, n_ballots)
    for i, card in enumerate(cards):
        # The second half favours the first half of the methods: scores differ, no 12-way tie.
        start = i % n_methods if i < n_methods else i % (n_methods // 2)
        ranking = [keys[(start + j) % n_methods] for j in range(size)]
        submit_ballot(db, key, code, card, ranking, ROLES[i % len(ROLES)], client_key="t")
    close_voting(unlocked)  # writes the ballots still waiting for a batch of k
    reveal(unlocked, PASSPHRASE)
    return code


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[int, str]]]:
    data = tmp_path_factory.mktemp("charts-server")
    with streamlit_server(data) as server:
        db = Database.connect(server.env["DATABASE_URL"], migrate_schema=False)
        try:
            codes = {n: _seed(db, n) for n in (8, 12)}
        finally:
            db.dispose()
        yield server, codes


@pytest.fixture(scope="module")
def pages(browser: Any) -> Iterator[dict[str, Any]]:
    """One page per screen size, reused for every case at that size."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT)
    contexts = [
        browser.new_context(viewport={"width": w, "height": h}, locale="en-GB")
        for w, h in SIZES.values()
    ]
    yield {name: ctx.new_page() for name, ctx in zip(SIZES, contexts, strict=True)}
    for ctx in contexts:
        ctx.close()


# --- what the browser drew ------------------------------------------------------------------

# Runs in the page: one report per chart, every box in CSS pixels.
_MEASURE = """
() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
            width: r.width, height: r.height}; };
  const main = document.querySelector('[data-testid="stMainBlockContainer"]')
            || document.querySelector('[data-testid="stMain"]');
  return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].map((chart, i) => {
    const svg = chart.querySelector('svg.marks') || chart.querySelector('svg');
    if (!svg) return {index: i, svg: null};
    const axes = [...svg.querySelectorAll('g.role-axis')].map((axis) => (
      [...axis.querySelectorAll('g.role-axis-label text')]
        .filter((t) => (t.textContent || '').trim() !== '')
        .map((t) => ({text: t.textContent, box: box(t),
                      // Vega hides a label that would overlap another (labelOverlap).
                      hidden: t.getAttribute('opacity') === '0'}))));
    const bars = [...svg.querySelectorAll('g.mark-rect.role-mark path')].map((p) => box(p));
    const texts = [...svg.querySelectorAll('g.mark-text.role-mark text')]
      .filter((t) => (t.textContent || '').trim() !== '')
      .map((t) => ({text: t.textContent, box: box(t)}));
    const legend = [...svg.querySelectorAll('g.role-legend text')]
      .filter((t) => (t.textContent || '').trim() !== '')
      .map((t) => ({text: t.textContent, box: box(t)}));
    return {index: i, svg: box(svg), container: box(chart), main: main ? box(main) : null,
            axes, bars, texts, legend};
  });
}
"""

SLACK = 1.0  # px: anti-aliasing and sub-pixel layout
ROW_SLACK = 10.0  # px: a label box's centre vs its row's (glyph boxes are not symmetric)


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["left"] >= outer["left"] - SLACK
        and inner["right"] <= outer["right"] + SLACK
        and inner["top"] >= outer["top"] - SLACK
        and inner["bottom"] <= outer["bottom"] + SLACK
    )


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    dx = min(a["right"], b["right"]) - max(a["left"], b["left"])
    dy = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return dx > SLACK and dy > SLACK


def chart_problems(report: dict[str, Any]) -> list[str]:
    """Everything a person would see as wrong in one rendered chart."""
    name = f"chart {report['index']}"
    if report["svg"] is None:
        return [f"{name}: no SVG drawn"]
    svg, container, main = report["svg"], report["container"], report["main"]
    problems: list[str] = []
    if svg["right"] > container["right"] + SLACK:
        problems.append(
            f"{name}: {svg['width']:.0f} px wide in a {container['width']:.0f} px container"
        )
    if main is not None and svg["right"] > main["right"] + SLACK:
        problems.append(f"{name}: runs past the page's content column")
    if not report["bars"] and not report["texts"]:
        problems.append(f"{name}: no marks drawn")
    for n, bar in enumerate(report["bars"]):
        if bar["width"] <= 0 or bar["height"] <= 0:
            problems.append(f"{name}: bar {n} is {bar['width']:.1f}x{bar['height']:.1f} px")
    labels = [label for axis in report["axes"] for label in axis if not label["hidden"]]
    for label in [label for axis in report["axes"] for label in axis if label["hidden"]]:
        if re.fullmatch(r"[\d.,\s%]+", label["text"]):
            continue  # a thinned-out tick number on a score axis is by design, not a loss
        problems.append(f"{name}: {label['text']!r} is not shown (Vega hid it: no room)")
    for item in [*labels, *report["texts"], *report["legend"]]:
        if not _inside(item["box"], svg):
            problems.append(f"{name}: {item['text']!r} is clipped by the chart's box")
        elif main is not None and not _inside(item["box"], {**main, "top": -1e9, "bottom": 1e9}):
            problems.append(f"{name}: {item['text']!r} runs past the content column")
        if item["text"].endswith("…"):
            problems.append(f"{name}: {item['text']!r} is cut short")
    bars = report["bars"]
    for axis in report["axes"]:
        # The method names left of the bars or cells: each sits centred on a row of marks,
        # not hanging from its first line into the next row.
        if bars and axis and all(la["box"]["right"] <= min(b["left"] for b in bars) for la in axis):
            for label in axis:
                middle = (label["box"]["top"] + label["box"]["bottom"]) / 2
                if not any(abs(middle - (b["top"] + b["bottom"]) / 2) <= ROW_SLACK for b in bars):
                    problems.append(f"{name}: {label['text']!r} is not centred on its row")
    for axis in report["axes"]:
        axis = [label for label in axis if not label["hidden"]]
        for i, a in enumerate(axis):
            for b in axis[i + 1 :]:
                if _overlap(a["box"], b["box"]):
                    problems.append(f"{name}: {a['text']!r} overlaps {b['text']!r}")
    return problems


# --- the pages --------------------------------------------------------------------------------


def _settle(page: Any, charts: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stApp"]')).to_be_visible()
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
    expect(page.locator('[data-testid="stVegaLiteChart"] svg')).to_have_count(charts)
    # Vega draws after the element appears: wait until every chart has its marks.
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] svg')]
             .filter((s) => s.querySelector('g.role-mark')).length >= n""",
        arg=charts,
    )
    page.wait_for_timeout(300)  # Vega's resize to the container's width after first paint


def _open_projector(page: Any, url: str) -> None:
    page.goto(url, wait_until="load")
    _settle(page, 1)


def _open_results(page: Any, server: Server, code: str, lang: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/results?lang={lang}", wait_until="load")
    expect(page.locator('[data-testid="stApp"]')).to_be_visible()
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
    typed_code = page.locator(".st-key-results_code input")
    # The console may stay open across loads; otherwise the code and passphrase unlock it.
    typed_code.or_(page.locator('[data-testid="stVegaLiteChart"]')).first.wait_for()
    if typed_code.count():
        typed_code.fill(code)
        page.locator(".st-key-results_phrase input").fill(PASSPHRASE)
        page.locator('[data-testid="stFormSubmitButton"] button').click()
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
    expanders = page.locator('[data-testid="stExpander"] details')
    expect(expanders).to_have_count(3)
    for i in range(expanders.count()):
        # Open each one once: a second click (or a click lost in a rerun) would close it.
        for _attempt in range(5):
            if expanders.nth(i).evaluate("(d) => d.open"):
                break
            expanders.nth(i).locator("summary").click()
            page.wait_for_timeout(200)
    # The main chart, the method comparison, the places and the role grid.
    _settle(page, 4)


def _check(page: Any, shot: Path) -> list[str]:
    page.screenshot(path=str(shot), full_page=True)
    # Streamlit scrolls inside its own container: each chart gets its own picture too.
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    for i in range(charts.count()):
        # The SVG itself too: a tall chart's element picture only has what was scrolled in.
        svg = charts.nth(i).locator("svg").first
        if svg.count():
            shot.with_name(f"{shot.stem}-chart{i}.svg").write_text(svg.evaluate("s => s.outerHTML"))
        if charts.nth(i).is_visible():
            charts.nth(i).screenshot(
                path=str(shot.with_name(f"{shot.stem}-chart{i}.png")), timeout=5_000
            )
    problems = [p for report in _stable_measure(page) for p in chart_problems(report)]
    return [f"{shot.name}: {p}" for p in problems]


def _stable_measure(page: Any, tries: int = 40) -> list[dict[str, Any]]:
    """What the browser drew, once two looks 250 ms apart agree: Vega re-lays a chart out when
    its container's width settles, which on a busy machine can come after any fixed wait (a
    full suite under load once measured a bar's number mid-resize, outside its chart)."""
    last = page.evaluate(_MEASURE)
    for _ in range(tries):
        page.wait_for_timeout(250)
        now = page.evaluate(_MEASURE)
        if now == last:
            return list(now)
        last = now
    return list(last)  # still moving after 10 s: judge what is there


# What this test found on its first runs, fixed since in core/charts_*.py: Vega hid every
# other method name (Streamlit fit the whole chart into the spec's height; rows shrank),
# the comparison grid's count names were hidden and cut at the top, the role grid's column
# labels cut at the top, wrapped zh names' boxes touched, the places legend was cut at 1280.
@pytest.mark.parametrize("methods", [8, 12])
def test_every_chart_fits_its_screen_at_1280_and_1920_in_zh_and_en(
    seeded: tuple[Server, dict[int, str]],
    pages: dict[str, Any],
    artifacts: Path,
    tmp_path: Path,
    methods: int,
) -> None:
    server, codes = seeded
    code = codes[methods]
    problems: list[str] = []
    for size, page in pages.items():
        for lang in ("zh", "en"):
            tag = f"charts-{methods}-{size}-{lang}"
            _open_projector(page, f"{server.url}/projector?w={code}&lang={lang}")
            problems += _check(page, tmp_path / f"{tag}-projector.png")
            _open_results(page, server, code, lang)
            problems += _check(page, tmp_path / f"{tag}-results.png")
    for picture in [*tmp_path.glob("*.png"), *tmp_path.glob("*.svg")]:
        shutil.copy(picture, artifacts / picture.name)
    assert not problems, "\n".join(problems)
