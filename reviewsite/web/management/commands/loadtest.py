"""``manage.py loadtest``: concurrent clients against a real gunicorn on loopback.

Starts gunicorn on this project, sends a bounded mix of page reads and review
writes from several clients at once, stops the server, then checks that every
review the site acknowledged is in a database. Fails (CommandError) on any 5xx,
any lost write, or "database is locked" in the server's log.
"""

import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from reviewsite.reviews.models import Review

READ_PAGES = ["/", "/reviews/", "/products/{product}/", "/reviews/?page=2"]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is the answer we want to see, not follow


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


class Client:
    """One visitor: its own cookies (session, CSRF), requests one at a time."""

    def __init__(self, base: str, tally: Tally, rng: random.Random) -> None:
        self.base, self.tally, self.rng = base, tally, rng
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urlencode(data).encode() if data is not None else None
        start = time.perf_counter()
        try:
            with self.opener.open(self.base + path, body, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        except OSError as error:  # refused, reset, timed out: no HTTP answer
            self.tally.errors[type(error).__name__] += 1
            return 0, ""
        self.tally.seconds.append(time.perf_counter() - start)
        self.tally.statuses[status] += 1
        return status, text

    def read(self, product: int) -> None:
        self.request(self.rng.choice(READ_PAGES).format(product=product))

    def write(self, product: int) -> None:
        status, page = self.request(f"/products/{product}/")
        token = TOKEN.search(page)
        if status != 200 or not token:
            return
        marker = f"loadtest {uuid.uuid4().hex}"
        form = {"csrfmiddlewaretoken": token[1], "rating": "4", "text": marker}
        status, _ = self.request(f"/products/{product}/review/", form)
        if status == 302:
            self.tally.acknowledged.append(marker)


class Command(BaseCommand):
    help = "Load-test this project through a real gunicorn server on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=8)
        parser.add_argument("--requests", type=int, default=2000)
        parser.add_argument("--writes", type=float, default=0.2, help="Share 0-1.")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, clients, requests, writes, seed, **options):
        if not (1 <= clients <= 64 and 1 <= requests <= 100_000 and 0 <= writes <= 1):
            raise CommandError("Use 1-64 --clients, 1-100000 --requests, --writes 0-1.")
        products = self.product_ids()
        with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
            base = self.start_server(clients, log)
            try:
                tally, seconds = self.run_clients(
                    base, clients, requests, writes, products, seed
                )
            finally:
                self.stop_server()
            log.seek(0)
            server_log = log.read()
        lost = self.lost_writes(tally.acknowledged)
        self.report(tally, seconds, clients, lost, server_log)

    def product_ids(self) -> list[int]:
        from reviewsite.products.models import Product

        ids = list(Product.objects.values_list("pk", flat=True)[:200])
        if not ids:
            raise CommandError("No products: run `python manage.py setup_demo` first.")
        return ids

    def start_server(self, clients: int, log) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "reviewsite.wsgi",
                "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", str(max(1, clients // 2)),
                "--worker-class", "gthread", "--timeout", "60",
            ],
            cwd=Path(settings.BASE_DIR),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                self.stdout.write(f"gunicorn is up on {base}")
                return base
            except OSError:
                if self.server.poll() is not None:
                    break
                time.sleep(0.2)  # polling a starting server, not a test's wait
        self.stop_server()
        raise CommandError("gunicorn did not start: see its log above.")

    def stop_server(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.server.kill()

    def run_clients(self, base, clients, requests, writes, products, seed):
        tally = Tally()
        rng = random.Random(seed)
        plan = [(rng.random() < writes, rng.choice(products)) for _ in range(requests)]

        def visitor(number: int) -> None:
            client = Client(base, tally, random.Random(seed * 1000 + number))
            for is_write, product in plan[number::clients]:
                if is_write:
                    client.write(product)
                else:
                    client.read(product)

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(visitor, range(clients)))
        return tally, time.perf_counter() - start

    def lost_writes(self, acknowledged: list[str]) -> list[str]:
        """Acknowledged reviews found in no database, by SQL on every alias."""
        found: set[str] = set()
        table = Review._meta.db_table
        for alias in connections:
            connection = connections[alias]
            if table not in connection.introspection.table_names():
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    f'SELECT "text" FROM "{table}" WHERE "text" LIKE %s',
                    ["loadtest %"],
                )
                found.update(row[0] for row in cursor.fetchall())
        return [marker for marker in acknowledged if marker not in found]

    def report(self, tally: Tally, seconds, clients, lost, server_log) -> None:
        sent = sum(tally.statuses.values()) + sum(tally.errors.values())
        errors_5xx = sum(n for status, n in tally.statuses.items() if status >= 500)
        locked = server_log.count("database is locked")
        latencies = sorted(tally.seconds) or [0.0]
        median = statistics.median(latencies) * 1000
        p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
        self.stdout.write(
            f"{sent} requests from {clients} clients in {seconds:.1f} s "
            f"({sent / seconds:.0f}/s); median {median:.0f} ms, p95 {p95:.0f} ms"
        )
        self.stdout.write(
            "Statuses: "
            + ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
        )
        self.stdout.write(
            f"Writes acknowledged: {len(tally.acknowledged)}, lost: {len(lost)}; "
            f"5xx: {errors_5xx}; connection errors: {sum(tally.errors.values())}; "
            f'"database is locked" in the server log: {locked}'
        )
        if errors_5xx or lost or locked or tally.errors:
            raise CommandError("The site failed under load: see the figures above.")
        self.stdout.write(
            self.style.SUCCESS("No 5xx, no lost write, no locked database.")
        )
