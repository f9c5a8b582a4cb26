"""The database activity panel: which database answered each query of a request.

Built on ``connection.execute_wrapper()`` (Django's documented hook for
instrumenting queries), installed on every alias for the length of one request.
Connections are per thread, so concurrent requests never see each other's
queries.
"""

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.template.loader import render_to_string

SQL_SHOWN = 300  # characters of each statement the panel shows


@dataclass
class Query:
    alias: str
    index: int  # position of the alias in settings.DATABASES: the panel's colour
    sql: str
    milliseconds: float
    error: str = ""


@dataclass
class AliasTotal:
    alias: str
    index: int
    count: int = 0
    milliseconds: float = 0.0


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
            alias = context["connection"].alias
            index = self.aliases.get(alias, 0)
            self.queries.append(Query(alias, index, sql[:SQL_SHOWN], elapsed, error))

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


class ActivityPanelMiddleware:
    """Append the activity panel to every HTML page, in demo mode only.

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
        if _is_html_page(response) and not _is_debug_page(response):
            self.append_panel(request, response, activity)
        return response

    def append_panel(self, request, response, activity: Activity) -> None:
        panel = render_to_string(
            "web/activity_panel.html",
            {"queries": activity.queries, "totals": activity.totals()},
            request=request,
        )
        content = response.content.decode(response.charset)
        head, body_end, tail = content.rpartition("</body>")
        response.content = (head + panel + body_end + tail).encode(response.charset)
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))


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
