"""Every slide, in Chromium, readable from the back of a room.

Each slide of the built deck (whichever .rst file it comes from) is shown at
1280x720, a 16:9 projector, and at 1920x1080, and measured as laid out:

- no code box cut or scrolled, and nothing below or beside the slide;
- code at least 18 px high on the screen, captions too;
- no listing over 18 lines or 64 columns;
- every colour of the code theme at a contrast of 4.5:1 against its box
  (WCAG 2 AA for text), from the computed style of each token;
- the slide number and the controls never over a listing;
- at most 90 words of prose: the story goes to the speaker notes.
"""

import json
from pathlib import Path

import pytest
from browser import DECK, PROJECTOR, open_deck

MIN_CODE_PX = 18
MIN_CAPTION_PX = 18
MAX_LINES = 18
MAX_COLUMNS = 64
MIN_CONTRAST = 4.5
MAX_WORDS = 90

# Runs in the page: shows each slide in turn, returns what it measured there.
MEASURE = (Path(__file__).parent / "measure.js").read_text()


def measure(browser, built, viewport) -> list[dict]:
    page = open_deck(browser, index=built, viewport=viewport)
    try:
        return page.evaluate(MEASURE)
    finally:
        page.close()


def problems(slides: list[dict]) -> list[str]:
    found = []
    for slide in slides:
        where = f"slide {slide['number']} ({slide['title']})"
        found += [f"{where}: {p}" for p in slide["problems"]]
        if slide["words"] > MAX_WORDS:
            found.append(f"{where}: {slide['words']} words (at most {MAX_WORDS})")
        for listing in slide["listings"]:
            name = f"{where}, {listing['caption'] or 'listing'}"
            if listing["lines"] > MAX_LINES:
                found.append(f"{name}: {listing['lines']} lines (at most {MAX_LINES})")
            if listing["columns"] > MAX_COLUMNS:
                found.append(
                    f"{name}: {listing['columns']} columns (at most {MAX_COLUMNS})"
                )
            if listing["codePx"] < MIN_CODE_PX:
                found.append(f"{name}: code {listing['codePx']:.1f} px high on screen")
            if (
                listing["captionPx"] is not None
                and listing["captionPx"] < MIN_CAPTION_PX
            ):
                found.append(
                    f"{name}: caption {listing['captionPx']:.1f} px high on screen"
                )
            if listing["worstContrast"] < MIN_CONTRAST:
                worst = f"{listing['worstContrast']:.2f}:1, {listing['worstToken']}"
                found.append(f"{name}: contrast {worst}")
    return found


def summary(slides: list[dict]) -> dict:
    """The extremes, for a reader of the test's output (pytest -s) or a commit."""
    listings = [listing for slide in slides for listing in slide["listings"]]
    return {
        "slides": len(slides),
        "listings": len(listings),
        "smallest code px": round(min(x["codePx"] for x in listings), 1),
        "smallest caption px": round(min(x["captionPx"] or 99 for x in listings), 1),
        "worst contrast": round(min(x["worstContrast"] for x in listings), 2),
        "most lines": max(x["lines"] for x in listings),
        "most columns": max(x["columns"] for x in listings),
    }


@pytest.mark.parametrize("viewport", [PROJECTOR, DECK], ids=["1280x720", "1920x1080"])
def test_every_slide_is_readable_from_the_back_of_the_room(browser, built, viewport):
    slides = measure(browser, built, viewport)
    print(json.dumps(summary(slides)))
    assert len(slides) > 40
    found = problems(slides)
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)
