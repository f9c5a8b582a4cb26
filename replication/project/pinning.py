"""Read-your-writes by position: which reads must see the primary, and which
replica the rest use.

A replica has a position: how far it has replayed the primary (PostgreSQL: its
WAL replay position; SQLite: the generation ``replicate`` stamped on its copy).
After a client writes, the primary's position goes into a signed cookie, and a
replica serves that client only once it has reached that position. The client
reads the primary exactly as long as the replicas lack its write: not for a
fixed time, which is too short when a replica lags and too long when it does
not. (GitLab's database load balancer does the same with WAL positions.)

Outside requests (a command, a task, a thread) the code that wrote reads its
own writes the same way. State lives in context variables, so each thread and
each asyncio task has its own, and a request's never leaks into another's.
"""

import inspect
import logging
import re
from contextlib import ContextDecorator, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, wraps

from django.apps import apps
from django.conf import settings
from django.core.signing import BadSignature
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.template.response import TemplateResponse

from .replicas import PRIMARY, choose_replica, has_reached, mark_down, primary_position

COOKIE = "replication_position"
SALT = "replication.position"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
# The first words of statements that write nothing; anything else counts as a
# write (DDL, WITH ... INSERT, a statement that is not a string).
READS = {"SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK", "SHOW",
         "EXPLAIN", "SET"}  # fmt: skip
# A write whose position could not be read: no replica reaches it, so the
# client reads the primary until its cookie ends (REPLICATION_PIN_SECONDS).
UNKNOWN_POSITION = 2**63 - 1
log = logging.getLogger(__name__)


@dataclass
class Reads:
    """Where one request reads from; outside requests, one thread or task."""

    # A request's replica, chosen once so that a page never mixes two; None
    # outside requests: any replica that has caught up, read by read.
    replica: str | None = None
    # The primary's position this client must see. None: it wrote since the
    # position was last read; read it again before the next replica read.
    must_see: int | None = 0
    primary_only: bool = False  # an unsafe method or an admin page, to the end
    primary_down: bool = False  # read again from a replica: the primary failed
    wrote: bool = False  # a request that wrote is never run again
    pinned: bool = False  # it wrote rows that are read from replicas
    failed: str = ""  # the alias of the last query a database could not answer
    retried: bool = False


_reads: ContextVar[Reads | None] = ContextVar("reads", default=None)
_use_primary: ContextVar[bool] = ContextVar("use_primary", default=False)


def read_from_primary() -> bool:
    """Must a read see the primary, whatever the replicas hold?"""
    reads = _reads.get()
    return (
        _use_primary.get()
        or in_transaction(connections[PRIMARY])
        or (reads is not None and reads.primary_only)
    )


def in_transaction(connection) -> bool:
    """In atomic() or set_autocommit(False): read what the transaction sees
    (select_for_update too). Looks without connecting."""
    return connection.in_atomic_block or (
        connection.connection is not None and not connection.autocommit
    )


def replica_for_read() -> str:
    """A replica holding every write this client must see; else the primary."""
    reads = _reads.get()
    if reads is None:
        return choose_replica()
    position = must_see(reads)
    if reads.replica is None:
        return choose_replica(at_least=position)
    return reads.replica if has_reached(reads.replica, position) else PRIMARY


def primary_down() -> bool:
    """Is this request read again from a replica because the primary failed?"""
    reads = _reads.get()
    return reads is not None and reads.primary_down


def must_see(reads: Reads) -> int:
    """The position a replica must have reached for this client. After a
    write, read on the primary once: after its commit, since reads inside a
    transaction go to the primary and never get here."""
    if reads.must_see is None:
        reads.must_see = primary_position()
    return reads.must_see


def note_write(pin: bool = True) -> None:
    """A write reached the primary: this client reads it from now on, unless
    it wrote only tables that are read from the primary anyway (``pin``)."""
    reads = _reads.get()
    if reads is None:  # outside a request: this thread or task, from now on
        reads = Reads()
        _reads.set(reads)
    reads.wrote = True
    if pin:
        reads.pinned, reads.must_see = True, None


def is_read(sql) -> bool:
    words = sql.split(None, 1) if isinstance(sql, str) else []
    return bool(words) and words[0].upper() in READS


# The table an INSERT, UPDATE or DELETE as Django writes them changes.
WRITTEN_TABLE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"(\w+)"', re.I)


