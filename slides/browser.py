"""Open the built deck in Debian's Chromium, driven by Playwright: no browser download.

python slides/browser.py pdf [OUT.pdf]   print the handout: each slide on a page,
                                         its speaker notes on the next
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from reviewsite.chromium import chromium, chromium_missing

HERE = Path(__file__).resolve().parent
BUILT = HERE / "_build" / "revealjs" / "index.html"
# The deck's logical size (conf.py), and the screen a projector gives it.
DECK = {"width": 1920, "height": 1080}
PROJECTOR = {"width": 1280, "height": 720}
# Reveal.js's print view, with each slide's notes on a page of their own.
HANDOUT = "?print-pdf&showNotes=separate-page"


def open_deck(browser, query: str = "", index: Path = BUILT, viewport=PROJECTOR):
    """A new Playwright page of ``browser`` showing the built deck, Reveal.js ready.

    Console errors and uncaught exceptions are collected in ``page.errors``.
    """
    if not index.exists():
        raise FileNotFoundError(f"{index} is missing: run `make slides` first.")
    page = browser.new_page(viewport=viewport)
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(index.as_uri() + query)
    page.wait_for_function("window.Reveal && Reveal.isReady()")
    return page


@contextmanager
def deck_page(query: str = "", index: Path = BUILT, browser=None) -> Iterator:
    """`open_deck` in a browser of its own, or in ``browser`` if one is given."""
    with nullcontext(browser) if browser else chromium() as opened:
        page = open_deck(opened, query, index)
        try:
            yield page
        finally:
            page.close()


def export_pdf(out: Path, index: Path = BUILT, browser=None) -> int:
    """Print the handout with Reveal.js's print stylesheet; return the slide count.

    Each slide is a page, followed by a page of its speaker notes. The page
    size is the one Reveal.js's print view asks for (@page), so nothing is cut.
    """
    with deck_page(HANDOUT, index, browser) as page:
        page.wait_for_selector(".pdf-page")
        slides = page.evaluate("Reveal.getTotalSlides()")
        page.pdf(path=str(out), prefer_css_page_size=True, print_background=True)
    return slides


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "pdf":
        sys.exit(__doc__)
    if reason := chromium_missing():
        sys.exit(reason)
    target = Path(sys.argv[2] if len(sys.argv) > 2 else HERE / "_build" / "deck.pdf")
    count = export_pdf(target)
    print(f"Wrote {target} ({count} slides, each followed by its notes)")
