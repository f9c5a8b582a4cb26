"""A shard that cannot answer now answers 503, on any page, never a 500.

``rebalance`` freezes a logical shard while it copies it (project/fence.py):
a form, the admin's change or delete view, a product deletion that takes its
reviews along. Each is refused and rolled back; the person is told to try
again in a moment, with Retry-After, rather than shown a server error. A
shard that is down, or gave up at its timeout, is named on the page.
"""

import logging
import traceback

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.template.response import TemplateResponse

from . import fence, shardmap, timeouts

log = logging.getLogger(__name__)


class ShardTroubleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A page read (GET, HEAD) gives up in time on every shard: timeouts.py.
        token = timeouts.reading_a_page.set(request.method in ("GET", "HEAD"))
        try:
            return self.get_response(request)
        finally:
            timeouts.reading_a_page.reset(token)

    def process_exception(self, request, exception):
        if isinstance(exception, shardmap.SettingsBehindTheMap):
            log.error("%s", exception)
            context = {"error": exception}
            return try_again(request, "sharding/restart.html", 30, context)
        if isinstance(exception, DatabaseError) and fence.moving(exception):
            return try_again(request, "sharding/moving.html", seconds=2)
        if unavailable(exception) and (alias := failing_shard(exception)):
            log.warning("%s is not answering: %s", alias, exception, exc_info=exception)
            context = {"alias": alias, "error": exception}
            return try_again(request, "sharding/unavailable.html", 5, context)
        return None


def try_again(request, template: str, seconds: int, context=None):
    response = TemplateResponse(request, template, context, status=503)
    response["Retry-After"] = str(seconds)
    return response.render()


# SQLite raises bugs as OperationalError too ("no such column"): only these
# say that the database could not be reached or did not answer in time.
SQLITE_UNAVAILABLE = ("database is locked", "disk i/o error", "unable to open")


def unavailable(error: Exception) -> bool:
    """Down or late, not wrong: worth trying again in a moment."""
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    cause = error.__cause__
    if cause is not None and type(cause).__module__.startswith("sqlite3"):
        return str(error).lower().startswith(SQLITE_UNAVAILABLE)
    return True


def failing_shard(error: Exception) -> str | None:
    """The shard whose connection raised ``error``: the innermost database
    connection (or cursor's) among the frames it came through."""
    found = None
    for frame, _ in traceback.walk_tb(error.__traceback__):
        owner = frame.f_locals.get("self")
        connection = getattr(owner, "db", owner)  # a CursorWrapper has .db
        if isinstance(connection, BaseDatabaseWrapper):
            found = connection.alias
    shards = [*settings.SHARDS, *settings.DRAINING_SHARDS]
    return found if found in shards else None
