"""The deck builds with warnings as errors, shows every slide with notes, and prints."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import HERE, deck_page, export_pdf

from reviewsite.chromium import skip_without_chromium

# The deck's source with each `.. include:: sections/...` line replaced by the file.
SOURCE = re.sub(
    r"^\.\. include:: (\S+)\n",
    lambda include: (HERE / include[1]).read_text(),
    (HERE / "index.rst").read_text(),
    flags=re.MULTILINE,
)


def sphinx_build(source: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "revealjs", source, out],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deck")
    result = sphinx_build(HERE, out)
    assert result.returncode == 0, result.stderr
    return out / "index.html"


@pytest.fixture
def browser_available():
    skip_without_chromium()


def slide_titles(rst: str) -> list[str]:
    """Titles of the slides: each section heading (a line underlined with = or -)."""
    return re.findall(r"^(\S[^\n]*)\n(?:=+|-+)\n", rst, flags=re.MULTILINE)


def test_deck_builds_with_warnings_as_errors(built):
    assert "FunctionalRouter" in built.read_text()


def test_a_listing_of_a_renamed_function_breaks_the_build(tmp_path):
    # A copy of the deck beside links to the projects it lists.
    for project in HERE.parent.iterdir():
        if project.is_dir() and project.name not in {"slides", ".git"}:
            (tmp_path / project.name).symlink_to(project)
    copy = tmp_path / "slides"
    shutil.copytree(HERE, copy, ignore=shutil.ignore_patterns("_build", "tests"))
    index = copy / "index.rst"
    index.write_text(SOURCE.replace(":pyobject: FunctionalRouter", ":pyobject: Gone"))
    result = sphinx_build(copy, tmp_path / "out")
    assert result.returncode != 0
    assert "Gone" in result.stderr


def test_python_on_slides_is_pulled_from_the_projects_and_named():
    pasted = re.findall(r"^\.\. code-block:: (\w+)", SOURCE, flags=re.MULTILINE)
    assert set(pasted) <= {"console"}, "paste no code: literalinclude it"
    listings = re.findall(
        r"^\.\. literalinclude:: \.\./(\S+)\n\s+:caption: (\S+)", SOURCE, re.MULTILINE
    )
    assert len(listings) == SOURCE.count(".. literalinclude::") > 0
    for path, caption in listings:
        assert caption == path, "each listing's caption names the file it shows"
        assert (HERE.parent / path).is_file()


def test_deck_opens_with_every_slide_and_no_console_error(built, browser_available):
    with deck_page(index=built) as page:
        total = page.evaluate("Reveal.getTotalSlides()")
        without_notes = page.evaluate(
            "Reveal.getSlides().filter(s => !s.querySelector('aside.notes'))"
            ".map(s => s.querySelector('h1, h2').textContent)"
        )
        errors = page.errors
    assert total == len(slide_titles(SOURCE))
    assert without_notes == []
    assert errors == []


def test_pdf_has_one_page_per_slide(built, browser_available, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    pdf = tmp_path / "deck.pdf"
    slides = export_pdf(pdf, built)
    assert len(pypdf.PdfReader(pdf).pages) == slides == len(slide_titles(SOURCE))
