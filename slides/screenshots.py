"""Pictures of the running demos for the deck, made again with every build.

python slides/screenshots.py [OUT_DIR]   (default: slides/screenshots/)

Each pattern's project (its manage.py and project/, not its databases) is
copied to a scratch folder, filled by its own ``setup_demo`` with a small data
set, and served by ``runserver`` on a free port: the four at once. Debian's
Chromium, driven by Playwright (reviewsite/chromium.py), then does what the
demo slides tell a person to do, and saves what they would see:

  functional-panel.png         the activity panel, opened after a review is written
  replication-panel.png        the same on replication: the INSERT on the primary
  replication-browsers.png     two browsers: the writer sees the review, the other not
  sharding-panel.png           the activity panel after a write: one shard
  sharding-shards.png          /shards/
  shadowing-panel.png          the activity panel after a write: default and snapshot
  shadowing-marks.png          the product list, each row marked local or snapshot
  shadowing-status.png         ``manage.py shadow_status`` after that write

The demo databases in the pattern folders are never touched. Without Chromium
each picture is a plain grey card and the script says why, so that the deck
still builds; with REQUIRE_CHROMIUM=1 (CI) the script fails instead.
"""

import base64
import html
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
sys.path.insert(0, str(TOP))  # reviewsite, when run without the package installed

from reviewsite.chromium import chromium, chromium_missing  # noqa: E402

OUT = HERE / "screenshots"
PATTERNS = ["functional", "replication", "sharding", "shadowing"]
# The smallest data that still shows each pattern: every shard gets reviews.
DEMO_DATA = ["--products", "16", "--users", "4", "--reviews", "48"]
# A 16:9 window of 1280x720 CSS pixels, drawn at 1.5x: 1920x1080 PNGs. The
# panel's pictures are of the panel alone: the bar and its list, 1920 wide.
VIEWPORT = {"width": 1280, "height": 720}
SCALE = 1.5
# Each of replication's two browsers: the top of the page, side by side.
NARROW = {"width": 800, "height": 560}
REVIEW = "Tried it at the talk: boils fast, quietly."
PICTURES = [
    "functional-panel.png",
    "replication-panel.png",
    "replication-browsers.png",
    "sharding-panel.png",
    "sharding-shards.png",
    "shadowing-panel.png",
    "shadowing-marks.png",
    "shadowing-status.png",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_environment() -> dict[str, str]:
    """This environment, on the demo's own SQLite files and settings: a
    DATABASE_URL_* or SHARD_DATABASES of the caller's must not reach them."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL_", "DJANGO_", "SHARD_DATABASES"))
        and key != "DRAIN_SHARD_DATABASES"
    }
    return env | {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(TOP)}


class Demo:
    """One pattern's project in a scratch folder, set up and served."""

    def __init__(self, pattern: str, scratch: Path):
        self.pattern = pattern
        self.folder = scratch / pattern
        self.folder.mkdir()
        for part in ["manage.py", "project"]:
            source = TOP / pattern / part
            if source.is_dir():
                shutil.copytree(source, self.folder / part)
            else:
                shutil.copy(source, self.folder / part)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = demo_environment()
        self.log = (scratch / f"{pattern}.log").open("w")

    def manage(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.folder,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output_of(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def wait_until_served(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.pattern}: no page after {timeout} s; "
                        f"see {self.log.name}"
                    ) from None
                time.sleep(0.1)


@contextmanager
def running_demos(scratch: Path) -> Iterator[dict[str, Demo]]:
    """Every pattern set up (in parallel) and served, stopped on the way out."""
    demos = {pattern: Demo(pattern, scratch) for pattern in PATTERNS}
    setups = {
        name: demo.manage("setup_demo", *DEMO_DATA, "--addr", f"127.0.0.1:{demo.port}")
        for name, demo in demos.items()
    }
    for name, setup in setups.items():
        if setup.wait() != 0:
            raise RuntimeError(f"{name}: setup_demo failed; see {demos[name].log.name}")
    servers = [
        demo.manage("runserver", "--noreload", f"127.0.0.1:{demo.port}")
        for demo in demos.values()
    ]
    try:
        for demo in demos.values():
            demo.wait_until_served()
        yield demos
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        for demo in demos.values():
            demo.log.close()


def new_page(browser):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=SCALE)
    page = context.new_page()
    page.set_default_timeout(45_000)  # a busy CI machine
    return page


def write_review(page, demo: Demo, product: int = 0) -> str:
    """Write a review of the product list's ``product``-th product, as a
    visitor does; return the product page's URL."""
    page.goto(demo.url + "/")
    page.locator("table.products a[href^='/products/']").nth(product).click()
    page.wait_for_load_state()
    url = page.url
    page.fill("textarea[name=text]", REVIEW)
    page.click("text=Publish review")
    page.get_by_text("your review is saved").wait_for()
    return url


def open_panel(page) -> None:
    """Open the activity bar at the bottom: the list of the queries."""
    page.locator("summary.activity-bar").click()
    page.locator(".activity-list").wait_for()


def panel_after_a_write(browser, demo: Demo, out: Path, product: int = 0):
    page = new_page(browser)
    url = write_review(page, demo, product)
    open_panel(page)
    page.locator("section.activity").screenshot(
        path=str(out / f"{demo.pattern}-panel.png")
    )
    return page, url


def side_by_side(browser, out: Path, left: tuple, right: tuple) -> None:
    """Two browsers' screenshots in one picture, each under its caption."""
    cells = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>"
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        "</figure>"
        for caption, png in [left, right]
    )
    context = browser.new_context(viewport={"width": 1920, "height": 760})
    page = context.new_page()
    page.set_content(
        "<style>body{margin:0;display:flex;gap:16px;padding:0 8px;"
        "background:#fff;font:36px DejaVu Sans,sans-serif}"
        "figure{margin:0;flex:1}figcaption{margin:8px 0}"
        "img{width:100%;outline:3px solid #444}</style>" + cells
    )
    page.locator("body").screenshot(path=str(out))
    context.close()


