"""Time from pressing Enter in the web chat to the first streamed token, and to the full answer, measured in a
real headless Chromium (Playwright) against `brief serve` running in its own process.

    .venv/bin/python -m scripts.bench.bench_ui                                # start `brief serve` (fresh index)
    .venv/bin/python -m scripts.bench.bench_ui --url http://127.0.0.1:7860/   # drive an app that is already running

Run it from the repository's root, as a module: it uses the tests' browser settings (tests/support.py).

The page itself keeps the clock (performance.now()): the start is the Enter keydown in the question box; the
first token is the first text in the new answer bubble (for an answer quoted without asking the model, the
quote); the full answer is when both the bubble and the sources panel show this question's final, verified
answer. Refusals write no tokens, so they count only for the full answer.
Prints each question's figures, then median and p95. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from scripts.bench.bench_api import spawned_server
from tests.support import BROWSER_ARGS, CHROMIUM
from workbench.evaluation import percentile

WARM_UP = "What does the brief say about Mali's neighbours?"
QUESTIONS = [
    "Which critical minerals does Mali hold reserves of?",
    "Why is the United States re-engaging with Mali?",
    "Which country has Mali shifted its security partnerships towards?",
    "Why does Mali matter for U.S. counterterrorism?",
    "What is Mali a major producer of?",
    "Which U.S. bureau announced the re-engagement with Mali?",
    "Why does the U.S. want to reduce its dependence on Chinese supply chains?",
    "What alliance is Mali a significant player in?",
    "Does the U.S. aim to respect Mali's sovereignty?",
    "What is Mali's population?",
]

# Installed once per page: stamps the Enter keydown, the first text of the newest answer bubble, and the
# moment the sources panel holds the asked question's final answer.
CLOCK = """
() => {
  const bots = () => document.querySelectorAll('#chat [data-testid="bot"]');
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && e.target.closest('#question')) {
      window.__clock = {question: e.target.value.trim(), start: performance.now(), bots: bots().length,
                        first: null, done: null, refused: null};
    }
  }, true);
  new MutationObserver(() => {
    const c = window.__clock;
    if (!c) return;
    const all = bots();
    if (c.first === null && all.length > c.bots && all[all.length - 1].innerText.trim()) c.first = performance.now();
    if (c.done !== null) return;
    for (const panel of document.querySelectorAll('#sources .brief-sources')) {
      if (panel.dataset.question === c.question) {
        c.done = performance.now();
        c.refused = panel.dataset.state === 'refused';
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}
"""


def ask(page, question: str) -> dict:
    box = page.locator("#question textarea")
    box.fill(question)
    page.evaluate("() => { window.__clock = null; }")
    box.press("Enter")
    page.wait_for_function(
        "() => window.__clock && window.__clock.done !== null && window.__clock.first !== null", timeout=120_000
    )
    clock = page.evaluate("() => window.__clock")
    answer = page.locator('#chat [data-testid="bot"]').last.inner_text()
    return {
        "first_s": None if clock["refused"] else (clock["first"] - clock["start"]) / 1000,
        "total_s": (max(clock["done"], clock["first"]) - clock["start"]) / 1000,
        "answer": answer,
    }


def run(url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.locator("#question textarea").wait_for()
        page.evaluate(CLOCK)
        ask(page, WARM_UP)  # not counted (and not one of the questions, whose prompt it would cache)
        firsts, totals = [], []
        print(f"{'first token':>12} {'full answer':>12}  question")
        for question in QUESTIONS:
            page.locator("#new-chat").click()  # each question on its own, as in a fresh conversation
            page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"bot\"]')")
            result = ask(page, question)
            totals.append(result["total_s"])
            if result["first_s"] is not None:
                firsts.append(result["first_s"])
            first = f"{result['first_s']:10.3f} s" if result["first_s"] is not None else f"{'(refused)':>12}"
            print(f"{first} {result['total_s']:10.3f} s  {question}  ->  {result['answer'][:60]!r}")
        browser.close()
    print()
    print(
        f"time to first token: median {statistics.median(firsts):.3f} s, p95 {percentile(firsts, 0.95):.3f} s "
        f"({len(firsts)} streamed answers)"
    )
    print(
        f"time to full answer: median {statistics.median(totals):.3f} s, p95 {percentile(totals, 0.95):.3f} s "
        f"({len(totals)} questions)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app; default: start `brief serve` in a child process")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found; run .ci/install-browser", file=sys.stderr)
        return 2
    if args.url:
        run(args.url)
    else:
        with spawned_server(ui=True) as (url, _):
            run(url + "/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
