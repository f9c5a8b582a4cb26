"""Read-your-writes: which reads must see the primary, and which replica the rest use.

State lives in context variables, so that threads and asyncio tasks each see
their own: a request's pin never leaks into another request.
"""

import inspect
import logging
import math
import time
from contextlib import ContextDecorator, ExitStack
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.signing import BadSignature
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.template.response import TemplateResponse

from .replicas import PRIMARY, choose_replica, mark_down

COOKIE = "read_primary_until"
SALT = "replication.pin"
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
log = logging.getLogger(__name__)


@dataclass
class RequestReads:
    """Where one request reads from. Decided when the request starts, so that a
    page never switches databases halfway (a pin that expires mid-page)."""

    replica: str  # chosen once, so one page never mixes two replicas
    pinned_until: float = 0.0  # time.time(): the client's pin, from its cookie
    primary_only: bool = False  # a page that always reads the primary (the admin)
    wrote: bool = False  # the request wrote: its own later reads see the write
    failed: str = ""  # the alias of the last query a database could not answer
    retried: bool = False

    def __post_init__(self) -> None:
        self.pinned_at_start = time.time() < self.pinned_until

    @property
    def pinned(self) -> bool:
        return self.primary_only or self.pinned_at_start or self.wrote


_request: ContextVar[RequestReads | None] = ContextVar("request_reads", default=None)
_use_primary: ContextVar[bool] = ContextVar("use_primary", default=False)


def read_from_primary() -> bool:
    """Must a read see the primary now?"""
    request = _request.get()
    return (
        _use_primary.get()
        # In a transaction, read what the transaction sees (select_for_update too).
        or connections[PRIMARY].in_atomic_block
        or (request is not None and request.pinned)
    )


def replica_for_read() -> str:
    """This request's replica; outside a request, any usable one."""
    request = _request.get()
    return request.replica if request is not None else choose_replica()


# The tokens of the blocks entered, per thread and task, so that one instance
# (a decorator, a module-level `fresh = use_primary()`) is safe in all of them.
_entered: ContextVar[tuple] = ContextVar("use_primary_entered", default=())


class use_primary(ContextDecorator):
    """Read from the primary inside this block, or this function (sync or async).

    Nests, and restores the state it found on exit, also after an exception.
    """

    def _recreate_cm(self) -> "use_primary":
        return type(self)()

    def __enter__(self) -> "use_primary":
        _entered.set((*_entered.get(), _use_primary.set(True)))
        return self

    def __exit__(self, *exc) -> None:
        *outer, token = _entered.get()
        _entered.set(tuple(outer))
        _use_primary.reset(token)

    def __call__(self, func):
        if not inspect.iscoroutinefunction(func):
            return super().__call__(func)

        @wraps(func)
        async def inner(*args, **kwargs):
            with self._recreate_cm():
                return await func(*args, **kwargs)

        return inner


class QueryWatch:
    """Execute wrapper: notes writes on the primary and the alias of a failure."""

    def __init__(self, request: RequestReads) -> None:
        self.request = request

    def __call__(self, execute, sql, params, many, context):
        alias = context["connection"].alias
        if alias == PRIMARY and sql.lstrip()[:7].upper().startswith(WRITES):
            # From the attempt on: a write whose answer was lost may have been
            # committed, so the request is never run again.
            self.request.wrote = True
        try:
            return execute(sql, params, many, context)
        except DatabaseError as error:
            if is_outage(error):
                self.request.failed = alias
            raise


class ReadYourWritesMiddleware:
    """Pin a client to the primary after it writes; survive a failing replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reads = RequestReads(
            replica=PRIMARY,
            pinned_until=pin(request),
            primary_only=request.path.startswith(tuple(settings.PRIMARY_ONLY_PATHS)),
        )
        if not reads.pinned:  # a pinned page needs no replica, nor its health
            reads.replica = choose_replica()
        token = _request.set(reads)
        try:
            with ExitStack() as stack:
                for connection in connections.all(initialized_only=False):
                    stack.enter_context(connection.execute_wrapper(QueryWatch(reads)))
                response = self.get_response(request)
        finally:
            _request.reset(token)
        if reads.wrote:
            window = settings.REPLICATION_PIN_SECONDS
            response.set_signed_cookie(
                COOKIE,
                str(time.time() + window),
                salt=SALT,
                max_age=window,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    def process_exception(self, request, exception):
        """A read that failed is tried once more elsewhere; a failed write is a 503."""
        reads = _request.get()
        if reads is None or not is_outage(exception):
            return None  # a wrong query (IntegrityError...) is the view's to handle
        failed, reads.failed = reads.failed or failing_database(reads), ""
        if failed in settings.REPLICAS:
            mark_down(failed, exception)
        # Run the view again elsewhere, unless it wrote: a write is not repeated.
        if failed and not reads.retried and not reads.wrote:
            reads.retried = True
            reads.replica = choose_replica(exclude=frozenset({failed}))
            if failed == PRIMARY:  # read from a replica this time
                reads.pinned_at_start = reads.primary_only = False
            log.warning("Read on %s failed; retrying on %s", failed, reads.replica)
            return self.get_response(request)
        if failed == PRIMARY:
            log.error("The primary is unavailable: %s", exception)
            return primary_unavailable(request)
        return None


def is_outage(error: Exception) -> bool:
    """Does the error say a database cannot answer (unreachable, locked, not a
    database file), rather than that a query was wrong (IntegrityError...)?"""
    return isinstance(error, OperationalError | InterfaceError) or (
        type(error) is DatabaseError  # SQLite: "file is not a database"
    )


def primary_unavailable(request) -> TemplateResponse:
    """The 503 page, rendered here: Django renders no response that replaces an
    exception. It must not read the session (it lives on the primary): the page
    shows the visitor as logged out, with no messages."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.messages.storage.cookie import CookieStorage

    request.user, request._messages = AnonymousUser(), CookieStorage(request)
    response = TemplateResponse(
        request, "replication/primary_unavailable.html", status=503,
        headers={"Retry-After": "30"},
    )  # fmt: skip
    return response.render()


def failing_database(reads: RequestReads) -> str:
    """The database that cannot answer, when the error came before any query
    (connecting to a missing or corrupted file fails outside execute wrappers)."""
    for alias in (reads.replica, PRIMARY):
        try:
            connections[alias].introspection.table_names()
        except DatabaseError:
            return alias
    return ""


def pin(request) -> float:
    """Until when this client reads from the primary, from its signed cookie."""
    try:
        value = request.get_signed_cookie(
            COOKIE, salt=SALT, max_age=settings.REPLICATION_PIN_SECONDS
        )
        return float(value)
    except (KeyError, BadSignature, ValueError):
        return 0.0


def reads(request) -> dict:
    """Template context: where this page read from, and for how long it is pinned."""
    state = _request.get()
    if state is None:
        return {}
    return {
        "reads_from": PRIMARY if state.pinned else state.replica,
        "pinned_seconds": pinned_seconds(state),
    }


def pinned_seconds(state: RequestReads) -> int:
    """How much longer this client reads from the primary (rounded up: never 0
    while pinned)."""
    if state.wrote:
        return settings.REPLICATION_PIN_SECONDS  # the pin this response sets
    if state.pinned_at_start:
        return max(1, math.ceil(state.pinned_until - time.time()))
    return 0