def console(browser, out: Path, command: str, output: str) -> None:
    """A terminal's text drawn as a picture: the command, then its output."""
    page = new_page(browser)
    page.set_content(
        "<style>body{margin:0;background:#1e1e1e}"
        "pre{margin:0;padding:24px;color:#f0f0f0;white-space:pre-wrap;"
        "font:20px/1.4 DejaVu Sans Mono,monospace}b{color:#8fd16a}</style>"
        f"<pre><b>$ {html.escape(command)}</b>\n{html.escape(output)}</pre>"
    )
    page.locator("pre").screenshot(path=str(out))
    page.context.close()


def functional(browser, demo: Demo, out: Path) -> None:
    panel_after_a_write(browser, demo, out)


def replication(browser, demo: Demo, out: Path) -> None:
    written, _ = panel_after_a_write(browser, demo, out)
    # The writer goes on in a narrower window, with the same cookies; the
    # other browser has none. No `replicate --follow` runs here: the replicas
    # keep setup_demo's copy, as in the demo before the follower's next round.
    state = written.context.storage_state()
    pictures = []
    for cookies in [state, None]:
        context = browser.new_context(
            viewport=NARROW, device_scale_factor=1.2, storage_state=cookies
        )
        page = context.new_page()
        page.goto(demo.url + "/reviews/")
        pictures.append(page.screenshot())
    left = ("Writer: reads come from the primary", pictures[0])
    right = ("Another browser: reads a replica", pictures[1])
    side_by_side(browser, out / "replication-browsers.png", left, right)


def sharding(browser, demo: Demo, out: Path) -> None:
    panel_after_a_write(browser, demo, out)
    page = new_page(browser)
    page.goto(demo.url + "/shards/")
    page.screenshot(path=str(out / "sharding-shards.png"))


def shadowing(browser, demo: Demo, out: Path) -> None:
    page = new_page(browser)
    page.goto(demo.url + "/")
    page.locator("table.products .source-local").first.wait_for()
    page.screenshot(path=str(out / "shadowing-marks.png"))
    panel_after_a_write(browser, demo, out, product=2)
    status = demo.output_of("shadow_status")
    console(
        browser, out / "shadowing-status.png", "python manage.py shadow_status", status
    )


VISITS = {
    "functional": functional,
    "replication": replication,
    "sharding": sharding,
    "shadowing": shadowing,
}


def placeholders(out: Path) -> None:
    """Plain grey 1920x1080 PNGs in place of the pictures (no Pillow needed)."""
    row = b"\x00" + b"\xdd" * 1920 * 3  # filter byte, then grey pixels
    body = zlib.compress(row * 1080)
    header = struct.pack(">IIBBBBB", 1920, 1080, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in [(b"IHDR", header), (b"IDAT", body), (b"IEND", b"")]
    )
    for name in PICTURES:
        (out / name).write_bytes(png)


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if reason := chromium_missing():
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            sys.exit(f"REQUIRE_CHROMIUM=1, but: {reason}")
        placeholders(out)
        print(f"screenshots: {reason} Placeholders written to {out}.")
        return
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        demos = stack.enter_context(running_demos(scratch))
        browser = stack.enter_context(chromium())
        for name, demo in demos.items():
            VISITS[name](browser, demo, out)
    took = time.monotonic() - started
    print(f"screenshots: {len(PICTURES)} pictures in {out} ({took:.0f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