def pins(sql) -> bool:
    """Must the client read the primary until a replica holds this write? Not
    for a write to a table the router never reads from a replica for anyone
    with a session (sessions, auth): a login writes the session and
    last_login, and pinning its pages would only load the primary and show a
    "You just wrote" banner about nothing the visitor wrote. A statement that
    names no table we know pins."""
    match = WRITTEN_TABLE.match(sql) if isinstance(sql, str) else None
    return match is None or match[1] not in tables_read_from_the_primary()


@cache
def tables_read_from_the_primary() -> frozenset[str]:
    """The tables of the apps the router reads from the primary for a visitor
    with a session (m2m tables included)."""
    from .router import PrimaryReplicaRouter as router

    return frozenset(
        model._meta.db_table
        for label in router.primary_app_labels | router.security_app_labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    )


def watch(execute, sql, params, many, context):
    """On every connection: notes writes on the primary, and the database of a
    failure (the request is then read again elsewhere).

    Django's execute wrappers see every execute() and executemany(), not
    cursor.callproc() nor the driver's own connection: after a write made
    that way, call note_write()."""
    alias = context["connection"].alias
    if alias == PRIMARY and not is_read(sql):
        # From the attempt on: a write whose answer was lost may have been
        # committed, so the request is never run again.
        note_write(pin=pins(sql))
    try:
        return execute(sql, params, many, context)
    except DatabaseError as error:
        if is_outage(error) and (reads := _reads.get()) is not None:
            reads.failed = alias
        raise


def watch_connection(sender, connection, **kwargs) -> None:
    """connection_created: every connection, in every thread, is watched.
    First in the list: connection.execute_wrapper() blocks (the activity
    panel's) pop the last one when they end, which must remain theirs."""
    if watch not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, watch)


@contextmanager
def reading_as(reads: Reads | None):
    """Route this block's reads with ``reads`` (None: a context that wrote nothing)."""
    token = _reads.set(reads)
    try:
        yield
    finally:
        _reads.reset(token)


@contextmanager
def unpinned():
    """Writes in this block do not make their context read the primary:
    replication's own bookkeeping (``replicate``'s heartbeat). The context's
    earlier writes are placed first, so that the next copy counts for them."""
    if (reads := _reads.get()) is not None:
        must_see(reads)
    with reading_as(None):
        yield


# The tokens of the blocks entered, per thread and task, so that one instance
# (a decorator, a module-level `fresh = use_primary()`) is safe in all of them.
_entered: ContextVar[tuple] = ContextVar("use_primary_entered", default=())


class use_primary(ContextDecorator):
    """Read from the primary inside this block, or this function (sync or
    async, or the body of a generator).

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
        if inspect.isgeneratorfunction(func):
            return self._generator(func)
        if inspect.isasyncgenfunction(func):
            return self._async_generator(func)
        if not inspect.iscoroutinefunction(func):
            return super().__call__(func)

        @wraps(func)
        async def inner(*args, **kwargs):
            with self._recreate_cm():
                return await func(*args, **kwargs)

        return inner

    def _generator(self, func):
        """Each step of the generator in the block, and never the caller's
        code between two steps (calling a generator function runs nothing)."""

        @wraps(func)
        def inner(*args, **kwargs):
            steps = func(*args, **kwargs)
            resume, value = steps.send, None
            while True:
                with self._recreate_cm():
                    try:
                        item = resume(value)
                    except StopIteration as stop:
                        return stop.value
                try:
                    resume, value = steps.send, (yield item)
                except GeneratorExit:
                    with self._recreate_cm():
                        steps.close()
                    raise
                except BaseException as error:  # thrown in: passed to the body
                    resume, value = steps.throw, error

        return inner

    def _async_generator(self, func):
        """The same for an async generator (an async streamed response)."""

        @wraps(func)
        async def inner(*args, **kwargs):
            steps = func(*args, **kwargs)
            resume, value = steps.asend, None
            while True:
                with self._recreate_cm():
                    try:
                        item = await resume(value)
                    except StopAsyncIteration:
                        return
                try:
                    resume, value = steps.asend, (yield item)
                except GeneratorExit:
                    with self._recreate_cm():
                        await steps.aclose()
                    raise
                except BaseException as error:
                    resume, value = steps.athrow, error

        return inner


class ReadYourWritesMiddleware:
    """Fresh reads for requests that may write or must be fresh; the others
    from a replica that holds the client's last write. Survive a failing replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reads = Reads(
            must_see=position_from_cookie(request),
            # Reads that feed a write (a form checking that a product exists)
            # and the admin's (staff see their own edits) are never stale.
            primary_only=request.method not in SAFE_METHODS
            or request.path_info.startswith(tuple(settings.PRIMARY_ONLY_PATHS)),
        )
        reads.replica = (
            PRIMARY if reads.primary_only else choose_replica(at_least=reads.must_see)
        )
        request.replication_reads = reads
        with reading_as(reads):
            response = self.get_response(request)
            remember_position(response, reads)
        if response.streaming:  # its body is read after this returns
            response.streaming_content = with_reads(reads, response)
        return response

    def process_exception(self, request, exception):
        """A read that failed is tried once more elsewhere; a failed write is a 503."""
        reads = _reads.get()
        if reads is None or not is_outage(exception):
            return None  # a wrong query (IntegrityError...) is the view's to handle
        failed, reads.failed = reads.failed or failing_database(reads), ""
        if failed in settings.REPLICAS:
            mark_down(failed, exception)
        # Run the view again elsewhere, unless it wrote (a write is not
        # repeated). Without the primary only an anonymous read is run again:
        # a session read again could authenticate its user from a stale copy.
        may_retry = failed != PRIMARY or (
            request.method in SAFE_METHODS
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        )
        if failed and may_retry and not reads.retried and not reads.wrote:
            reads.retried = True
            if failed == PRIMARY:  # the replicas, as they are: nothing else answers
                reads.primary_only, reads.primary_down, reads.must_see = False, True, 0
            reads.replica = choose_replica(
                exclude=frozenset({failed}), at_least=must_see(reads)
            )
            log.warning("Read on %s failed; retrying on %s", failed, reads.replica)
            return self.get_response(request)
        if failed == PRIMARY:
            log.error("The primary is unavailable: %s", exception)
            return primary_unavailable(request)
        return None


