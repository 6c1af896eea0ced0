"""A whole workshop in real browsers against a real server, as a room would run it.

The same story as tests/app/test_workshop_story.py, but every step is a click or a tap in
Chromium: a facilitator laptop, eight phones and a projector, each its own browser context
(its own Streamlit session) on one `streamlit run` with a temporary SQLite database.

1. The facilitator logs in with the admin password, creates a workshop from the default
   template, opens its console by typing the code and the passphrase, and generates voting
   cards (codes read from the printable card sheet it downloads). The console is reloaded:
   it stays open.
2. The projector shows the workshop; the facilitator presses "next" to question 1.
3. Eight phones open /join with nothing after it (the printed address), TYPE the code and
   post a note each; the first batch of k=5 reaches the wall; every phone dots one note: the
   first five dots are counted together (the rest wait for their batch or the move), and
   the projector shows the notes and the dots. One phone types a note while the facilitator
   moves on, and posts it after the move: no error box, and the note is not lost.
4. The facilitator opens voting (confirming, it cannot be undone); each phone taps method
   chips in order (tap order = rank), reviews "1. … 2. …", types its card on the review
   screen (a wrong one is refused there) and casts. Ballots are stored in batches of k=5:
   the first four wait, sealed, with nothing stored; the fifth fills the batch and those
   phones get receipts; the rest wait for the close. The projector counts stored ballots.
5. The facilitator closes voting (confirming): the waiting ballots are written and their
   phones, still polling, show receipts. Then the reveal with the passphrase.
6. The projector shows the ranking in the order the phones voted for; so do the phones.

Throughout, one phone runs in Chinese and reloads at every stage: it never shows an error
box or a Latin-only word that is not a name or a code, and after voting it keeps its receipt.
The facilitator reloads the console at every stage too. Screenshots of each step go to
test-artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import notes, results
from core.crypto.human_codes import new_card_code
from core.db import Database
from core.i18n import t
from core.workshops import get_workshop
from tests.e2e.conftest import DESKTOP, PHONE
from tests.server import Server, streamlit_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

expect: Any = None  # playwright.sync_api.expect, imported once the browser fixture exists

ADMIN = "admin-pass-123"
PASSPHRASE = "we turn our backs 2026"
WORKSHOP_NAME = "Browser story"
TIMEOUT = 30_000  # ms: a rerun under ten sessions on two cores is well under this

A = "Unrestricted funding"
B = "Action research"
C = "Mentor accompaniment"
# What each phone taps, in order. Chosen so every counting method agrees on A, B, C at the
# top (points 37/30/20, first choices 5/2/1, times chosen 8/7/6, IRV and Schulze alike).
BALLOTS: list[list[str]] = [
    [A, B, C],
    [A, B, C],
    [A, B, C],
    [A, B],
    [A, B],
    [B, A, C],
    [B, A, C],
    [C, A],
]
NOTE_TEXTS = [
    "Peer exchange made me braver",
    "Flexible funds let us try things",
    "Mentors listened first",
    "Action research changed our meetings",
    "The annual gathering felt like home",
    "Small grants started real projects",
    "We learned to evaluate ourselves",
    "Regional friends to call on",
]
LATE_NOTE = "Posted across the stage change"
# What people typed (the workshop name, the notes) may be in any language on a zh screen.
TYPED_WORDS = sorted({w for text in (WORKSHOP_NAME, *NOTE_TEXTS, LATE_NOTE) for w in text.split()})
DOTTED_NOTE = NOTE_TEXTS[0]  # in the first batch of five, so every phone can dot it


# --- helpers ----------------------------------------------------------------------------


def settle(page: Any) -> None:
    """The app is drawn and no script run is in progress."""
    expect(page.locator('[data-testid="stApp"]')).to_be_visible(timeout=TIMEOUT)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def widget(page: Any, key: str) -> Any:
    """The element of the widget created with `key=` (Streamlit adds an st-key-* class)."""
    return page.locator(f".st-key-{key}")


def choose(page: Any, key: str, option: str) -> None:
    """Pick `option` in the selectbox created with `key=`."""
    widget(page, key).get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(widget(page, key).get_by_role("combobox")).to_have_value(option, timeout=TIMEOUT)


def open_tab(page: Any, name: str) -> None:
    """Click a tab until it is the selected one: a click during a rerun can land on a tab
    bar that is being redrawn and be lost."""
    tab = page.get_by_role("tab", name=name, exact=True)
    for _attempt in range(10):
        tab.click()
        try:
            expect(tab).to_have_attribute("aria-selected", "true", timeout=2_000)
            return
        except AssertionError:
            continue
    expect(tab).to_have_attribute("aria-selected", "true")


def next_step(page: Any, target: str, passphrase: str | None = None) -> None:
    """Press the console's one "next" button (confirming a step that cannot be undone, or
    giving the passphrase for the reveal); wait for the stage metric to show `target`."""
    if passphrase is not None:
        field = widget(page, "stage_phrase").locator("input")
        field.fill(passphrase)
        page.get_by_role("button", name=f"Next: {target}").click()
    else:
        button = widget(page, "next_step").get_by_role("button")
        expect(button).to_have_text(f"Next: {target}")
        button.click()
        if not target.startswith("Questions"):  # cannot be undone: asked once more
            confirm = widget(page, "confirm_next").get_by_role("button")
            expect(confirm).to_be_visible()
            confirm.click()
    stage = page.get_by_test_id("stMetricValue").first
    expect(stage).to_have_text(target, timeout=TIMEOUT)


ZH_ALLOWED = {"Beidui", "English", "PDF", "HTML"}


def assert_healthy_zh(page: Any, *names: str) -> None:
    """No error box, no crash box, and no Latin-only word except names and codes."""
    settle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    # Streamlit's keyboard-only "Skip to main content" link has no setting to translate it
    # (it shows only when tabbing to it): the one English string left, and said so.
    # Icons are font ligatures, drawn as glyphs.
    text = page.evaluate(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]').cloneNode(true);
            app.querySelectorAll('[data-testid="stSkipToContent"]').forEach(e => e.remove());
            document.body.appendChild(app);
            const text = app.innerText;
            app.remove();
            return text;
        }"""
    )
    text = re.sub(r"https?://\S+", " ", text)
    # An icon whose wrapper is drawn before its font component: its ligature name
    # ("keyboard_arrow_right") is snake_case, which no sentence of ours ever is.
    text = re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", " ", text)
    words = [
        w
        for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text)
        if w not in ZH_ALLOWED and w not in names and not re.fullmatch(r"[A-Z0-9-]+", w)
    ]
    assert words == [], words


