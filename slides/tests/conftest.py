"""One build of the deck, one Chromium and one printed handout for the whole suite.

The deck shows pictures of the running demos: they are made before any test
builds it, when `make slides` or the tox env has not (screenshots.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import screenshots
from browser import HERE, export_pdf

from reviewsite.chromium import chromium, skip_without_chromium


def pytest_sessionstart(session):
    if not all((screenshots.OUT / name).is_file() for name in screenshots.PICTURES):
        screenshots.main()


def sphinx_build(source: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "revealjs", source, out],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """The deck's index.html: in SLIDES_BUILT (tox built it), or built now."""
    if done := os.environ.get("SLIDES_BUILT"):
        return Path(done).resolve() / "index.html"
    out = tmp_path_factory.mktemp("deck")
    result = sphinx_build(HERE, out)
    assert result.returncode == 0, result.stderr
    return out / "index.html"


@pytest.fixture(scope="session")
def browser():
    """One Chromium for every test that opens the deck."""
    skip_without_chromium()
    with chromium() as opened:
        yield opened


@pytest.fixture(scope="session")
def handout(built, browser, tmp_path_factory) -> tuple[Path, int]:
    """The PDF `make slides-pdf` prints, from the same function, and the slide count."""
    pdf = tmp_path_factory.mktemp("handout") / "deck.pdf"
    slides = export_pdf(pdf, built, browser)
    return pdf, slides
