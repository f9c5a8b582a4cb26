"""The database activity panel: which database answered each query of a request.

Built on ``connection.execute_wrapper()`` (Django's documented hook for
instrumenting queries), installed on every alias for the length of one request.
Connections are per thread, so concurrent requests never see each other's
queries. Each statement is shown whole, with its parameters in place as the
database's own quoting writes them (``ops.last_executed_query()``, what
``connection.queries`` shows), HTML-escaped by the template like any text.

A write is usually answered by a redirect (post a review, log in, save in the
admin), and the browser shows only the page it is sent to. So the queries of a
redirect are carried over to the same client's next response, and shown there
first, marked with the method and path of the request that made them.

Where they wait: Django's cache framework, in a cache alias of their own
(``CACHES["activity"]``), under a random token that only that client holds, in
a short-lived cookie. Not in the session, the place Django offers for "the
next request of this client": the session lives in a database here, so
carrying queries would add a write, and a read, to the very pages the panel
observes (on the primary, in replication), and would give every anonymous
visitor who posts a review a session, which changes routing (replication reads
the primary for a visitor with a session, and retries only anonymous reads
when the primary fails). The cache holds no database connection: the panel
stays an observer. The trade-off is that the default cache, LocMemCache, is
per process: behind several server processes (gunicorn's workers) the next
page may land on another process and show only its own queries; never another
client's, and never a wrong one. Point ``CACHES["activity"]`` at a shared cache
(Redis, Memcached; not the database cache, which writes a database) to carry
them across processes. What is kept is bounded: a token is read once and then
deleted, an entry expires after CARRIED_SECONDS, the cache keeps at most its
MAX_ENTRIES, and each carried request at most CARRIED_QUERIES queries and
CARRIED_CHARACTERS characters of SQL (the panel says what it left out).
"""

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.template.loader import render_to_string

CACHE = "activity"  # the alias in settings.CACHES
COOKIE = "activity_after"
CARRIED_SECONDS = 60  # the browser follows a redirect at once
CARRIED_REQUESTS = 5  # a chain of redirects: its last ones
CARRIED_QUERIES = 200  # per carried request
CARRIED_CHARACTERS = 200_000  # of SQL, per carried request
SUMMARY_CHARACTERS = 140  # of a query's one-line summary; the whole is below it


@dataclass
class Query:
    alias: str
    index: int  # position of the alias in settings.DATABASES: the panel's colour
    sql: str  # the whole statement, its parameters in place
    milliseconds: float
    error: str = ""
    cut: int = 0  # characters not carried over with a redirect

    @cached_property
    def formatted(self) -> str:
        return format_sql(self.sql)

    @property
    def summary(self) -> str:
        """One line: the columns a SELECT reads left out, as the Django Debug
        Toolbar does, so that its table and condition show."""
        first, _, rest = self.formatted.partition("\n")
        if first.startswith("SELECT ") and len(first) > 40 and rest:
            first = "SELECT …"
        line = " ".join(f"{first} {rest}".split())
        if len(line) > SUMMARY_CHARACTERS:
            line = line[:SUMMARY_CHARACTERS] + " …"
        return line

    @property
    def write(self) -> tuple[str, str] | None:
        """(INSERT, its table) for a statement that writes rows; else None."""
        if match := WRITTEN_TABLE.match(self.sql):
            return match[1].split()[0].upper(), match[2]
        return None


@dataclass
class AliasTotal:
    alias: str
    index: int
    count: int = 0
    milliseconds: float = 0.0


@dataclass
class Write:
    statement: str  # "INSERT reviews_review"
    alias: str
    index: int
    count: int = 1