def reload(page: Any) -> None:
    page.reload(wait_until="load")
    settle(page)


# --- the ballot component, in small steps ---------------------------------------------------


def lang_of(i: int) -> str:
    return "zh" if i == 0 else "en"


def tap_in_order(phone: Any, labels: list[str], lang: str) -> None:
    """Tap the method chips in order (tap order = rank); each chip then carries its rank,
    and says so to a screen reader."""
    for n, label in enumerate(labels, start=1):
        phone.get_by_role("button", name=label, exact=True).click()
        ranked = t("join.ballot_chip_ranked", lang, n=n, method=label)
        expect(phone.get_by_role("button", name=ranked, exact=True)).to_be_visible()


def review_lines(phone: Any) -> Any:
    return phone.locator("ol.review li")


def card_field(phone: Any, lang: str) -> Any:
    return phone.get_by_label(t("join.card_code", lang), exact=True)


def cast(phone: Any, lang: str) -> None:
    phone.get_by_role("button", name=t("join.cast", lang), exact=True).click()


def receipt_on(phone: Any) -> Any:
    """The receipt: in the component right after the cast, or drawn by the page once the
    component handed it back (a heading while voting, a caption after the close)."""
    return phone.locator(
        "#ballot-receipt, "
        '[data-testid="stMarkdownContainer"] h1 code, '
        '[data-testid="stCaptionContainer"] code'
    ).first


def waiting_text(lang: str, n: int | None = None) -> Any:
    """The component's "sealed, waiting for n more ballots" line (any n when None)."""
    if n is not None:
        return t("join.ballot_waiting_for", lang, n=n)
    before, after = t("join.ballot_waiting_for", lang, n="{n}").split("{n}")
    return re.compile(re.escape(before) + r"\d+" + re.escape(after))


