"""Open the built deck in Debian's Chromium, driven by Playwright: no browser download.

python slides/browser.py pdf [OUT.pdf]   print the deck to PDF, one page per slide
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reviewsite.chromium import chromium, chromium_missing

HERE = Path(__file__).resolve().parent
BUILT = HERE / "_build" / "revealjs" / "index.html"


@contextmanager
def deck_page(query: str = "", index: Path = BUILT) -> Iterator:
    """A Playwright page showing the built deck, once Reveal.js is ready.

    Collects console errors and uncaught exceptions in ``page.errors``.
    """
    if not index.exists():
        raise FileNotFoundError(f"{index} is missing: run `make slides` first.")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.errors = []
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(index.as_uri() + query)
        page.wait_for_function("window.Reveal && Reveal.isReady()")
        yield page


def export_pdf(out: Path, index: Path = BUILT) -> int:
    """Print the deck with Reveal.js's print stylesheet; return the slide count."""
    with deck_page("?print-pdf", index) as page:
        page.wait_for_selector(".pdf-page")
        slides = page.evaluate("Reveal.getTotalSlides()")
        page.pdf(path=str(out), width="1280px", height="800px", print_background=True)
    return slides


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "pdf":
        sys.exit(__doc__)
    if reason := chromium_missing():
        sys.exit(reason)
    target = Path(sys.argv[2] if len(sys.argv) > 2 else HERE / "_build" / "deck.pdf")
    count = export_pdf(target)
    print(f"Wrote {target} ({count} slides)")
