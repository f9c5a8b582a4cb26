"""Open the built deck in Debian's Chromium, driven by Playwright: no browser download.

python slides/browser.py pdf [OUT.pdf]   print the deck to PDF, one page per slide
"""

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILT = HERE / "_build" / "revealjs" / "index.html"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The flags a headless Chromium needs on a machine with no network and as root.
FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str:
    """Why the browser cannot run here, or an empty string if it can."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"No Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)."
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install -r requirements.txt."
    return ""


@contextmanager
def deck_page(query: str = "", index: Path = BUILT) -> Iterator:
    """A Playwright page showing the built deck, once Reveal.js is ready.

    Collects console errors and uncaught exceptions in ``page.errors``.
    """
    from playwright.sync_api import sync_playwright

    if not index.exists():
        raise FileNotFoundError(f"{index} is missing: run `make slides` first.")
    flags = FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.errors = []
            page.on(
                "console",
                lambda m: m.type == "error" and page.errors.append(m.text),
            )
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.goto(index.as_uri() + query)
            page.wait_for_function("window.Reveal && Reveal.isReady()")
            yield page
        finally:
            browser.close()


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
