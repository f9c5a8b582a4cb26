"""The PDF handout, read page by page: each slide whole, then its speaker notes.

The PDF is the one `make slides-pdf` prints (conftest.handout). What each page
should hold comes from the deck itself, as Chromium shows it, so slides of
every included .rst file are checked.
"""

import re
import unicodedata
from pathlib import Path

import pytest
from browser import open_deck

pypdf = pytest.importorskip("pypdf")

# Each slide's title, its text (paragraphs, list items, table cells), every
# line of its listings, and its speaker notes.
CONTENT = (Path(__file__).parent / "content.js").read_text()


def squeeze(text: str) -> str:
    """Text without whitespace, case or ligatures: a PDF's line breaks and
    spacing are its own, titles are printed in capitals, "ff" may be one glyph."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


@pytest.fixture(scope="module")
def slides(browser, built) -> list[dict]:
    page = open_deck(browser, index=built)
    try:
        return page.evaluate(CONTENT)
    finally:
        page.close()


@pytest.fixture(scope="module")
def pages(handout) -> list[str]:
    pdf, _ = handout
    return [squeeze(page.extract_text()) for page in pypdf.PdfReader(pdf).pages]


def test_each_slide_is_followed_by_a_page_of_its_notes(slides, pages):
    assert len(pages) == 2 * len(slides)
    missing = []
    for number, expected in enumerate(slides, start=1):
        slide, notes = pages[2 * number - 2], pages[2 * number - 1]
        if not slide.startswith(squeeze(expected["title"])):
            missing.append(f"page {2 * number - 1} is not slide {number}")
        if not expected["notes"].strip() or squeeze(expected["notes"]) not in notes:
            missing.append(f"page {2 * number}: not all the notes of slide {number}")
    assert not missing, "\n".join(missing)


def test_no_page_cuts_a_slide(slides, pages):
    cut, at = [], 0
    for number, slide in enumerate(slides, start=1):
        # The slide's page: the next one that shows its title.
        title = squeeze(slide["title"])
        found = [i for i in range(at, len(pages)) if pages[i].startswith(title)]
        if not found:
            cut.append(f"slide {number} ({slide['title']}): no page shows it")
            continue
        at = found[0] + 1
        page = pages[found[0]]
        wanted = [("line", line) for line in slide["lines"]] + [
            ("text", t) for t in slide["text"]
        ]
        for kind, text in wanted:
            if squeeze(text) and squeeze(text) not in page:
                cut.append(
                    f"slide {number} ({slide['title']}): {kind} {text.strip()[:60]!r}"
                )
    assert not cut, f"{len(cut)} lines missing from the PDF:\n" + "\n".join(cut)