def eventually(check: Any, what: str) -> None:
    """Poll `check` until it holds (a condition across several phones, which `expect` cannot
    state), failing after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT / 1000
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def card_codes_from_sheet(page: Any) -> list[str]:
    """Download the printable card sheet, as a facilitator would, and read its codes."""
    with page.expect_download(timeout=TIMEOUT) as download:
        widget(page, "cards_html").get_by_role("button").click()
    html = Path(download.value.path()).read_text(encoding="utf-8")
    return re.findall(r'<div class="code">([0-9A-Z-]+)</div>', html)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with streamlit_server(tmp_path) as running:
        yield running


@pytest.fixture
def pw_expect(browser: Any) -> Any:
    global expect
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=TIMEOUT)
    expect = playwright_expect
    return playwright_expect


# --- the story --------------------------------------------------------------------------


def test_a_room_of_phones_runs_a_workshop_in_real_browsers(
    browser: Any, pw_expect: Any, server: Server, artifacts: Path
) -> None:
    started = time.monotonic()
    db = Database.connect(server.env["DATABASE_URL"], migrate_schema=False)
    contexts: list[Any] = []
    timings: list[str] = []

    def step(name: str) -> None:
        timings.append(f"{time.monotonic() - started:6.1f} s  {name}")

    def open_page(size: dict[str, Any], path: str, wait: bool = True, locale: str = "en-GB") -> Any:
        context = browser.new_context(**size, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + path, wait_until="load" if wait else "commit")
        return page

    try:
        # 1. The facilitator creates a workshop, unlocks it and generates cards.
        # The first request on a fresh server is a deep link: it must still go through the
        # entry point's navigation (organisers get the sidebar, phones none).
        console = open_page(DESKTOP, "/facilitator?lang=en")
        settle(console)
        # (Streamlit's old folder mode would list file names such as "facilitator" instead.)
        expect(console.get_by_test_id("stSidebarNav")).to_contain_text(
            "Facilitator console", timeout=TIMEOUT
        )
        open_tab(console, "New workshop")
        console.get_by_label("Admin password").fill(ADMIN)
        console.get_by_role("button", name="Log in").click()
        expect(console.get_by_role("button", name="Create workshop")).to_be_visible()
        widget(console, "new_name").locator("input").fill(WORKSHOP_NAME)
        widget(console, "new_phrase").locator("input").fill(PASSPHRASE)
        widget(console, "new_phrase2").locator("input").fill(PASSPHRASE)
        console.get_by_role("button", name="Create workshop").click()
        created = console.get_by_text(re.compile(r"Workshop created\. Join code: \w+"))
        expect(created).to_be_visible()
        code = re.search(r"Join code: (\w+)", created.inner_text()).group(1)  # type: ignore[union-attr]

        open_tab(console, "My workshops")
        # No list of workshops: the code (filled in for the one just created) and passphrase.
        expect(widget(console, "unlock_code").locator("input")).to_have_value(code)
        widget(console, "unlock_phrase").locator("input").fill(PASSPHRASE)
        console.get_by_role("button", name="Unlock").click()
        expect(console.get_by_role("tab", name="Voting cards")).to_be_visible()
        settle(console)
        assert PASSPHRASE.replace(" ", "+") not in console.url and "console=" in console.url
        open_tab(console, "Voting cards")
        widget(console, "cards_n").locator("input").fill(str(len(BALLOTS) + 2))
        widget(console, "cards_generate").get_by_role("button").click()
        expect(console.get_by_text(f"{len(BALLOTS) + 2} voting cards generated")).to_be_visible()
        cards = card_codes_from_sheet(console)
        assert len(cards) == len(BALLOTS) + 2 and len(set(cards)) == len(cards)
        shot(console, artifacts, "01-console-cards")
        reload(console)  # the facilitator's laptop reloads: still unlocked, same tab
        expect(console.get_by_role("tab", name="Voting cards")).to_have_attribute(
            "aria-selected", "true"
        )

        step("1. console ready")
        # 2. The projector joins the room; the facilitator moves to question 1.
        projector = open_page(DESKTOP, f"/projector?w={code}&lang=en")
        expect(projector.locator(".bd-code")).to_have_text(code)
        expect(projector.get_by_test_id("stImage").locator("img")).to_be_visible()  # the QR
        next_step(console, "Questions: question 1 of 4")
        expect(projector.get_by_text("Which of your growth is strongly linked")).to_be_visible()

        step("3. phones join")
        # 3. Eight phones open the printed address and TYPE the code; the first runs in
        #    Chinese and reloads at every stage. Every step is started on all phones before
        #    any is awaited, as a room taps at once.
        phones = [
            open_page(PHONE, "/join", wait=False, locale="zh-CN"),
            *(open_page(PHONE, "/join?lang=en", wait=False) for _ in BALLOTS[1:]),
        ]
        zh_phone = phones[0]
        w = get_workshop(db, code)
        zh_label = {w.method_labels("en")[k]: w.method_labels("zh")[k] for k in w.method_keys}
        for i, phone in enumerate(phones):
            settle(phone)
            widget(phone, "join_code").locator("input").fill(code.lower())
            phone.get_by_role("button", name=t("join.join", "zh" if i == 0 else "en")).click()
        for i, (phone, text) in enumerate(zip(phones, NOTE_TEXTS, strict=True)):
            lang = "zh" if i == 0 else "en"
            expect(phone.get_by_text(t("join.question_n", lang, n=1, total=4))).to_be_visible()
            expect(phone.get_by_test_id("stSidebarNav")).to_have_count(0)  # no organiser pages
            widget(phone, f"note_text_{code}").locator("textarea").fill(text)
            phone.get_by_role("button", name=t("join.post", lang)).click()
            # k=5: a phone says "saved" only when its note's batch is in the database.
            if i == 4:
                told = t("join.posted_saved", lang)
            else:
                told = t("join.posted_waiting", lang, n=4 - i % 5)
            expect(phone.get_by_text(told)).to_be_visible()
        posted = notes.wall(db, code, 0, include_hidden=True, include_pending=True)
        # The first five form a batch, stored and on the wall; the last three wait for theirs
        # in the server's memory only (issue 10), so the database holds exactly five.
        assert sorted(n.text for n in posted) == sorted(NOTE_TEXTS[:5])
        shot(phones[1], artifacts, "02-phone-note-posted")
        step("3. notes posted")
        assert len(notes.wall(db, code, 0)) == 5
        for phone in phones:
            row = phone.locator('[data-testid="stHorizontalBlock"]').filter(has_text=DOTTED_NOTE)
            # A wall being redrawn by its fragment can briefly hold the old row too.
            row.get_by_role("button", name="＋●").first.click()
        for phone in phones[1:]:
            expect(phone.get_by_text("You can give 2 more dots")).to_be_visible()
            expect(phone.get_by_text("Dot given", exact=False)).to_be_visible()
        # Dots are counted k=5 at a time: of the seven or eight given so far, one batch.
        dotted = next(n for n in notes.wall(db, code, 0) if n.text == DOTTED_NOTE)
        assert dotted.dots == 5
        expect(projector.locator(".bd-note").filter(has_text=DOTTED_NOTE)).to_contain_text("● 5")
        expect(projector.locator(".bd-note")).to_have_count(5)
        shot(phones[1], artifacts, "03-phone-wall-dotted")
        shot(projector, artifacts, "04-projector-question")
        reload(zh_phone)
        assert_healthy_zh(zh_phone, *TYPED_WORDS)

        # A note typed on question 1 and posted just after the facilitator moved on: never an
        # error box, never filed under a question its author did not see, never lost (issue 12).
        late = LATE_NOTE
        box = widget(phones[2], f"note_text_{code}").locator("textarea")
        box.fill(late)
        next_step(console, "Questions: question 2 of 4")
        phones[2].get_by_role("button", name="Post the note").click()
        settle(phones[2])
        expect(phones[2].get_by_test_id("stException")).to_have_count(0)
        filed_under_q1 = [
            n.text for n in notes.wall(db, code, 0, include_hidden=True, include_pending=True)
        ]
        assert late not in filed_under_q1
        # Either the post was refused by name and the text stays typed, or the phone had
        # already followed the room and the note now waits for question 2's batch.
        waiting_q2 = phones[2].get_by_text(t("join.posted_waiting", "en", n=4))
        assert box.input_value() == late or waiting_q2.count() == 1
        for target in ("Questions: question 3 of 4", "Questions: question 4 of 4"):
            next_step(console, target)
            reload(console)
            reload(zh_phone)
            assert_healthy_zh(zh_phone, *TYPED_WORDS)

        step("4. voting opens")
        # 4. Voting: type the card, tap in order, review, cast, receipt; the projector counts.
        next_step(console, "Voting")
        reload(console)
        expect(projector.get_by_text("Secret ballot in progress")).to_be_visible()
        # Leaving question 1 wrote its three waiting notes as one batch (the stated remainder),
        # and counted its three waiting dots.
        assert sorted(n.text for n in notes.wall(db, code, 0)) == sorted(NOTE_TEXTS)
        dotted = next(n for n in notes.wall(db, code, 0) if n.text == DOTTED_NOTE)
        assert dotted.dots == len(phones)
        expect(projector.locator(".bd-count")).to_have_text("0")
        shot(projector, artifacts, "07a-projector-voting-empty")
        reload(zh_phone)
        assert_healthy_zh(zh_phone, *TYPED_WORDS)
        for i, phone in enumerate(phones):
            expect(
                phone.get_by_role("heading", name=t("join.vote_title", lang_of(i)))
            ).to_be_visible()
        step("4. phones tap their rankings")
        # The zh phone sees every label in Chinese: its chips are tapped by their zh names.
        taps = [[zh_label[m] for m in r] if i == 0 else r for i, r in enumerate(BALLOTS)]
        for i, (phone, ranking) in enumerate(zip(phones, taps, strict=True)):
            tap_in_order(phone, ranking, lang_of(i))
        phones[1].get_by_label(re.compile("^Your role")).select_option(label="Partner")
        for i, phone in enumerate(phones):
            phone.get_by_role("button", name=t("join.review_button", lang_of(i))).click()
        for i, (phone, ranking) in enumerate(zip(phones, taps, strict=True)):
            expect(review_lines(phone)).to_have_text(ranking)  # exactly as it will be sealed
            # The card field is on the review screen (the phones joined by typing the code,
            # so it is empty and has the focus): each phone types its card there.
            field = card_field(phone, lang_of(i))
            expect(field).to_be_focused()
            field.fill(cards[i])
        expect(phones[1].get_by_text("Your role: Partner")).to_be_visible()
        shot(phones[1], artifacts, "05-phone-ballot-review")
        step("4. phones reviewed")
        # A card typed wrong is refused ON the review screen, next to the field, and the
        # ranking waits there; the corrected card then casts.
        field = card_field(phones[1], "en")
        field.fill(new_card_code())
        cast(phones[1], "en")
        expect(phones[1].get_by_role("alert")).to_have_text(t("ballot.errors.card_not_found", "en"))
        expect(review_lines(phones[1])).to_have_text(BALLOTS[1])
        field.fill(cards[1])
        # Batches of k=5: the first four ballots are sealed and wait in the server's memory,
        # nothing is stored and no phone has a receipt yet.
        first, rest = phones[:4], phones[4:]
        for i, phone in enumerate(first):
            cast(phone, lang_of(i))
        for i, phone in enumerate(first):
            expect(phone.get_by_text(waiting_text(lang_of(i), n=1))).to_be_visible()
            expect(receipt_on(phone)).to_have_count(0)
            expect(review_lines(phone)).to_have_count(0)  # the ranking is gone from the phone
        assert results.ballot_count(db, code) == 0
        expect(projector.locator(".bd-count")).to_have_text("0")
        shot(phones[1], artifacts, "06a-phone-ballot-waiting")
        # The fifth ballot fills the batch; ballots cast at the same moment may join it. The
        # ones after it wait for the next batch, or for the close.
        for phone in rest:
            cast(phone, "en")
        for i, phone in enumerate(phones):
            either = phone.get_by_text(waiting_text(lang_of(i))).or_(receipt_on(phone))
            expect(either.first).to_be_visible()
        eventually(lambda: results.ballot_count(db, code) >= 5, "no batch of 5 was stored")
        stored = results.ballot_count(db, code)
        left = len(phones) - stored  # queued for the next batch: 5 - left more are needed

        def has_receipt(phone: Any) -> bool:
            return receipt_on(phone).count() == 1 and receipt_on(phone).is_visible()

        eventually(
            lambda: sum(has_receipt(p) for p in phones) == stored,
            f"{stored} ballots stored, but not as many phones show a receipt",
        )
        receipts: dict[int, str] = {
            i: receipt_on(p).inner_text() for i, p in enumerate(phones) if has_receipt(p)
        }
        assert set(range(4)) <= set(receipts)  # the first four were in the first batch
        waiting = [i for i in range(len(phones)) if i not in receipts]
        for i in waiting:
            expect(phones[i].get_by_text(waiting_text(lang_of(i), n=5 - left))).to_be_visible()
        expect(projector.locator(".bd-count")).to_have_text(str(stored))
        # A receipt is in the address bar as soon as it is on screen (the component writes it
        # there itself; the page's hand-back comes 1-10 s later): a reload right away keeps it.
        expect(phones[2]).to_have_url(re.compile(f"receipt={receipts[2]}"))
        reload(phones[2])
        expect(receipt_on(phones[2])).to_have_text(receipts[2])
        assert cards[2] not in phones[2].url
        # A waiting phone reloads before the close: its URL kept the ticket (never the card
        # or the ranking), and the ballot resumes waiting; it gets its receipt at the close.
        if waiting:
            reloader = phones[waiting[0]]
            expect(reloader).to_have_url(re.compile(r"ticket=[\w-]+"))
            reload(reloader)
            expect(reloader.get_by_text(waiting_text("en", n=5 - left))).to_be_visible()
            assert cards[waiting[0]] not in reloader.url and "receipt=" not in reloader.url
        # The zh phone's receipt reaches the page (1-10 s later) and its URL; a reload keeps
        # it there, never the card or the ranking.
        expect(zh_phone).to_have_url(re.compile(f"receipt={receipts[0]}"))
        reload(zh_phone)
        expect(receipt_on(zh_phone)).to_have_text(receipts[0])
        assert cards[0] not in zh_phone.url
        assert_healthy_zh(zh_phone, *TYPED_WORDS)
        shot(phones[1], artifacts, "06-phone-receipt")
        shot(projector, artifacts, "07-projector-voting")
        assert projector.evaluate("document.documentElement.scrollHeight") <= 1080

        step(f"4. ballots cast ({stored} stored in the first batch, {left} waiting)")
        # 5. Close (confirmed: it cannot be undone), then reveal with the passphrase.
        next_step(console, "Voting closed")
        # The close wrote the ballots still waiting: their phones (still polling) get their
        # receipts now, and every ballot has one.
        for i in waiting:
            expect(phones[i].get_by_text(waiting_text(lang_of(i)))).to_have_count(0)
            expect(receipt_on(phones[i])).to_be_visible()
            receipts[i] = receipt_on(phones[i]).inner_text()
        assert results.ballot_count(db, code) == len(phones)
        assert len(set(receipts.values())) == len(phones)
        reload(console)
        expect(projector.get_by_text("Waiting for the facilitator to reveal")).to_be_visible()
        reload(zh_phone)
        assert_healthy_zh(zh_phone, *TYPED_WORDS)
        next_step(console, "Results revealed", passphrase=PASSPHRASE)
        expect(console.get_by_text("The workshop has been through every stage.")).to_be_visible()
        reload(console)
        expect(console.get_by_text("The workshop has been through every stage.")).to_be_visible()

        step("5. revealed")
        # 6. The ranking, in the order the phones voted for, on the projector and the phones;
        #    the phones move on to the results by themselves (no reload).
        sentence = projector.locator(".bd-sentence").filter(has_text="All 5 counting methods")
        expect(sentence.first).to_be_visible()
        text = sentence.first.inner_text()
        assert text.index(A) < text.index(B) < text.index(C), text
        expect(projector.locator('[data-testid="stVegaLiteChart"]')).to_be_visible()
        shot(projector, artifacts, "08-projector-results")
        # Exact: the closed stage's heading ("… Results will be revealed soon.") contains it.
        results_heading = phones[1].get_by_role(
            "heading", name=t("join.results_title", "en"), exact=True
        )
        expect(results_heading).to_be_visible(timeout=20_000)
        ranking_text = phones[1].get_by_test_id("stMainBlockContainer").inner_text()
        for line in (f"{A} — 37", f"{B} — 30", f"{C} — 20"):
            assert line in ranking_text, ranking_text
        assert ranking_text.index(A) < ranking_text.index(B) < ranking_text.index(C)
        expect(phones[1].get_by_text(receipts[1])).to_be_visible()
        zh_heading = zh_phone.get_by_role("heading", name=t("join.results_title", "zh"), exact=True)
        expect(zh_heading).to_be_visible(timeout=20_000)
        expect(zh_phone.get_by_text(receipts[0])).to_be_visible()
        reload(zh_phone)
        expect(zh_phone.get_by_text(receipts[0])).to_be_visible()
        assert_healthy_zh(zh_phone, *TYPED_WORDS)
        shot(phones[1], artifacts, "09-phone-results")
    except Exception:
        for n, context in enumerate(contexts):
            for page in context.pages:
                page.screenshot(path=str(artifacts / f"failure-{n:02d}.png"), full_page=True)
        print(server.log()[-4000:])
        raise
    finally:
        for context in contexts:
            context.close()
        db.dispose()
    step("done")
    print("\n".join(["browser workshop story:", *timings]))
