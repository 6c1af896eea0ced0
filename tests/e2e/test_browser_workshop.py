"""A whole workshop in real browsers against a real server, as a room would run it.

The same story as tests/app/test_workshop_story.py, but every step is a click or a tap in
Chromium: a facilitator laptop, eight phones and a projector, each its own browser context
(its own Streamlit session) on one `streamlit run` with a temporary SQLite database.

1. The facilitator logs in with the admin password, creates a workshop from the default
   template, unlocks it with its passphrase and generates voting cards (codes read from the
   printable card sheet it downloads).
2. The projector shows the workshop; the facilitator moves to question 1.
3. Eight phones open the join link of their card (`/join?w=CODE&card=CARD`, like the QR)
   and post a note each; the first batch of k=5 reaches the wall; every phone dots one note,
   and the projector shows the notes and the dots.
4. The facilitator opens voting; each phone taps methods in order (tap order = rank), asks
   for the "1. … 2. …" review, confirms and casts; the first four see "sealed — waiting for
   … more ballots" and nothing is stored; the fifth completes a batch of k = 5, which is
   written at once, and those phones see their receipts; the projector counts.
5. The facilitator closes voting (the last ballots are written now, every phone shows its
   receipt) and reveals with the passphrase.
6. The projector shows the ranking in the order the phones voted for; so do the phones.

Screenshots of each step go to test-artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import notes
from core.db import Database
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


def move_stage(page: Any, target: str, passphrase: str | None = None) -> None:
    """Stage tab: choose the next step, confirm, Move; wait for the stage metric to change."""
    open_tab(page, "Stage")
    choose(page, "target_stage", target)
    if passphrase is not None:
        field = widget(page, "stage_phrase").locator("input")
        field.fill(passphrase)
        field.press("Enter")
        settle(page)
    # The confirmation box gets a fresh key after every move, so it always starts unticked.
    box = page.locator('[class*="st-key-confirm_move_"]')
    confirm = box.get_by_role("checkbox")
    expect(confirm).not_to_be_checked(timeout=TIMEOUT)
    box.locator("label").click()
    expect(confirm).to_be_checked()
    button = widget(page, "move").get_by_role("button")
    expect(button).to_be_enabled(timeout=TIMEOUT)
    button.click()
    stage = page.get_by_role("tabpanel", name="Stage").get_by_test_id("stMetricValue")
    expect(stage).to_have_text(target, timeout=TIMEOUT)


def tap(phone: Any, code: str, label: str) -> None:
    """Tap one method in the ranking multiselect, as a thumb would (tap order = rank).

    A tap on a list that is just closing is lost on a real phone too; the thumb taps again.
    """
    box = widget(phone, f"ranking_{code}")
    chip = box.locator(f'[data-tag][aria-label="{label}"]')
    option = phone.get_by_role("option", name=label, exact=True)
    for _attempt in range(5):
        if chip.count():
            return
        if not option.is_visible():
            box.get_by_role("combobox").click()
        option.click()
        try:
            expect(chip).to_have_count(1, timeout=3_000)
            return
        except AssertionError:
            continue
    expect(chip).to_have_count(1)


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

    def open_page(size: dict[str, Any], path: str, wait: bool = True) -> Any:
        context = browser.new_context(**size, locale="en-GB")
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
        expect(widget(console, "console_code").get_by_role("combobox")).to_have_value(
            re.compile(f"^{code} ")
        )
        widget(console, "unlock_phrase").locator("input").fill(PASSPHRASE)
        console.get_by_role("button", name="Unlock").click()
        expect(console.get_by_role("tab", name="Voting cards")).to_be_visible()
        settle(console)
        open_tab(console, "Voting cards")
        how_many = widget(console, "cards_n").locator("input")
        how_many.fill(str(len(BALLOTS) + 2))
        how_many.press("Enter")
        settle(console)
        widget(console, "cards_generate").get_by_role("button").click()
        expect(console.get_by_text(f"{len(BALLOTS) + 2} voting cards generated")).to_be_visible()
        cards = card_codes_from_sheet(console)
        assert len(cards) == len(BALLOTS) + 2 and len(set(cards)) == len(cards)
        shot(console, artifacts, "01-console-cards")

        step("1. console ready")
        # 2. The projector joins the room; the facilitator moves to question 1.
        projector = open_page(DESKTOP, f"/projector?w={code}&lang=en")
        expect(projector.locator(".bd-code")).to_have_text(code)
        expect(projector.get_by_test_id("stImage").locator("img")).to_be_visible()  # the QR
        move_stage(console, "Questions: question 1 of 4")
        expect(projector.get_by_text("Which of your growth is strongly linked")).to_be_visible()

        step("3. phones join")
        # 3. Eight phones join through their cards' links and post one note each. Every step
        #    is started on all phones before any is awaited, as a room taps at once.
        phones = [
            open_page(PHONE, f"/join?w={code}&card={card}&lang=en", wait=False)
            for card in cards[: len(BALLOTS)]
        ]
        for phone, text in zip(phones, NOTE_TEXTS, strict=True):
            expect(phone.get_by_text("Question 1 of 4")).to_be_visible()
            expect(phone).not_to_have_url(re.compile("card="))  # the card leaves the address bar
            expect(phone.get_by_test_id("stSidebarNav")).to_have_count(0)  # no organiser pages
            phone.get_by_label(re.compile("Write your thoughts")).fill(text)
            phone.get_by_role("button", name="Post the note").click()
            expect(phone.get_by_text("Received!")).to_be_visible()
        posted = notes.wall(db, code, 0, include_hidden=True, include_pending=True)
        assert sorted(n.text for n in posted) == sorted(NOTE_TEXTS)
        shot(phones[0], artifacts, "02-phone-note-posted")
        step("3. notes posted")
        # k=5: the first five form a batch on the wall; the last three wait for theirs.
        assert len(notes.wall(db, code, 0)) == 5
        for phone in phones:
            row = phone.locator('[data-testid="stHorizontalBlock"]').filter(has_text=DOTTED_NOTE)
            row.get_by_role("button", name="＋●").click()
        for phone in phones:
            expect(phone.get_by_text("You can give 2 more dots")).to_be_visible()
        dotted = next(n for n in notes.wall(db, code, 0) if n.text == DOTTED_NOTE)
        assert dotted.dots == len(phones)
        expect(projector.locator(".bd-note").filter(has_text=DOTTED_NOTE)).to_contain_text(
            f"● {len(phones)}"
        )
        expect(projector.locator(".bd-note")).to_have_count(5)
        shot(phones[1], artifacts, "03-phone-wall-dotted")
        shot(projector, artifacts, "04-projector-question")

        step("4. voting opens")
        # 4. Voting: tap in order, review, confirm and cast, receipt; the projector counts.
        move_stage(console, "Voting")
        expect(projector.get_by_text("Secret ballot in progress")).to_be_visible()
        expect(projector.locator(".bd-count")).to_have_text("0")
        for i, phone in enumerate(phones):
            expect(phone.get_by_role("heading", name="Secret ballot")).to_be_visible()
            card_field = phone.get_by_label("Voting card code", exact=True)
            expect(card_field).to_have_value(cards[i])  # filled from the link, like the QR
        step("4. phones tap their rankings")
        for n in range(max(len(r) for r in BALLOTS)):
            tapping = [(p, r) for p, r in zip(phones, BALLOTS, strict=True) if len(r) > n]
            for phone, ranking in tapping:
                tap(phone, code, ranking[n])
            for phone, _ in tapping:
                expect(widget(phone, f"ranking_{code}").locator("[data-tag]")).to_have_count(n + 1)
        for phone in phones:
            phone.keyboard.press("Escape")  # close the list so it does not cover the form
        role = phones[0].get_by_role("combobox", name=re.compile("^Your role"))
        role.click()
        phones[0].get_by_role("option", name="Partner", exact=True).click()
        expect(role).to_have_value("Partner")
        for phone in phones:
            phone.get_by_role("button", name="Review my ranking").click()
        for phone, ranking in zip(phones, BALLOTS, strict=True):
            review = phone.locator('[data-testid="stMarkdownContainer"] ol li')
            expect(review).to_have_text(ranking)  # "1. … 2. …" exactly as it will be sealed
        expect(phones[0].get_by_text("Your role: Partner")).to_be_visible()
        shot(phones[0], artifacts, "05-phone-ballot-review")
        step("4. phones reviewed")
        # k = 5: four ballots are sealed and wait in server memory; nothing is written.
        for phone in phones[:4]:
            phone.get_by_role("button", name=re.compile("^Confirm and cast")).click()
        for phone in phones[:4]:
            expect(phone.get_by_text(re.compile("^Sealed — waiting for"))).to_be_visible()
            # The ranking is gone from the phone already.
            expect(phone.locator('[data-testid="stMarkdownContainer"] ol li')).to_have_count(0)
        expect(projector.locator(".bd-count")).to_have_text("0")
        shot(phones[0], artifacts, "06-phone-sealed-waiting")
        # The fifth completes the batch: at least five are written together.
        for phone in phones[4:]:
            phone.get_by_role("button", name=re.compile("^Confirm and cast")).click()
        expect(projector.locator(".bd-count")).to_have_text(re.compile("^[5-8]$"))
        expect(phones[0].get_by_text("Thank you! Your ballot is sealed.")).to_be_visible()
        shot(phones[0], artifacts, "06-phone-receipt")
        shot(projector, artifacts, "07-projector-voting")

        step("4. ballots cast")
        # 5. Close (the last ballots, fewer than k, are written now), then reveal.
        move_stage(console, "Voting closed")
        expect(projector.get_by_text("Waiting for the facilitator to reveal")).to_be_visible()
        expect(projector.locator(".bd-count")).to_have_text(str(len(BALLOTS)))
        receipts: list[str] = []
        for phone in phones:
            receipt = phone.locator('[data-testid="stMarkdownContainer"] h1 code')
            expect(receipt).to_be_visible()
            receipts.append(receipt.inner_text())
        assert len(set(receipts)) == len(BALLOTS)
        move_stage(console, "Results revealed", passphrase=PASSPHRASE)
        expect(console.get_by_text("The workshop has been through every stage.")).to_be_visible()

        step("5. revealed")
        # 6. The ranking, in the order the phones voted for, on the projector and the phones.
        sentence = projector.locator(".bd-sentence").filter(has_text="All 5 counting methods")
        expect(sentence.first).to_be_visible()
        text = sentence.first.inner_text()
        assert text.index(A) < text.index(B) < text.index(C), text
        expect(projector.locator('[data-testid="stVegaLiteChart"]')).to_be_visible()
        shot(projector, artifacts, "08-projector-results")
        results = phones[0].locator('[data-testid="stMarkdownContainer"] ol li')
        expect(results.nth(0)).to_have_text(f"{A} — 37")
        expect(results.nth(1)).to_have_text(f"{B} — 30")
        expect(results.nth(2)).to_have_text(f"{C} — 20")
        expect(phones[0].get_by_text(receipts[0])).to_be_visible()
        shot(phones[0], artifacts, "09-phone-results")
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
