"""The deck builds with warnings as errors, shows every slide with notes, and prints."""

import re
import shutil
from pathlib import Path

import pypdf
from browser import HERE, open_deck
from conftest import sphinx_build

INCLUDE = re.compile(r"^\.\. include:: (\S+)$", re.MULTILINE)


def source(path: Path = HERE / "index.rst") -> str:
    """The deck's reStructuredText, with every ``.. include::`` put in its place."""
    text = path.read_text()
    return INCLUDE.sub(lambda m: source(path.parent / m.group(1)), text)


SOURCE = source()


def slide_titles(rst: str) -> list[str]:
    """Titles of the slides: each section heading (a line underlined with = or -)."""
    return re.findall(r"^(\S[^\n]*)\n(?:=+|-+)\n", rst, flags=re.MULTILINE)


def test_deck_builds_with_warnings_as_errors(built):
    assert "FunctionalRouter" in built.read_text()


def test_commands_on_slides_copy_exactly(built):
    # Smart quotes would print --database as an en dash and "database".
    html = built.read_text()
    assert "migrate --database" in html
    assert not re.findall(r".{20}\u2013[a-z]+", html)


def test_a_listing_of_a_renamed_function_breaks_the_build(tmp_path):
    # A copy of the deck beside links to the projects it lists.
    for project in HERE.parent.iterdir():
        if project.is_dir() and project.name not in {"slides", ".git"}:
            (tmp_path / project.name).symlink_to(project)
    copy = tmp_path / "slides"
    shutil.copytree(HERE, copy, ignore=shutil.ignore_patterns("_build", "tests"))
    index = copy / "index.rst"
    index.write_text(
        index.read_text().replace(":pyobject: FunctionalRouter", ":pyobject: Gone")
    )
    result = sphinx_build(copy, tmp_path / "out")
    assert result.returncode != 0
    assert "Gone" in result.stderr


def test_python_on_slides_is_pulled_from_the_projects_and_named():
    pasted = re.findall(r"^\.\. (?:revealjs-)?code-block:: (\w+)", SOURCE, re.MULTILINE)
    assert set(pasted) <= {"console"}, "paste no code: literalinclude it"
    listings = re.findall(
        r"^\.\. (?:revealjs-)?literalinclude:: \.\./(\S+)\n\s+:caption: (\S+)",
        SOURCE,
        re.MULTILINE,
    )
    assert len(listings) == len(re.findall(r"literalinclude::", SOURCE)) > 0
    for path, caption in listings:
        assert caption == path, "each listing's caption names the file it shows"
        assert (HERE.parent / path).is_file()


def test_deck_opens_with_every_slide_and_no_console_error(built, browser):
    page = open_deck(browser, index=built)
    try:
        total = page.evaluate("Reveal.getTotalSlides()")
        without_notes = page.evaluate(
            "Reveal.getSlides().filter(s => !s.querySelector('aside.notes'))"
            ".map(s => s.querySelector('h1, h2').textContent)"
        )
        errors = page.errors
    finally:
        page.close()
    assert total == len(slide_titles(SOURCE))
    assert without_notes == []
    assert errors == []


def test_pdf_has_a_page_per_slide_and_one_for_its_notes(handout):
    pdf, slides = handout
    assert slides == len(slide_titles(SOURCE))
    assert len(pypdf.PdfReader(pdf).pages) == 2 * slides
