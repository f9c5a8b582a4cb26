"""Debian's Chromium, driven by Playwright: never a browser downloaded at test time.

Used by the slides' tests and by each project's browser tests.
"""

import os
import shutil
import unittest
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless on a machine with no network, perhaps as root: without the
# background-networking flags Chromium keeps trying to reach Google.
FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", "browser-failures"))


def chromium_missing() -> str:
    """Why the browser cannot run here, or an empty string if it can."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"No Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)."
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is missing: pip install -r requirements.txt."
    return ""


def skip_without_chromium() -> None:
    """Skip the calling test when Chromium cannot run here.

    With REQUIRE_CHROMIUM=1 (as .ci/run sets it) the test fails instead: CI
    installs Chromium, so a skip there would pass a browser suite that never ran.
    """
    if reason := chromium_missing():
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            raise RuntimeError(f"REQUIRE_CHROMIUM=1, but: {reason}")
        raise unittest.SkipTest(reason)


@contextmanager
def chromium() -> Iterator:
    """A Playwright Browser on Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    flags = FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page, name: str) -> Iterator:
    """Save a screenshot of ``page`` to ARTIFACTS/<name>.png if the block fails."""
    try:
        yield page
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"Screenshot of the failure: {path.resolve()}")
        raise
