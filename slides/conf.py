"""Sphinx settings of the deck. `make slides` builds it; `make slides-pdf` prints it."""

project = "Multi-database Patterns in Django"
author = "The contributors"
copyright = "2010, 2026, the contributors"

extensions = ["sphinx_revealjs", "sphinx.ext.graphviz"]
exclude_patterns = ["_build", "README.rst", "tests", "sections"]
root_doc = "index"
# Slides get ids from their titles, so a README can link to #/the-router.

revealjs_use_section_ids = True
revealjs_style_theme = "white"
revealjs_static_path = ["_static"]
revealjs_css_files = ["revealjs/plugin/highlight/monokai.css", "deck.css"]
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
    "width": 1280,
    "height": 800,
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


def setup(app):
    # sphinx.ext.graphviz adds its stylesheet to html_static_path only; the
    # revealjs builder copies revealjs_static_path, so pass it on.
    def share_static(app, config):
        config.revealjs_static_path.extend(config.html_static_path)

    app.connect("config-inited", share_static, priority=900)