@dataclass
class Activity:
    """Every query run while ``record()`` is active, in order."""

    queries: list[Query] = field(default_factory=list)
    aliases: dict[str, int] = field(
        default_factory=lambda: {alias: i for i, alias in enumerate(connections)}
    )

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        error = ""
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            connection = context["connection"]
            # Read from the cursor now: it holds the statement it last ran.
            shown = executed_sql(connection, context["cursor"], sql, params, many)
            index = self.aliases.get(connection.alias, 0)
            self.queries.append(Query(connection.alias, index, shown, elapsed, error))

    @contextmanager
    def record(self) -> Iterator["Activity"]:
        with ExitStack() as stack:
            for connection in connections.all(initialized_only=False):
                stack.enter_context(connection.execute_wrapper(self))
            yield self

    def totals(self) -> list[AliasTotal]:
        """Count and time per alias, every configured alias listed."""
        totals = {alias: AliasTotal(alias, i) for alias, i in self.aliases.items()}
        for query in self.queries:
            total = totals.setdefault(query.alias, AliasTotal(query.alias, query.index))
            total.count += 1
            total.milliseconds += query.milliseconds
        return list(totals.values())


@dataclass
class Exchange:
    """One request, its response's status, and the queries it ran."""

    method: str
    path: str
    status: int
    activity: Activity
    left_out: int = 0  # queries not carried over with a redirect

    @property
    def queries(self) -> list[Query]:
        return self.activity.queries

    def writes(self) -> list[Write]:
        """Each kind of write, on each database, in the order first run."""
        writes: dict[tuple, Write] = {}
        for query in self.queries:
            if write := query.write:
                key = (*write, query.alias)
                if key in writes:
                    writes[key].count += 1
                else:
                    writes[key] = Write(" ".join(write), query.alias, query.index)
        return list(writes.values())

    def bounded(self) -> "Exchange":
        """A copy small enough to carry over: the first CARRIED_QUERIES
        queries, CARRIED_CHARACTERS characters of SQL in all."""
        budget, kept = CARRIED_CHARACTERS, []
        for query in self.queries[:CARRIED_QUERIES]:
            if budget <= 0:
                break
            sql = query.sql[:budget]
            budget -= len(sql)
            kept.append(replace(query, sql=sql, cut=len(query.sql) - len(sql)))
        activity = replace(self.activity, queries=kept)
        return replace(self, activity=activity, left_out=len(self.queries) - len(kept))


