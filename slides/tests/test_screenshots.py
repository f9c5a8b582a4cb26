"""The pictures of the running demos, and the demo slides that show them."""

import re
import struct
import subprocess
import sys

import pytest
import screenshots
from browser import HERE

from reviewsite.chromium import skip_without_chromium

SECTIONS = HERE / "sections"
PATTERNS = screenshots.PATTERNS


def demo_slide(pattern: str) -> str:
    """The text of the pattern's first demo slide, to the next slide title."""
    source = (SECTIONS / f"demo_{pattern}.rst").read_text()
    return re.split(r"\n\S[^\n]*\n-+\n", source)[0]


def console_lines(rst: str) -> list[str]:
    """The command lines ($ ...) of the console blocks of some reST."""
    blocks = re.findall(r"\.\. code-block:: console\n\n((?:   .*\n|\n)+)", rst)
    return [
        line.strip()[2:]
        for b in blocks
        for line in b.splitlines()
        if line.strip().startswith("$ ")
    ]


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_every_picture_is_made_and_is_a_real_screenshot():
    skip_without_chromium()  # without it, screenshots.py writes placeholders
    for name in screenshots.PICTURES:
        data = (screenshots.OUT / name).read_bytes()
        width, height = png_size(data)
        assert width == 1920 and 300 <= height <= 1200, (name, width, height)
        # A placeholder (one grey) compresses to a few kB; a page does not.
        assert len(data) > 40_000, f"{name} is a placeholder: run with Chromium"


def test_the_deck_shows_only_pictures_the_script_makes():
    shown = set()
    for path in SECTIONS.glob("*.rst"):
        shown |= set(re.findall(r"image:: /screenshots/(\S+)", path.read_text()))
    assert shown and shown <= set(screenshots.PICTURES)
    ignored = (HERE.parent / ".gitignore").read_text().splitlines()
    assert "slides/screenshots/" in ignored, "pictures are made, never committed"


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_demo_slide_says_where_to_stand_what_to_run_and_what_to_open(pattern):
    slide = demo_slide(pattern)
    assert "At the top of the repository" in slide
    assert f"make demo PATTERN={pattern}" in console_lines(slide)
    assert "http://127.0.0.1:8000/" in slide
    readme = (HERE.parent / "README.rst").read_text()
    assert "make demo PATTERN=" in readme and "http://127.0.0.1:8000/" in readme


@pytest.mark.parametrize("pattern", PATTERNS)
def test_manage_py_commands_on_the_slides_run_inside_the_pattern_folder(pattern):
    lines = console_lines((SECTIONS / f"demo_{pattern}.rst").read_text())
    for n, line in enumerate(lines):
        if "manage.py" in line or ".sqlite3" in line:
            assert f"cd {pattern}" in lines[:n], line


@pytest.mark.parametrize("pattern", PATTERNS)
def test_commands_on_the_demo_slides_are_plain_ascii(pattern):
    # Copied from the deck into a terminal: no smart quote, no en dash.
    for line in console_lines((SECTIONS / f"demo_{pattern}.rst").read_text()):
        assert line.isascii(), line


def test_the_management_commands_the_demo_slides_name_exist():
    for pattern in PATTERNS:
        lines = console_lines((SECTIONS / f"demo_{pattern}.rst").read_text())
        commands = {m for line in lines for m in re.findall(r"manage\.py (\w+)", line)}
        if not commands:
            continue
        listed = subprocess.run(
            [sys.executable, "manage.py", "help", "--commands"],
            cwd=HERE.parent / pattern,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert commands <= set(listed), (pattern, commands - set(listed))
