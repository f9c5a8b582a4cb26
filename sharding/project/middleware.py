"""A shard that cannot answer now answers 503, on any page, never a 500.

``rebalance`` freezes a logical shard while it copies it (project/fence.py):
a form, the admin's change or delete view, a product deletion that takes its
reviews along. Each is refused and rolled back; the person is told to try
again in a moment, with Retry-After, rather than shown a server error. A
shard that is down, or gave up at its timeout, is named on the page.
"""

import traceback

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.template.response import TemplateResponse

from . import fence


class ShardTroubleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DatabaseError) and fence.moving(exception):
            return try_again(request, "sharding/moving.html", seconds=2)
        if isinstance(exception, OperationalError | InterfaceError) and (
            alias := failing_shard(exception)
        ):
            context = {"alias": alias, "error": exception}
            return try_again(request, "sharding/unavailable.html", 5, context)
        return None


def try_again(request, template: str, seconds: int, context=None):
    response = TemplateResponse(request, template, context, status=503)
    response["Retry-After"] = str(seconds)
    return response.render()


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