# The first words of the statements a write is named by, and the table written.
WRITTEN_TABLE = re.compile(
    r'\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+"(\w+)"', re.I
)
# What starts a new line of a statement: a clause keyword, outside quotes.
# (sqlparse's reindent, which Django ships with, takes about 3 ms a query and
# puts each item of an IN list on a line of its own; this page shows every
# query of every request.)
SQL_PARTS = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|(\()|(\))"""
    r"|\s+(?=(?:FROM|WHERE|GROUP BY|HAVING|ORDER BY|LIMIT|OFFSET|VALUES|SET"
    r"|RETURNING|ON CONFLICT|UNION|INNER JOIN|LEFT OUTER JOIN|LEFT JOIN)\b)"
)


def format_sql(sql: str) -> str:
    """Each clause on a line of its own, a subquery's indented: only
    whitespace changes, never a quoted value."""
    depth = 0

    def part(match: re.Match) -> str:
        nonlocal depth
        if match[2]:
            depth += 1
        elif match[3]:
            depth -= 1
        elif not match[1]:
            return "\n" + "    " * max(depth, 0)
        return match[0]

    return SQL_PARTS.sub(part, sql)


# Statements whose parameters are secrets a script on the page could read
# (the session cookie is HttpOnly): session keys and data, password hashes.
SECRETS = re.compile(
    r'"django_session"|"password"\s*=|INSERT\s+INTO\s+"auth_user"', re.I
)


def executed_sql(connection, cursor, sql, params, many: bool) -> str:
    """The statement with its parameters in place, quoted by the database's
    own rules: what Django records in ``connection.queries``
    (``CursorDebugWrapper``). ``executemany()`` is shown as Django shows it:
    the statement and how many times it ran."""
    if params and SECRETS.search(sql):
        return f"{sql}\n-- parameters not shown: session keys and password hashes"
    if many:
        try:
            times = len(params)
        except TypeError:  # an iterator, consumed by now
            times = "?"
        return f"{sql}\n-- run {times} times (executemany)"
    try:
        shown = connection.ops.last_executed_query(
            getattr(cursor, "cursor", cursor), sql, params
        )
    except Exception:  # a broken connection: show what we have
        shown = None
    if not isinstance(shown, str):
        return f"{sql}\n-- parameters: {params!r}" if params else sql
    return shown


class ActivityPanelMiddleware:
    """Append the activity panel to every HTML page, in demo mode only; carry
    the queries of a redirect over to the same client's next page.

    Put it first in MIDDLEWARE so that the session and authentication queries
    of the other middleware are recorded too.
    """

    def __init__(self, get_response):
        if not getattr(settings, "DEMO_MODE", False):
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        activity = Activity()
        with activity.record():
            response = self.get_response(request)
        this = Exchange(
            request.method, request.get_full_path(), response.status_code, activity
        )
        # Only a page with a panel, or a redirect on, takes what was carried:
        # not the browser's own requests between (a HEAD, /favicon.ico).
        if _is_redirect(response):
            carry(response, [*take_carried(request, response), this.bounded()])
        elif (
            request.method != "HEAD"
            and _is_html_page(response)
            and (not _is_debug_page(response))
        ):  # a HEAD's body is not read
            earlier = take_carried(request, response)
            self.append_panel(request, response, [*earlier, this])
        return response

    def append_panel(self, request, response, exchanges: list[Exchange]) -> None:
        this = exchanges[-1]
        panel = render_to_string(
            "web/activity_panel.html",
            {
                "exchanges": exchanges,
                "earlier": exchanges[:-1],
                "totals": this.activity.totals(),
                "carried_queries": CARRIED_QUERIES,
            },
            request=request,
        )
        content = response.content.decode(response.charset)
        head, body_end, tail = content.rpartition("</body>")
        response.content = (head + panel + body_end + tail).encode(response.charset)
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))


def carry(response, exchanges: list[Exchange]) -> None:
    """Keep ``exchanges`` for this client's next response, under a new token."""
    token = secrets.token_urlsafe(16)
    caches[CACHE].set(_key(token), exchanges[-CARRIED_REQUESTS:], CARRIED_SECONDS)
    response.set_cookie(
        COOKIE, token, max_age=CARRIED_SECONDS, httponly=True, samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )  # fmt: skip


def take_carried(request, response) -> list[Exchange]:
    """The exchanges kept for this client, once: its next response, whatever
    it is, removes them and the cookie."""
    token = request.COOKIES.get(COOKIE, "")
    if not token:
        return []
    response.delete_cookie(COOKIE, samesite="Lax")
    if not re.fullmatch(r"[A-Za-z0-9_-]{22}", token):  # not one we made
        return []
    store = caches[CACHE]
    exchanges = store.get(_key(token))
    # delete() says whether it removed it: two requests with one token
    # (two tabs) do not both show it.
    if exchanges is None or not store.delete(_key(token)):
        return []
    return exchanges


def _key(token: str) -> str:
    return f"activity-panel:{token}"


def _is_redirect(response) -> bool:
    return 300 <= response.status_code < 400 and response.has_header("Location")


def _is_html_page(response) -> bool:
    return (
        not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
        and b"</body>" in response.content
    )


def _is_debug_page(response) -> bool:
    """Django's own page for a 404 or an uncaught exception while DEBUG is on
    (django.views.debug): the URL patterns tried, or the traceback. It is left
    as Django made it, as a Django developer expects it: it has its own inline
    style and not the site's, so the panel would land in it unstyled. (The
    site's views raise Http404; none answers a 404 or a 500 page of its own.
    With DEBUG off, 404.html is a page of the site, panel included.)"""
    return settings.DEBUG and response.status_code in (404, 500)
