"""The web chat in a real headless Chromium (Playwright), against the real app: streaming answer with its
sources, a refusal, feedback, and an upload whose markup must be displayed as text, never run."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.support import BROWSER_ARGS, CHROMIUM, indexed_settings, served

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
MINERALS = "Which critical minerals does Mali hold reserves of?"
CITED = "holds reserves of critical minerals like lithium and uranium"
UPLOAD_TEXT = (
    "Zorblax notes\n"
    "The Zorblax river is 42 km long. <script>window.__pwned=1</script> "
    'It flows through the valley of Quenth. <img src=x onerror="window.__pwned=1"> '
    "Fishermen on the Zorblax river catch silver trout.\n"
)

pytestmark = [
    pytest.mark.slow,  # a real headless Chromium
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not found; run .ci/install-browser to install Chromium"
    ),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.chdir(REPO)  # sources are shown relative to the working directory
    settings = indexed_settings(tmp_path_factory.mktemp("brief-ui-browser"))
    try:
        with served(settings) as (url, _):
            yield url + "/", settings
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(app, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(app[0])
    page.locator("#question textarea").wait_for()
    return page


def ask(page, question: str) -> str:
    """Type a question, send it, wait for the final answer (the sources panel updates last); return its text."""
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.locator(f'#sources .brief-sources[data-question="{question}"]').wait_for()
    return page.locator('#chat [data-testid="bot"]').last.inner_text()


def test_answer_streams_with_cited_sentence_in_sources(page):
    answer = ask(page, MINERALS)
    assert "lithium" in answer.lower() and "uranium" in answer.lower()
    sources = page.locator("#sources")
    assert CITED in sources.inner_text()
    highlighted = " ".join(sources.locator("mark.brief-quote").all_inner_texts())
    assert CITED in highlighted
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)


def test_feedback_is_recorded(page, app):
    settings = app[1]
    page.locator('#chat [aria-label="Like"]').last.click()
    feedback = settings.store.feedback_file

    def written() -> bool:  # the file exists from the writer's open(); its line comes with the write
        return feedback.exists() and feedback.read_text().endswith("\n")

    deadline = time.time() + 15
    while time.time() < deadline and not written():
        time.sleep(0.2)
    records = [json.loads(line) for line in feedback.read_text().splitlines()]
    assert records[-1]["question"] == MINERALS
    assert records[-1]["vote"] == "up"
    assert records[-1]["citations"]


def test_the_question_shows_before_the_answer_is_written(page):
    """The page echoes the question as soon as Enter is pressed, not when the model's first token arrives;
    then the model's answer streams in, drawn more than once before it is final."""
    page.evaluate(
        """() => {
          const seen = window.__seen = {user: null, bot: null, texts: []};
          const before = document.querySelectorAll('#chat [data-testid="user"]').length;
          new MutationObserver(() => {
            const users = document.querySelectorAll('#chat [data-testid="user"]');
            const bots = document.querySelectorAll('#chat [data-testid="bot"]');
            if (seen.user === null && users.length > before) seen.user = performance.now();
            const text = bots.length > before ? bots[bots.length - 1].innerText.trim() : '';
            if (seen.bot === null && text) seen.bot = performance.now();
            if (text && text !== seen.texts[seen.texts.length - 1]) seen.texts.push(text);
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    ask(page, "Why does the U.S. want to reduce its dependence on Chinese supply chains?")
    seen = page.evaluate("() => window.__seen")
    assert seen["user"] is not None and seen["bot"] is not None
    assert seen["user"] < seen["bot"]
    assert len(seen["texts"]) >= 2, "the answer arrived in one piece instead of streaming"


def test_unanswerable_question_is_refused(page):
    answer = ask(page, "What is Mali's population?")
    assert "The documents do not" in answer
    assert page.locator("#sources .brief-refusal").is_visible()


def test_uploaded_markup_is_shown_as_text_and_never_runs(page):
    page.get_by_text("Documents", exact=True).click()
    page.locator("#upload input[type=file]").set_input_files(
        files=[{"name": "zorblax notes!.txt", "mimeType": "text/plain", "buffer": UPLOAD_TEXT.encode()}]
    )
    from playwright.sync_api import expect

    expect(page.locator("#upload-status textarea")).to_have_value(re.compile("Indexed"), timeout=60_000)
    expect(page.locator("#documents")).to_contain_text("zorblax_notes.txt")

    answer = ask(page, "How long is the Zorblax river?")
    assert "42" in answer
    sources = page.locator("#sources").inner_text()
    assert "42 km" in sources
    assert "<script>window.__pwned=1</script>" in sources or "<img src=x" in sources  # displayed as text
    page.get_by_text("Everything retrieved (with scores)").click()
    expect(page.locator("#retrieved table.brief-retrieved")).to_contain_text("Zorblax")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#sources img, #sources script, #chat .message-content img").count() == 0


SESSIONS = [
    ("Which critical minerals does Mali hold reserves of?", "uranium"),
    ("Which country has Mali shifted its security partnerships towards?", "russia"),
    ("Who announced the broader strategy to recalibrate diplomatic relations?", "bureau of african affairs"),
    ("What kind of government does Mali have?", "military"),
    ("Which alliance is Mali a significant player in?", "alliance of sahel states"),
    ("What is Mali a major producer of?", "gold"),
    ("What might future engagements between the U.S. and Mali involve?", "negotiations"),
    ("What does the U.S. aim to respect while addressing its interests?", "sovereignty"),
]


def test_eight_sessions_at_once_keep_their_own_conversations(app, browser):
    """Eight browser sessions send their questions at the same time, then a follow-up each: every one is
    answered, and each page shows only its own turns."""
    pages = []
    for _ in SESSIONS:
        page = browser.new_context().new_page()
        page.set_default_timeout(120_000)
        page.goto(app[0])
        page.locator("#question textarea").wait_for()
        pages.append(page)
    for round_ in range(2):
        for page, (question, _) in zip(pages, SESSIONS, strict=True):
            page.locator("#question textarea").fill(question if round_ == 0 else f"Tell me more: {question}")
            page.locator("#ask").click()
        for page, (question, keyword) in zip(pages, SESSIONS, strict=True):
            asked = question if round_ == 0 else f"Tell me more: {question}"
            page.locator(f'#sources .brief-sources[data-question="{asked}"]').wait_for()
            users = page.locator('#chat [data-testid="user"]').all_inner_texts()
            assert [u.strip() for u in users][-1] == asked and len(users) == round_ + 1
            answers = page.locator('#chat [data-testid="bot"]').all_inner_texts()
            assert len(answers) == round_ + 1 and answers[-1].strip()
            if round_ == 0:
                assert keyword in answers[-1].lower(), (question, answers[-1])
    for page in pages:
        page.context.close()
