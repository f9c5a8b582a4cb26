"""Read-your-writes: which reads must see the primary, and which replica the rest use.

State lives in context variables, so that threads and asyncio tasks each see
their own: a request's pin never leaks into another request.
"""

import inspect
import logging
import time
from contextlib import ContextDecorator, ExitStack
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.signing import BadSignature
from django.db import DatabaseError, connections
from django.template.response import TemplateResponse

from .replicas import PRIMARY, choose_replica, mark_down

COOKIE = "read_primary_until"
SALT = "replication.pin"
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
log = logging.getLogger(__name__)


@dataclass
class RequestReads:
    """Where one request reads from."""

    replica: str  # chosen once, so one page never mixes two replicas
    pinned_until: float = 0.0  # time.time(); before it, reads go to the primary
    primary_only: bool = False  # a page that always reads the primary (the admin)
    wrote: bool = False  # the request wrote to the primary
    failed: str = ""  # the alias of the last query that raised
    retried: bool = False

    @property
    def pinned(self) -> bool:
        return self.primary_only or time.time() < self.pinned_until


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


class use_primary(ContextDecorator):
    """Read from the primary inside this block, or this function (sync or async).

    Nests, and restores the state it found on exit, also after an exception.
    """

    def __init__(self) -> None:
        self._tokens = []

    def _recreate_cm(self) -> "use_primary":
        return type(self)()  # one instance per call: safe across threads

    def __enter__(self) -> "use_primary":
        self._tokens.append(_use_primary.set(True))
        return self

    def __exit__(self, *exc) -> None:
        _use_primary.reset(self._tokens.pop())

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
        try:
            result = execute(sql, params, many, context)
        except DatabaseError:
            self.request.failed = alias
            raise
        if alias == PRIMARY and sql.lstrip()[:7].upper().startswith(WRITES):
            self.request.wrote = True
        return result


class ReadYourWritesMiddleware:
    """Pin a client to the primary after it writes; survive a failing replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reads = RequestReads(
            replica=choose_replica(),
            pinned_until=pin(request),
            primary_only=request.path.startswith(tuple(settings.PRIMARY_ONLY_PATHS)),
        )
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
        if not isinstance(exception, DatabaseError) or reads is None:
            return None
        failed = reads.failed or failing_database(reads)
        if failed in settings.REPLICAS:
            mark_down(failed, exception)
        if request.method in SAFE_METHODS and not reads.retried and failed:
            reads.retried = True
            reads.replica = choose_replica(exclude=frozenset({failed}))
            # The primary may be what failed: read from a replica this time.
            reads.pinned_until, reads.primary_only = 0.0, False
            log.warning("Read on %s failed; retrying on %s", failed, reads.replica)
            return self.get_response(request)
        if failed == PRIMARY:
            log.error("The primary is unavailable: %s", exception)
            return TemplateResponse(
                request, "replication/primary_unavailable.html", status=503,
                headers={"Retry-After": "30"},
            )  # fmt: skip
        return None


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
        "pinned_seconds": max(0, round(state.pinned_until - time.time())),
    }