def position_from_cookie(request) -> int:
    """The primary's position at this client's last write, from its signed
    cookie; 0 when it has none. A cookie older than REPLICATION_PIN_SECONDS
    is ignored: by then every usable replica holds the write (see checks.py)."""
    try:
        value = request.get_signed_cookie(
            COOKIE, salt=SALT, max_age=settings.REPLICATION_PIN_SECONDS
        )
        return max(0, int(value))
    except (KeyError, BadSignature, ValueError):
        return 0


def remember_position(response, reads: Reads) -> None:
    """After a write, the primary's position goes into the client's cookie.
    Only ever set, never deleted: a late answer to another tab's request must
    not remove a newer position (an old one costs nothing once reached)."""
    if not reads.pinned:
        return
    try:
        position = must_see(reads)
    except DatabaseError:  # the primary went away after the write
        position = UNKNOWN_POSITION
    response.set_signed_cookie(
        COOKIE, str(position), salt=SALT,
        max_age=settings.REPLICATION_PIN_SECONDS,
        httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
    )  # fmt: skip


def with_reads(reads: Reads, response):
    """A streamed body, each part made with the request's state."""
    if response.is_async:
        return _async_parts(reads, response.streaming_content)
    return _parts(reads, iter(response.streaming_content))


def _parts(reads: Reads, parts):
    while True:
        with reading_as(reads):
            try:
                part = next(parts)
            except StopIteration:
                return
        yield part


async def _async_parts(reads: Reads, parts):
    parts = aiter(parts)
    while True:
        with reading_as(reads):
            try:
                part = await anext(parts)
            except StopAsyncIteration:
                return
        yield part


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


def failing_database(reads: Reads) -> str:
    """The database that cannot answer, when the error came before any query
    (connecting to a missing or corrupted file fails outside execute wrappers)."""
    for alias in (reads.replica, PRIMARY):
        try:
            connections[alias].introspection.table_names()
        except DatabaseError:
            return alias
    return ""


def reads(request) -> dict:
    """Template context: where this request reads from, and whether that is
    because the replicas lack this client's last write. From the request's own
    state: a template rendered after the middleware (the activity panel) too."""
    state = getattr(request, "replication_reads", None)
    if state is None:
        return {}
    waiting = not state.primary_only and state.must_see != 0
    if state.primary_only or state.must_see is None:
        reads_from = PRIMARY
    else:
        reads_from = state.replica
        if not has_reached(reads_from, state.must_see):
            reads_from = PRIMARY
    return {
        "reads_from": reads_from,
        "waiting_for_replicas": waiting and reads_from == PRIMARY,
        "primary_down": state.primary_down,
        "pin_bound": settings.REPLICATION_PIN_SECONDS,
    }
