"""Sphinx settings of the deck. `make slides` builds it; `make slides-pdf` prints it."""

import ast
import io
import re
import subprocess
import sys
import textwrap
import tokenize

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.directives import code
from sphinx_revealjs._ext.highlightings import RevealjsLiteralInclude

project = "Multi-database Patterns in Django"
author = "The contributors"
copyright = "2010, 2026, the contributors"

extensions = ["sphinx_revealjs", "sphinx.ext.graphviz"]
exclude_patterns = ["_build", "README.rst", "tests", "sections"]
root_doc = "index"
# Commands must copy exactly: no en dash for --database, no curly quotes.
smartquotes = False
# Slides get ids from their titles, so a README can link to #/the-router.

revealjs_use_section_ids = True
revealjs_style_theme = "white"
revealjs_static_path = ["_static"]
# deck.css holds the code theme too: every colour at 4.5:1 or more (tests).
revealjs_css_files = ["deck.css"]
revealjs_script_plugins = [
    {"name": "RevealNotes", "src": "revealjs/plugin/notes/notes.js"},
    {"name": "RevealHighlight", "src": "revealjs/plugin/highlight/highlight.js"},
]
revealjs_script_conf = {
    "controls": True,
    "progress": True,
    "hash": True,
    "center": False,
    "slideNumber": "c/t",
    # 16:9, laid out at 1920x1080 and scaled to the screen (tests/test_room.py).
    "width": 1920,
    "height": 1080,
    # One PDF page per slide, whatever its fragments or length.
    "pdfSeparateFragments": False,
    "pdfMaxPagesPerSlide": 1,
}
highlight_language = "python"

# Diagrams are drawn by Graphviz at build time, as SVG: no network needed.
graphviz_output_format = "svg"
graphviz_dot_args = [
    "-Gfontname=Helvetica",
    "-Nfontname=Helvetica",
    "-Efontname=Helvetica",
    "-Gfontsize=22",
    "-Nfontsize=22",
    "-Efontsize=20",
]


# A listing is at most this wide: 64 columns of 30 px (deck.css) read from the
# back of a room. The projects are formatted at 88, so the build re-wraps each
# Python listing with ruff at this width: the same code, on narrower lines.
COLUMNS = 64


def fit(text: str, width: int = COLUMNS) -> str:
    """``text`` (Python) dedented and formatted by ruff at ``width`` columns.

    A trailing comment on a line too wide goes above the line, and comments
    still too wide are re-wrapped. Text ruff cannot parse is only dedented.
    """
    # A formatter's directive is no part of the story (and would keep a line).
    text = re.sub(r"[ \t]*# fmt: (skip|off|on)\b.*", "", textwrap.dedent(text))
    text = comments_above(text, width)
    ruff = [sys.executable, "-m", "ruff", "format", "--isolated", "-"]
    ruff += ["--line-length", str(width), "--stdin-filename", "listing.py"]
    done = subprocess.run(ruff, input=text, capture_output=True, text=True)
    return rewrap_comments(done.stdout if done.returncode == 0 else text, width)


def comments_above(text: str, width: int) -> str:
    """Each trailing comment of a line wider than ``width`` put above it."""
    lines = text.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    for token in reversed(tokens):
        if token.type != tokenize.COMMENT:
            continue
        (row, col), line = token.start, lines[token.start[0] - 1]
        if not line[:col].strip():
            continue
        if len(line) > width:
            indent = line[: len(line) - len(line.lstrip())]
            lines[row - 1 : row] = [indent + token.string, line[:col].rstrip()]
    return "\n".join(lines) + "\n"


def rewrap_comments(text: str, width: int) -> str:
    """Runs of whole-line comments with a line wider than ``width``, re-wrapped."""
    out, run = [], []

    def flush():
        if run and max(map(len, run)) > width:
            indent = run[0][: len(run[0]) - len(run[0].lstrip())]
            words = " ".join(line.strip().lstrip("#").strip() for line in run)
            out.extend(
                f"{indent}# {w}" for w in textwrap.wrap(words, width - len(indent) - 2)
            )
        else:
            out.extend(run)
        run.clear()

    for line in text.splitlines():
        same = (
            run
            and line[: len(run[0]) - len(run[0].lstrip())]
            == run[0][: len(run[0]) - len(run[0].lstrip())]
        )
        if line.lstrip().startswith("#") and (not run or same):
            run.append(line)
            continue
        flush()
        if line.lstrip().startswith("#"):
            run.append(line)
        else:
            out.append(line)
    flush()
    return "\n".join(out) + "\n"


def docstring_lines(lines: list[str]) -> set[int]:
    """Indexes of the lines of each docstring in ``lines`` (Python source), and
    of the blank line after a class's docstring."""
    tree = ast.parse(textwrap.dedent("".join(lines)))
    found = set()
    for node in ast.walk(tree):
        kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        if not isinstance(node, kinds) or not node.body:
            continue
        first = node.body[0]
        value = first.value if isinstance(first, ast.Expr) else None
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            continue
        found.update(range(first.lineno - 1, first.end_lineno))
        after = first.end_lineno
        if isinstance(node, ast.ClassDef) and after < len(lines):
            found.update({after} if not lines[after].strip() else set())
    return found


class ListingReader(code.LiteralIncludeReader):
    """literalinclude's reader, which can leave docstrings out (:no-docstrings:)
    after :pyobject: and before :start-at: and :lines:, and fits Python to
    COLUMNS (unless :as-is:). The docstrings are the code's own notes; on a
    slide their story goes to the speaker notes."""

    def start_filter(self, lines, location=None):
        if "no-docstrings" in self.options:
            drop = docstring_lines(lines)
            lines = [line for i, line in enumerate(lines) if i not in drop]
        return super().start_filter(lines, location)

    def dedent_filter(self, lines, location=None):
        lines = super().dedent_filter(lines, location)
        if str(self.filename).endswith(".py") and "as-is" not in self.options:
            lines = fit("".join(lines)).splitlines(keepends=True)
        return lines


class Listing(RevealjsLiteralInclude):
    """literalinclude with :no-docstrings: and reveal.js's :data-line-numbers:
    ("1-4|6-9": step through the lines), also under a :caption: (where
    sphinx-revealjs sets it on the caption's container, and it is lost)."""

    option_spec = {
        **RevealjsLiteralInclude.option_spec,
        "no-docstrings": directives.flag,
    }

    def run(self):
        plain, code.LiteralIncludeReader = code.LiteralIncludeReader, ListingReader
        try:
            result = super().run()
        finally:
            code.LiteralIncludeReader = plain
        for block in result[0].findall(nodes.literal_block):
            for option in ("data-line-numbers", "data-ln-start-from"):
                if option in self.options:
                    block[option] = self.options[option]
        return result


def setup(app):
    app.add_directive("literalinclude", Listing, override=True)
    app.add_directive("revealjs-literalinclude", Listing, override=True)

    # sphinx.ext.graphviz adds its stylesheet to html_static_path only; the
    # revealjs builder copies revealjs_static_path, so pass it on.
    def share_static(app, config):
        config.revealjs_static_path.extend(config.html_static_path)

    app.connect("config-inited", share_static, priority=900)
